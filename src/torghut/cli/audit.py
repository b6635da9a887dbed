"""``torghut audit``: verify the hash chain, read the audit log, build and verify packs."""

from __future__ import annotations

from pathlib import Path

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.errors import TorghutError
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


# ----------------------------------------------------------------------------- audit packs

pack_app = typer.Typer(help="Self-verifying evidence packs for a candidate or an incident.")
app.add_typer(pack_app, name="pack")


@pack_app.callback(invoke_without_command=True)
def pack(
    ctx: typer.Context,
    candidate: str | None = typer.Option(None, "--candidate", help="Candidate id or prefix."),
    incident: str | None = typer.Option(None, "--incident", help="Incident id."),
    out: Path | None = typer.Option(None, "--out", help="New folder for the pack."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Write an audit pack (`--candidate ID | --incident ID`) to `--out DIR`.

    Every artifact, gate result, approval and signature, PR diff, runtime evidence and the
    control mapping, with checksums, a manifest and a report. `audit pack verify DIR`
    checks it offline.
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise TorghutError("required: the folder to write the pack to", field="--out")
    from torghut.ops.audit_pack import build_pack
    from torghut.ops.audit_verify import check_pack

    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        result = build_pack(ws, ledger, candidate=candidate, incident=incident, out=out)
    # The pack documents the ledger as it is: a tampered row or a missing artifact is packed
    # and shown here, not hidden (the pack is still written; exit 0).
    problems = check_pack(result.path).problems
    if json_out:
        emit_json({**result.to_json(), "problems": [str(p) for p in problems]})
        return
    typer.echo(f"audit pack for {result.kind} {result.subject}: {result.files} files, "
               f"{result.events} audit events, chain head {result.chain_head['hash'][:12]}…")
    for problem in problems:
        typer.echo(f"warning: {problem}")
    typer.echo(f"{result.path}  manifest sha256 {result.manifest_sha256}")


@pack_app.command("verify")
def pack_verify(
    directory: Path = typer.Argument(..., metavar="DIR", help="The audit pack folder."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Check a pack offline: exit 0 verified, 1 tampered (one line per problem)."""
    from torghut.ops.audit_verify import check_pack

    report = check_pack(directory)
    if json_out:
        emit_json(report.to_json())
    else:
        for problem in report.problems:
            typer.echo(str(problem))
        for note in report.notes:
            typer.echo(f"note: {note}")
        checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items()))
        typer.echo(f"audit pack {'VERIFIED' if report.ok else 'TAMPERED'}: {checked}")
    raise typer.Exit(0 if report.ok else 1)
