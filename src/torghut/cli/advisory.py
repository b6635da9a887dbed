"""``torghut advisory status | summarise | propose | review | evaluate | decide``.

Advice only (control AI-M1): these commands ask, record and let a human accept or reject;
none changes a candidate, a config or the runtime. Exit codes: 0 advice given (evaluate:
the run meets the policy; decide: recorded), 1 no advice / evaluation below the policy / a
refused decision, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from torghut.advisory import records
from torghut.advisory.advisor import Advice, NoAdvice, advise, path_state
from torghut.advisory.config import AdvisoryConfig, load_config
from torghut.advisory.evalset import EVAL_VERSION
from torghut.advisory.evalset import load as load_evalset
from torghut.advisory.evaluate import run_evaluation
from torghut.advisory.prompts import Task
from torghut.advisory.subjects import decision_request
from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.contracts.governance import IdentityKind
from torghut.errors import TorghutError
from torghut.governance import guard
from torghut.governance.identities import lookup
from torghut.governance.keys import load_key
from torghut.governance.refusal import Refusal
from torghut.governance.signing import sign, verify
from torghut.lanes.validation import find_by_ref
from torghut.ledger import Ledger, open_ledger
from torghut.ledger.models import Candidate, GateResultRow, PromotionDecision
from torghut.workspace import Workspace

app = typer.Typer(help="LLM advisory path (off by default): summarise evidence, propose "
                  "parameter deltas, review a rationale; measured and fenced.",
                  no_args_is_help=True)

AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The identity asking (recorded with the call).")
DECISION_ARG = typer.Argument(..., metavar="DECISION", help="Gate decision id or prefix.")


def _asker(ws: Workspace, name: str) -> str:
    return lookup(ws.gitops_dir, name).name  # unknown identity: exit 2


def _ask(ctx: typer.Context, task: Task, decision_ref: str, as_identity: str,
         json_out: bool, rationale: str | None = None) -> None:
    ws = workspace(ctx)
    actor = _asker(ws, as_identity)
    config = load_config(ws)
    policy = records.gate_policy(ws)
    with open_ledger(ws) as ledger:
        with ledger.read() as session:
            decision = find_by_ref(session, PromotionDecision, decision_ref,
                                   what="decision", hint="ids are printed by `gates evaluate`")
            candidate = session.get(Candidate, decision.candidate_id)
            results = list(session.scalars(select(GateResultRow).where(
                GateResultRow.decision_id == decision.id)))
        if candidate is None:
            raise TorghutError(f"decision {decision.id[:12]}… names no recorded candidate",
                               field="candidate_id")
        request = decision_request(task, decision, candidate, results, rationale=rationale)
        result = advise(ledger, config, policy, actor, request)
    _print_result(result, json_out)
    if isinstance(result, NoAdvice):
        raise typer.Exit(1)


def _print_result(result: Advice | NoAdvice, json_out: bool) -> None:
    if isinstance(result, Advice):
        body: dict[str, Any] = {"advice": True, "call_id": result.call_id,
                                "task": result.task.value, "outcome": result.outcome,
                                "answer": result.answer.model_dump(mode="json"),
                                "latency_ms": result.latency_ms}
    else:
        body = {"advice": False, "call_id": result.call_id, "task": result.task.value,
                "reason": result.reason, "detail": result.detail}
    if json_out:
        emit_json(body)
        return
    if isinstance(result, NoAdvice):
        console.print(f"no advice ({result.reason}): {result.detail}", markup=False)
        if result.call_id:
            console.print(f"recorded call {result.call_id}", markup=False)
        return
    console.print(f"advice {result.call_id} ({result.task.value}): {result.outcome}",
                  markup=False)
    for key, value in result.answer.model_dump(mode="json").items():
        console.print(f"  {key}: {value}", markup=False)
    console.print(f"accept or reject: torghut advisory decide {result.call_id} "
                  "--accept|--reject --as YOU", markup=False)


@app.command("summarise")
def summarise(ctx: typer.Context, decision: str = DECISION_ARG, as_identity: str = AS_OPTION,
              json_out: bool = JSON_OPTION) -> None:
    """Summarise a gate decision's evidence for a human reviewer."""
    _ask(ctx, Task.SUMMARISE_EVIDENCE, decision, as_identity, json_out)


@app.command("propose")
def propose(ctx: typer.Context, decision: str = DECISION_ARG, as_identity: str = AS_OPTION,
            json_out: bool = JSON_OPTION) -> None:
    """Propose parameter deltas for a decision's candidate (a human decides what to try)."""
    _ask(ctx, Task.PROPOSE_PARAM_DELTAS, decision, as_identity, json_out)


@app.command("review")
def review(ctx: typer.Context, decision: str = DECISION_ARG,
           rationale: str | None = typer.Option(None, "--rationale", help="The rationale."),
           rationale_file: Path | None = typer.Option(None, "--rationale-file",
                                                      dir_okay=False),
           as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Review a rationale for promoting against the decision's gate findings."""
    text = rationale
    if rationale_file is not None:
        try:
            text = rationale_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TorghutError(f"cannot read: {exc}", file=rationale_file) from None
    if not text or not text.strip():
        raise TorghutError("a review needs --rationale TEXT or --rationale-file FILE",
                           field="rationale")
    _ask(ctx, Task.REVIEW_RATIONALE, decision, as_identity, json_out, rationale=text)


@app.command("status")
def status(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Stage, endpoint, pinned prompts, and whether the path is on, forced off or open."""
    ws = workspace(ctx)
    config = load_config(ws)
    policy = records.gate_policy(ws)
    with open_ledger(ws) as ledger, ledger.read() as session:
        state = path_state(session, config, policy)
    body = {**state.to_json(), "config": _config_json(config)}
    if json_out:
        emit_json(body)
        return
    console.print(f"advisory stage {state.stage}: {state.status}", markup=False)
    for reason in state.reasons:
        console.print(f"  {reason}", markup=False)
    rel = state.reliability
    console.print(f"window: {rel.calls} calls; schema-valid {_pct(rel.schema_valid_rate)}, "
                  f"errors {_pct(rel.error_ratio)}, timeouts {_pct(rel.timeout_ratio)}, "
                  f"agreement {_pct(rel.agreement_rate)} of {rel.compared}, p95 "
                  f"{_num(rel.latency_p95_ms)} ms", markup=False)


def _config_json(config: AdvisoryConfig) -> dict[str, Any]:
    out = config.model_dump(mode="json")
    out["api_key_set"] = config.api_key() is not None  # never the key itself
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


@app.command("evaluate")
def evaluate(ctx: typer.Context, as_identity: str = AS_OPTION,
             version: str = typer.Option(EVAL_VERSION, "--version",
                                         help="Evaluation-set version."),
             limit: int | None = typer.Option(None, "--limit", min=1,
                                              help="Only the first N items."),
             json_out: bool = JSON_OPTION) -> None:
    """Run the versioned evaluation set against the endpoint; exit 1 below the policy."""
    ws = workspace(ctx)
    actor = _asker(ws, as_identity)
    config, policy, evalset = load_config(ws), records.gate_policy(ws), load_evalset(version)
    with open_ledger(ws) as ledger:
        report = run_evaluation(ledger, config, policy, actor, evalset, limit=limit)
    if json_out:
        emit_json(report.to_json())
    else:
        rel = report.reliability
        console.print(f"{report.eval_set} {report.eval_version} on {report.model}: "
                      f"{rel.calls} calls, schema-valid {_pct(rel.schema_valid_rate)}, "
                      f"agreement {_pct(rel.agreement_rate)}, errors "
                      f"{_pct(rel.error_ratio)}, p95 {_num(rel.latency_p95_ms)} ms",
                      markup=False)
        for reason in report.breaches:
            console.print(f"  {reason}", markup=False)
        console.print(f"report {report.report_sha256}", markup=False)
    if not report.passed:
        raise typer.Exit(1)


@app.command("decide")
def decide(ctx: typer.Context,
           call_id: str = typer.Argument(..., metavar="CALL_ID"),
           accept: bool = typer.Option(False, "--accept", help="Accept the advice."),
           reject: bool = typer.Option(False, "--reject", help="Reject (ignore) it."),
           note: str = typer.Option("", "--note", help="Why, for the record."),
           as_identity: str = typer.Option(..., "--as", metavar="IDENTITY",
                                           help="The human deciding (signs)."),
           json_out: bool = JSON_OPTION) -> None:
    """Record a human's signed accept/reject of one call's advice (AI-R2)."""
    if accept == reject:
        raise TorghutError("pass exactly one of --accept or --reject", field="decision")
    ws = workspace(ctx)
    verdict = "accept" if accept else "reject"
    with open_ledger(ws) as ledger:
        event = _decide(ws, ledger, call_id, verdict, note, as_identity)
    if json_out:
        emit_json({"call_id": call_id, "decision": verdict, "by": as_identity,
                   "seq": event.seq})
    else:
        console.print(f"recorded: {as_identity} {verdict}s advisory call {call_id}",
                      markup=False)


def _decide(ws: Workspace, ledger: Ledger, call_id: str, verdict: str, note: str,
            as_identity: str) -> Any:
    subject = records.subject_of(call_id)
    payload = {"call_id": call_id, "decision": verdict, "note": note}
    with ledger.read() as session:
        call = records.find_call(session, call_id)
        decided = records.decisions(session, call_id)
    identity = lookup(ws.gitops_dir, as_identity)
    refusal = None
    if identity.kind is not IdentityKind.HUMAN:
        refusal = Refusal("ADVISORY_DECIDER_NOT_HUMAN", f"{as_identity!r} is an agent; a "
                          "human accepts or rejects advice")
    elif call.payload.get("answer") is None:
        refusal = Refusal("ADVISORY_NO_ADVICE", f"call {call_id} gave no advice to decide on")
    elif decided:
        refusal = Refusal("ADVISORY_ALREADY_DECIDED", f"call {call_id} was already decided "
                          f"by {decided[0].actor}")
    if refusal is not None:
        guard.record_refusal(ledger, as_identity, records.DECIDE_ACTION, subject, refusal,
                             payload=payload)
        raise refusal
    signed = sign(load_key(ws.keys_dir, as_identity), identity.name, records.DECIDE_ACTION,
                  subject, payload)
    verify(signed, identity)  # the key in keys/ is the one main registers
    with ledger.write() as session:
        return guard.record(session, signed)
