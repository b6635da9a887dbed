"""Helpers shared by every command group: workspace lookup and output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from torghut.workspace import Workspace

# Piped output (CI logs, `| less`) has no terminal width; rich would wrap tables at 80.
_PIPE_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, width=_PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 400)


class State:
    """Per-invocation options from the root callback."""

    workspace_path: Path | None = None


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace this command acts on (see :meth:`Workspace.find`)."""
    state = ctx.find_root().obj
    explicit = state.workspace_path if isinstance(state, State) else None
    return Workspace.find(explicit)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    """Print machine-readable output on stdout (and nothing else)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=True, default=str))
    sys.stdout.write("\n")


JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
STRATEGY_OPTION = typer.Option(..., "--strategy", metavar="TYPE@VERSION", show_default=False)
DATASET_OPTION = typer.Option(..., "--dataset", help="Snapshot id, prefix or name.",
                              show_default=False)
