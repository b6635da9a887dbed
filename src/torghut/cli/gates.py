"""``torghut gates``: evaluate a candidate's gates and record the decision; show one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.contracts.gates import GateReport, Target
from torghut.fsutil import atomic_write_text
from torghut.gates.report import render_markdown
from torghut.lanes.reproduce import find_decision
from torghut.lanes.validation import (
    Decided,
    EvidenceFiles,
    evaluate_candidate,
    file_policy,
    gitops_policy,
)
from torghut.ledger import open_ledger
from torghut.workspace import Workspace

app = typer.Typer(help="Gates 0-4 and the hard stops: evaluate, record, show.",
                  no_args_is_help=True)

_FILE = {"exists": True, "dir_okay": False}


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    candidate: str = typer.Option(..., "--candidate", help="Candidate id (or unique prefix) "
                                  "from `torghut research run`.", show_default=False),
    target: Target = typer.Option(..., "--target", help="The state the decision would "
                                  "allow: paper (Gates 0+1), paper_verified (Gates 2+3), "
                                  "live (Gate 4); each with the hard stops.",
                                  show_default=False),
    policy: Path | None = typer.Option(None, "--policy", help="Gate policy YAML (default: "
                                       "apps/torghut/gate-policy.yaml on GitOps main).",
                                       **_FILE),
    paper: Path | None = typer.Option(None, "--paper", help="Gate 2 evidence (JSON).",
                                      **_FILE),
    tca: Path | None = typer.Option(None, "--tca", help="Gate 3 evidence (JSON).", **_FILE),
    live_review: Path | None = typer.Option(None, "--live-review",
                                            help="Gate 4 evidence (JSON).", **_FILE),
    out: Path | None = typer.Option(None, "--out", file_okay=False, help="Where to write "
                                    "report.json and report.md (default: <workspace>/"
                                    "artifacts/gates/<decision id[:12]>)."),
    actor: str = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                              help="The validation identity evaluating (signs the request)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Run the target's gates on recorded evidence; record the decision. Exit 0 allow,
    1 deny, 2 bad input."""
    ws = workspace(ctx)
    source = file_policy(policy) if policy is not None else gitops_policy(ws)
    with open_ledger(ws) as ledger:
        decided = evaluate_candidate(
            ws, ledger, candidate, target, source.policy, now=datetime.now(UTC), actor=actor,
            sign=True, evidence=EvidenceFiles(paper=paper, tca=tca, live_review=live_review))
    folder = write_report(decided.report, out or _default_out(ws, decided.decision_id))
    allowed = decided.report.decision.value == "allow"
    if json_out:
        emit_json({"decision_id": decided.decision_id, "decision": decided.report.decision,
                   "allowed": allowed, "candidate_id": decided.report.candidate_id,
                   "target": target, "reason_codes": list(decided.report.reason_codes),
                   "policy_origin": source.origin, "input_hashes": decided.input_hashes,
                   "report_hash": decided.report_hash, "report": decided.report,
                   "frozen": decided.frozen,
                   "report_dir": str(folder)})
    else:
        _print(decided, source.origin, folder)
    raise typer.Exit(0 if allowed else 1)


@app.command("show")
def show(ctx: typer.Context,
         decision: str = typer.Argument(..., help="Decision id (or unique prefix)."),
         json_out: bool = JSON_OPTION) -> None:
    """Print a recorded decision's gate report (Markdown, or JSON with --json)."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        with ledger.read() as session:
            row = find_decision(session, decision)
            digest = row.report_hash
            meta = {"decision_id": row.id, "allowed": row.allowed, "reasons": row.reasons,
                    "input_hashes": row.input_hashes, "decided_at": row.decided_at}
        report = (GateReport.model_validate_json(ledger.artifacts.get(digest))
                  if digest is not None else None)
    if json_out:
        emit_json({**meta, "report": report})
    elif report is not None:
        typer.echo(render_markdown(report), nl=False)
    else:
        typer.echo(f"decision {meta['decision_id']}: deny {meta['reasons']} (a reproduction "
                   f"that failed; it supersedes {meta['input_hashes'].get('reproduces')})")


def write_report(report: GateReport, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "report.json",
                      json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True)
                      + "\n")
    atomic_write_text(folder / "report.md", render_markdown(report))
    return folder


def _default_out(ws: Workspace, decision_id: str) -> Path:
    return ws.artifacts_dir / "gates" / decision_id[:12]


def _print(decided: Decided, origin: str, folder: Path) -> None:
    r = decided.report
    console.print(f"Decision {r.decision.value.upper()}: candidate {r.candidate_id[:12]}… → "
                  f"{r.target.value} (policy {r.policy_version} {r.policy_checksum[:12]}… "
                  f"from {origin})", markup=False, soft_wrap=True)
    for result in r.results:
        console.print(f"  {result.gate_id.value:<11} {result.status.value.upper()}",
                      markup=False)
        for reason in result.reasons:
            console.print(f"      {reason.code}: {reason.message}", markup=False,
                          soft_wrap=True)
        n = result.observations.get("n_trials_family")
        if n is not None:
            console.print(f"      deflated by N = {n} trials recorded for the family",
                          markup=False)
    console.print(f"Recorded decision {decided.decision_id}", markup=False, soft_wrap=True)
    if decided.frozen:
        console.print("The candidate is now FROZEN: too many consecutive denied decisions "
                      "(policy freeze_after_failures); propose a new candidate.", markup=False)
    console.print(f"Report: {folder / 'report.md'}", markup=False, soft_wrap=True)
