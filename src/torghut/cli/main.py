"""Entry point: ``torghut [--workspace DIR] COMMAND ...``."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from torghut import __version__
from torghut.cli.common import JSON_OPTION, State, emit_json, err_console
from torghut.errors import TorghutError
from torghut.workspace import init_workspace

#: Each subcommand and where it lives: a Typer sub-app or a command function. They are
#: imported only when invoked (or listed by ``--help``), so one command does not pay for
#: every lane's imports (numba, pandas, FastAPI...) on every start.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("torghut.cli.serve", "serve"),
    "signals": ("torghut.cli.strategy", "signals"),
    "backtest": ("torghut.cli.backtest", "backtest"),
    "demo": ("torghut.cli.demo", "demo"),
    "data": ("torghut.cli.data", "app"),
    "strategy": ("torghut.cli.strategy", "app"),
    "schemas": ("torghut.cli.schemas", "app"),
    "research": ("torghut.cli.research", "app"),
    "audit": ("torghut.cli.audit", "app"),
    "config": ("torghut.cli.config", "app"),
    "identity": ("torghut.cli.identity", "app"),
    "gates": ("torghut.cli.gates", "app"),
    "ledger": ("torghut.cli.ledger", "app"),
    "validate": ("torghut.cli.promote", "validate_app"),
    "promote": ("torghut.cli.promote", "app"),
    "ops": ("torghut.cli.ops", "app"),
    "incident": ("torghut.cli.incident", "app"),
    "paper": ("torghut.cli.paper", "app"),
    "agentrun": ("torghut.cli.agentrun", "app"),
    "advisory": ("torghut.cli.advisory", "app"),
}


@functools.cache
def load_subcommand(name: str) -> Any:
    """The click command for ``name``, built from its module on first use."""
    module, attribute = SUBCOMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    if isinstance(target, typer.Typer):  # mounted as add_typer would (a one-command
        holder.add_typer(target, name=name)  # sub-app stays a group: `schemas export`)
    else:
        holder.command(name)(target)
        holder.callback()(lambda: None)  # keeps the holder a group, like the root
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """The root group: built-in commands plus :data:`SUBCOMMANDS`, loaded on demand."""

    def list_commands(self, ctx: Any) -> list[str]:  # typer's vendored click.Context
        return [*super().list_commands(ctx), *(n for n in SUBCOMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in SUBCOMMANDS:
            return load_subcommand(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="torghut",
    cls=LazyGroup,
    help="Governed autonomous quant development: evidence → gates → approval → GitOps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"torghut {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="Workspace directory (else $TORGHUT_WORKSPACE, "
        "else the current directory or a parent).", file_okay=False),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    state = State()
    state.workspace_path = workspace
    ctx.obj = state


@app.command("init")
def init(
    directory: Path = typer.Argument(..., help="Where to create the workspace."),
    force: bool = typer.Option(False, "--force",
                               help="Add missing parts to an existing workspace; "
                               "never deletes or overwrites data."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a workspace: settings, ledger path, artifacts, datasets, keys, GitOps repo."""
    ws = init_workspace(directory, force=force)
    info = {"workspace": str(ws.root), "gitops": str(ws.gitops_dir),
            "datasets": str(ws.datasets_dir), "ledger": str(ws.ledger_path)}
    if json_out:
        emit_json(info)
        return
    typer.echo(f"Initialised workspace at {ws.root}")
    typer.echo(f"  GitOps repo: {ws.gitops_dir} (branch main)")
    typer.echo(f"  Next: torghut -w {ws.root} data sample")


def run() -> None:
    """Console-script entry: user errors become one line on stderr and exit code 2."""
    try:
        app()
    except TorghutError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    run()
