"""``torghut ops drift-check | config-snapshot | rollback | health | runbook`` (the
operations lane)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from torghut.cli import kill_switch as kill_switch_cli
from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.fsutil import atomic_write_text
from torghut.lanes import promotion
from torghut.ledger import open_ledger
from torghut.ops.drift import desired_config, drift_check
from torghut.ops.health import DEFAULT_HEARTBEAT_AGE, Status, check_health
from torghut.ops.rollback import rollback as do_rollback
from torghut.ops.runbook import load_all, load_runbook, to_markdown

app = typer.Typer(help="Operations: health, runbooks, drift checks against the runtime, "
                  "rollback of main.",
                  no_args_is_help=True)
app.add_typer(kill_switch_cli.app, name="kill-switch")

AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The operations identity acting (signs with keys/IDENTITY.key).")


@app.command("drift-check")
def drift_check_cmd(
        ctx: typer.Context,
        runtime: str | None = typer.Option(None, "--runtime", metavar="URL",
                                           help="Runtime base URL (reads URL/api/config)."),
        snapshot: Path | None = typer.Option(None, "--snapshot", metavar="FILE",
                                             help="An EffectiveConfig JSON file.",
                                             dir_okay=False),
        as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Compare GitOps main with the runtime's effective config: exit 0 in sync, 1 drift."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        result = drift_check(ws, ledger, snapshot=snapshot, runtime_url=runtime,
                             as_identity=as_identity)
    if json_out:
        emit_json(result.to_json())
    elif result.in_sync:
        console.print(f"in sync: {result.source} has applied main's config "
                      f"{result.desired.config_sha256[:12]}", markup=False)
    else:
        console.print(f"DRIFT: {result.source} config {result.effective.config_sha256[:12]} "
                      f"≠ main {result.desired.config_sha256[:12]} "
                      f"({len(result.differences)} difference(s)):", markup=False)
        for d in result.differences:
            console.print(f"  {d.path}: main={d.desired!r} runtime={d.effective!r}",
                          markup=False)
    if not result.in_sync:
        raise typer.Exit(1)


@app.command("config-snapshot")
def config_snapshot(ctx: typer.Context,
                    out: Path = typer.Option(..., "--out", metavar="FILE", dir_okay=False,
                                             help="Where to write the EffectiveConfig JSON."),
                    ref: str = typer.Option("main", "--ref", help="GitOps ref to read.")) -> None:
    """Write the desired config of GitOps main as an EffectiveConfig JSON snapshot."""
    ws = workspace(ctx)
    config = desired_config(ws.gitops_dir, ref)
    atomic_write_text(out, config.model_dump_json(indent=2) + "\n")
    console.print(f"wrote {out} (config {config.config_sha256[:12]})", markup=False)


@app.command("rollback")
def rollback_cmd(
        ctx: typer.Context,
        to: str | None = typer.Option(None, "--to", metavar="REF",
                                      help="A commit in main's history to restore."),
        last_approved: bool = typer.Option(False, "--last-approved",
                                           help="Restore main as it was before its newest "
                                           "promotion merge."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Prove the rollback applies "
                                     "and validates; change nothing."),
        as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Restore apps/torghut on GitOps main to a known-good commit (one new commit)."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        if not dry_run:  # record merges/rollbacks a crash left unrecorded, before acting
            promotion.recover(ws, ledger)
        done = do_rollback(ws, ledger, to=to, last_approved=last_approved, dry_run=dry_run,
                           as_identity=as_identity)
    if json_out:
        emit_json(done.to_json())
        return
    plan = done.plan
    head = "dry run: would roll back" if done.commit is None else "rolled back"
    console.print(f"{head} apps/torghut on main {plan.base[:12]} → {plan.target[:12]}"
                  + (f" as commit {done.commit[:12]}" if done.commit else ""), markup=False)
    for path, text in sorted(plan.files.items()):
        console.print(f"  {'deleted' if text is None else 'restored'} {path}", markup=False)
    console.print(f"  strategies enabled: {', '.join(plan.enabled) or '-'}; "
                  f"disabled: {', '.join(plan.disabled) or '-'}", markup=False)
    if done.rolled_back:
        console.print(f"  candidates rolled back: {', '.join(done.rolled_back)}", markup=False)


_MARK = {Status.OK: "ok  ", Status.WARN: "WARN", Status.CRITICAL: "CRIT"}


@app.command("health")
def health_cmd(
        ctx: typer.Context,
        runtime: str | None = typer.Option(None, "--runtime", metavar="URL",
                                           help="Also probe a running `torghut serve` "
                                           "(URL/healthz and URL/api/status)."),
        max_heartbeat_age: float = typer.Option(
            DEFAULT_HEARTBEAT_AGE.total_seconds(), "--max-heartbeat-age", metavar="SECONDS",
            min=0, help="Warn when the newest runtime heartbeat in the ledger is older."),
        json_out: bool = JSON_OPTION) -> None:
    """Ledger, audit chain, runtime, data freshness, drift, kill switch, open incidents.
    Exit 0 all ok, 1 the worst finding is a warning, 3 something is critical."""
    report = check_health(workspace(ctx), runtime_url=runtime,
                          max_heartbeat_age=timedelta(seconds=max_heartbeat_age))
    if json_out:
        emit_json(report.to_json())
    else:
        for f in report.findings:
            console.print(f"{_MARK[f.status]} {f.name:<12} {f.detail}", markup=False)
        console.print(f"health: {report.worst.value}", markup=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command("runbook")
def runbook_cmd(name: str | None = typer.Argument(None, metavar="[NAME]",
                                                  help="gate0..gate4, incident-a..d, "
                                                  "kill-switch-drill, rollback-drill."),
                json_out: bool = JSON_OPTION) -> None:
    """List the runbooks, or print one as Markdown: trigger conditions, execution commands,
    expected artifacts, rollback commands, escalation path."""
    if name is not None:
        runbook = load_runbook(name)
        if json_out:
            emit_json(runbook)
        else:
            typer.echo(to_markdown(runbook), nl=False)
        return
    runbooks = load_all()
    if json_out:
        emit_json([{"name": r.name, "kind": r.kind, "title": r.title} for r in runbooks])
        return
    for r in runbooks:
        console.print(f"{r.name:<18} {r.kind:<9} {r.title}", markup=False)
