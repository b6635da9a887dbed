"""``torghut demo [--workspace DIR] [--fast]``: the end-to-end dry run (see torghut.demo)."""

from __future__ import annotations

from pathlib import Path

import typer

from torghut.cli.common import State, console


def demo(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", file_okay=False,
        help="Where to build the demo workspace (default: the root --workspace, else "
        "./demo-workspace). Re-running on it resumes after the last completed step."),
    fast: bool = typer.Option(False, "--fast", help="Fewer bootstrap resamples and a smaller "
                              "noise sweep (what CI runs); the same steps and exit criteria."),
    ledger_url: str | None = typer.Option(
        None, "--ledger-url", help="Ledger of a new demo workspace (default: SQLite "
        "ledger.db in it; e.g. postgresql+psycopg://user@host/db)."),
) -> None:
    """Run every lane end to end on real components (exit 0: every criterion held)."""
    from torghut.demo import run_demo  # heavy imports only when the demo runs

    state = ctx.find_root().obj
    root = workspace or (state.workspace_path if isinstance(state, State) else None)
    ok = run_demo(root or Path("demo-workspace"), plan="fast" if fast else "full",
                  console=console, ledger_url=ledger_url)
    raise typer.Exit(0 if ok else 1)
