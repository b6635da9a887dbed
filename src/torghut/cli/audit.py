"""``torghut audit``: verify the hash chain and read the audit log."""

from __future__ import annotations

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.ledger import audit, open_ledger

app = typer.Typer(help="The hash-chained audit log: verify it, read it.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Recompute every link and artifact hash; exit 0 if intact, 1 at the first break."""
    with open_ledger(workspace(ctx)) as ledger, ledger.read() as session:
        report = audit.verify(session, ledger.artifacts)
    if json_out:
        emit_json(report.to_json())
    elif report.broken is None:
        typer.echo(f"audit chain intact: {report.events} events, head {report.head_hash}")
    else:
        b = report.broken
        typer.echo(f"audit chain BROKEN at seq {b.seq} ({b.table} row {b.row_id}): "
                   f"{b.code}: {b.message}")
    raise typer.Exit(0 if report.ok else 1)


@app.command("log")
def log(
    ctx: typer.Context,
    subject: str | None = typer.Option(None, "--subject", help="Only events about SUBJECT."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List audit events in chain order."""
    with open_ledger(workspace(ctx)) as ledger, ledger.read() as session:
        events = audit.log(session, subject)
    if json_out:
        emit_json([e.to_json() for e in events])
        return
    for e in events:
        ref = f" {e.ref_table}:{e.ref_id}" if e.ref_table else ""
        console.print(f"{e.seq:>6}  {e.ts}  {e.actor:<16} {e.action:<24} {e.subject}{ref}  "
                      f"{e.hash[:12]}", markup=False)
