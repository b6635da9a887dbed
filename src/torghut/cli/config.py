"""``torghut config validate``: check GitOps manifests before they are committed or merged."""

from __future__ import annotations

from pathlib import Path

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, err_console
from torghut.gitops.validate import validate_paths

app = typer.Typer(help="GitOps manifests: validate schema, types and cross-references.",
                  no_args_is_help=True)


@app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(..., help="Manifest files or directories "
                                       "(e.g. gitops/apps/torghut).", show_default=False),
    json_out: bool = JSON_OPTION,
) -> None:
    """Exit 0 if every manifest is valid; else print every error (file:line: field: message)
    on stderr and exit 2."""
    result = validate_paths(paths)
    if json_out:
        emit_json(result.to_json())
    else:
        for error in result.errors:
            err_console.print(f"error: {error}", markup=False, soft_wrap=True)
        if result.ok:
            kinds = ", ".join(f"{p.name} ({k.value})" for p, k in result.files if k)
            console.print(f"OK: {kinds or 'no manifests found'}", markup=False,
                          soft_wrap=True)
    if not result.ok:
        raise typer.Exit(2)
