"""``torghut ledger``: reproduce a recorded decision from the ledger alone."""

from __future__ import annotations

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.lanes.reproduce import Tolerance, reproduce
from torghut.ledger import open_ledger

app = typer.Typer(help="The research ledger: reproduce decisions.", no_args_is_help=True)


@app.command("reproduce")
def reproduce_cmd(
    ctx: typer.Context,
    decision: str = typer.Argument(..., help="Decision id (or unique prefix)."),
    rerun: bool = typer.Option(False, "--rerun", help="Also re-execute the research run "
                               "from its snapshot, plugin, params, models and seed."),
    rel_tol: float = typer.Option(Tolerance.rel, "--rel-tol", min=0.0,
                                  help="Relative tolerance of re-run metrics."),
    abs_tol: float = typer.Option(Tolerance.abs, "--abs-tol", min=0.0,
                                  help="Absolute tolerance of re-run metrics."),
    actor: str = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                              help="The validation identity reproducing (signs the request)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Re-evaluate a decision from its recorded artifacts (identical report required).
    Exit 0 reproduced, 1 not (a deny superseding it is recorded), 2 bad input."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        outcome = reproduce(ws, ledger, decision, rerun=rerun, actor=actor, sign=True,
                            tolerance=Tolerance(rel=rel_tol, abs=abs_tol))
    if json_out:
        emit_json(outcome.to_json())
    elif outcome.reproduced:
        console.print(f"reproduced: decision {outcome.decision_id} — {outcome.message}",
                      markup=False, soft_wrap=True)
    else:
        console.print(f"NOT reproduced: decision {outcome.decision_id}: {outcome.code}: "
                      f"{outcome.message}", markup=False, soft_wrap=True)
        for m in outcome.mismatches[:20]:
            console.print(f"  {m.path}: recorded {m.recorded!r}, now {m.reproduced!r}",
                          markup=False, soft_wrap=True)
        console.print(f"Recorded deny {outcome.deny_decision_id}", markup=False,
                      soft_wrap=True)
    raise typer.Exit(0 if outcome.reproduced else 1)
