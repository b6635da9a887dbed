"""``torghut strategy``: placeholder until the helper lands it."""

from __future__ import annotations

import typer

app = typer.Typer(help="strategy commands.", no_args_is_help=True)
def signals() -> None:
    """Placeholder."""
