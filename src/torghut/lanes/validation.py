"""The validation lane: gather a candidate's evidence, run its gates, record the decision.

:func:`collect` reads every input the target's gates need from the part that measured it
— the research bundle from the artifact store, the data-quality report recomputed from the
dataset snapshot, the strategy family's trial count from the ledger, the hard-stop
conditions (:mod:`torghut.ops.conditions`) and, for Gates 2–4, evidence files the runtime
and ops write. Whatever cannot be read is ``None`` with the reason, and the gate that
needed it fails closed saying why.

:func:`record_decision` stores each input, the policy and the report in the artifact store
and writes one ``promotion_decisions`` row plus one ``gate_results`` row per gate, each
vouched for by an audit event, in one transaction. The decision row carries the hash of
every input, so :mod:`torghut.lanes.reproduce` can re-evaluate it from the ledger alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.contracts.base import Contract, canonical_json, sha256_text
from torghut.contracts.datasets import QualityReport
from torghut.contracts.gates import (
    Decision,
    GateId,
    GateInputs,
    GatePolicy,
    GateReport,
    HardStopInputs,
    LiveReviewEvidence,
    PaperEvidence,
    Target,
    TcaEvidence,
    TrialFamily,
)
from torghut.contracts.governance import SignedAction
from torghut.contracts.research import MetricsBundle
from torghut.data.quality import check_snapshot
from torghut.data.snapshots import load_snapshot
from torghut.errors import NotFoundError, TorghutError, from_validation_error
from torghut.faults import failpoint
from torghut.gates.engine import REQUIRED, evaluate
from torghut.gates.policy import POLICY_PATH, canonical_policy, parse_policy, read_policy
from torghut.gitops.repo import MAIN, show
from torghut.governance import guard
from torghut.governance.lifecycle import freeze_if_repeated
from torghut.governance.rights import Action
from torghut.lanes.research import trial_family
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Candidate, GateResultRow, PromotionDecision, ResearchRun
from torghut.ops.conditions import measure_hard_stops
from torghut.workspace import Workspace

#: Every input a decision can read, in report order, with its contract.
INPUT_MODELS: dict[str, type[Contract]] = {
    "quality": QualityReport, "bundle": MetricsBundle, "trial_family": TrialFamily,
    "paper": PaperEvidence, "tca": TcaEvidence, "live_review": LiveReviewEvidence,
    "hard_stops": HardStopInputs,
}
MIN_PREFIX = 6
Row = TypeVar("Row", Candidate, PromotionDecision)


@dataclass(frozen=True)
class EvidenceFiles:
    """Gate 2–4 evidence files (JSON, schemas under ``schemas/``) written by runtime/ops."""

    paper: Path | None = None
    tca: Path | None = None
    live_review: Path | None = None


@dataclass(frozen=True)
class PolicySource:
    policy: GatePolicy
    origin: str


@dataclass(frozen=True)
class Decided:
    """A recorded decision: its id, the report and the hashes of what it read."""

    decision_id: str
    report: GateReport
    input_hashes: dict[str, Any]
    report_hash: str
    frozen: bool = False  # this deny froze the candidate (policy freeze_after_failures)


# ----------------------------------------------------------------------------- policy


def gitops_policy(ws: Workspace) -> PolicySource:
    """The gate policy on GitOps ``main`` — the one every promotion is judged under."""
    origin = f"{ws.gitops_dir / POLICY_PATH}@{MAIN}"
    text = show(ws.gitops_dir, POLICY_PATH, MAIN)
    if text is None:
        raise NotFoundError(f"no gate policy on {MAIN}", file=origin)
    return PolicySource(parse_policy(text, file=origin), origin)


def file_policy(path: Path) -> PolicySource:
    return PolicySource(read_policy(path), str(path))


# ----------------------------------------------------------------------------- lookups


def find_by_ref(session: Session, model: type[Row], ref: str, *, what: str, hint: str) -> Row:
    """A row of ``model`` (string id) by id or unique id prefix (≥ 6 characters)."""
    row = session.get(model, ref)
    if row is not None:
        return row
    if len(ref) >= MIN_PREFIX:
        key = model.id  # type: ignore[attr-defined]  # every looked-up table has a str id
        rows = list(session.scalars(select(model).where(key.startswith(ref)).limit(2)))
        if len(rows) == 1:
            return rows[0]
        if rows:
            raise NotFoundError(f"prefix {ref!r} matches several {what}s; use more of the id",
                                field=what)
    raise NotFoundError(f"no {what} {ref!r} in the ledger ({hint})", field=what)


def find_candidate(session: Session, ref: str) -> Candidate:
    return find_by_ref(session, Candidate, ref, what="candidate",
                       hint="ids are printed by `torghut research run`")


# ----------------------------------------------------------------------------- collect


def collect(ws: Workspace, ledger: Ledger, session: Session, candidate: Candidate,
            target: Target, evidence: EvidenceFiles = EvidenceFiles()) -> GateInputs:
    """Everything the target's gates read, each from the part that measured it."""
    needs = REQUIRED[target]
    absent: dict[str, str] = {}
    bundle = _bundle(ledger, session, candidate, absent)
    values: dict[str, Any] = {"bundle": bundle}
    if GateId.DATA in needs:
        values["quality"] = _quality(ws, bundle, absent)
    if GateId.ROBUSTNESS in needs:
        values["trial_family"] = _family(session, candidate, absent)
    files = {GateId.PAPER: ("paper", evidence.paper), GateId.TCA: ("tca", evidence.tca),
             GateId.LIVE_REVIEW: ("live_review", evidence.live_review)}
    for gate, (name, path) in files.items():
        if gate in needs:
            values[name] = _evidence_file(name, path, absent)
    measured = measure_hard_stops(ws, ledger, session)
    return GateInputs(candidate_id=candidate.id, hard_stops=measured.inputs,
                      absent={**absent, **measured.absent}, **values)


def _bundle(ledger: Ledger, session: Session, candidate: Candidate,
            absent: dict[str, str]) -> MetricsBundle | None:
    run = session.get(ResearchRun, candidate.run_id)
    digest = run.bundle_hash if run is not None else None
    if digest is None:
        absent["bundle"] = f"research run {candidate.run_id[:12]}… recorded no bundle"
        return None
    try:
        bundle = MetricsBundle.model_validate_json(ledger.artifacts.get(digest))
    except (TorghutError, ValidationError) as exc:
        absent["bundle"] = f"bundle {digest[:12]}… unreadable: {_first_line(exc)}"
        return None
    if bundle.inputs.candidate_hash != candidate.spec_hash:
        absent["bundle"] = "the bundle is about another candidate spec than the ledger row"
        return None
    return bundle


def _quality(ws: Workspace, bundle: MetricsBundle | None,
             absent: dict[str, str]) -> QualityReport | None:
    """Recompute Gate 0's evidence from the snapshot the candidate was researched on."""
    if bundle is None:
        absent["quality"] = "without the research bundle the dataset is unknown"
        return None
    dataset = bundle.inputs.dataset_id
    try:
        snapshot = load_snapshot(ws, dataset)
        return check_snapshot(snapshot, universe=bundle.candidate.universe)
    except TorghutError as exc:
        absent["quality"] = f"dataset snapshot {dataset[:12]}…: {_first_line(exc)}"
        return None


def _family(session: Session, candidate: Candidate,
            absent: dict[str, str]) -> TrialFamily | None:
    try:
        return trial_family(session, candidate.strategy_type)
    except TorghutError as exc:
        absent["trial_family"] = exc.message
        return None


def _evidence_file(name: str, path: Path | None, absent: dict[str, str]) -> Contract | None:
    """A Gate 2–4 evidence file; a malformed one is bad input (exit 2), not absence."""
    if path is None:
        absent[name] = f"no --{name.replace('_', '-')} evidence file was given"
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TorghutError(f"cannot read: {exc.strerror or exc}", file=path) from None
    try:
        return INPUT_MODELS[name].model_validate_json(text)
    except ValidationError as exc:
        raise from_validation_error(exc, file=path) from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ----------------------------------------------------------------------------- record


def store_inputs(ledger: Ledger, inputs: GateInputs, policy: GatePolicy) -> dict[str, Any]:
    """Put every present input and the policy in the artifact store; their hashes."""
    hashes: dict[str, Any] = {}
    for name in INPUT_MODELS:
        value: Contract | None = getattr(inputs, name)
        hashes[name] = None if value is None else ledger.artifacts.put(_canonical(value))
    hashes["policy"] = ledger.artifacts.put(canonical_policy(policy))
    hashes["absent"] = dict(sorted(inputs.absent.items()))
    return hashes


def _canonical(value: Contract) -> bytes:
    """The bytes whose sha256 is :meth:`Contract.content_hash` (what gates cite)."""
    return value.canonical_json().encode("utf-8")


def decision_id(candidate_id: str, target: str, input_hashes: Mapping[str, Any],
                report_hash: str | None) -> str:
    return sha256_text(canonical_json({"candidate_id": candidate_id, "target": target,
                                       "inputs": dict(input_hashes), "report": report_hash}))


def artifact_refs(input_hashes: Mapping[str, Any], *extra: str | None) -> tuple[str, ...]:
    refs = [v for k, v in input_hashes.items() if k != "absent" and isinstance(v, str)]
    return tuple(dict.fromkeys([*refs, *(e for e in extra if e)]))


def record_decision(ledger: Ledger, inputs: GateInputs, report: GateReport,
                    policy: GatePolicy, *, actor: str,
                    signed: SignedAction | None = None) -> Decided:
    """Store the inputs and report, then write the decision and its gate results at once.

    Blobs go first: a crash before the transaction commits leaves only unreferenced,
    immutable blobs — never a decision row whose evidence is missing.
    """
    hashes = store_inputs(ledger, inputs, policy)
    report_hash = ledger.artifacts.put(_canonical(report))
    did = decision_id(inputs.candidate_id, report.target.value, hashes, report_hash)
    refs = artifact_refs(hashes, report_hash)
    subject = f"candidate:{inputs.candidate_id}"
    with ledger.write() as session:
        if session.get(PromotionDecision, did) is not None:
            raise TorghutError(f"decision {did[:12]}… is already recorded", field="decision")
        audit.record(session, _decision_row(did, report, hashes, report_hash), actor=actor,
                     action="gates.decision.record", subject=subject, artifact_refs=refs)
        failpoint("gates.decision.recording")
        for result in report.results:
            row = GateResultRow(
                candidate_id=inputs.candidate_id, decision_id=did,
                gate_id=result.gate_id.value, status=result.status.value,
                result=result.model_dump(mode="json"), result_hash=result.content_hash(),
                policy_checksum=result.policy_checksum, evaluated_at=result.evaluated_at)
            audit.record(session, row, actor=actor, action="gates.result.record",
                          subject=subject, artifact_refs=(report_hash,))
        frozen = (report.decision is Decision.DENY and freeze_if_repeated(
            session, inputs.candidate_id, policy.freeze_after_failures, actor=actor))
        if signed is not None:  # who asked, signed, in the same transaction
            guard.record(session, signed, evidence_refs=(report_hash,),
                         outcome={"decision_id": did, "decision": report.decision.value})
    return Decided(did, report, hashes, report_hash, frozen)


def _decision_row(did: str, report: GateReport, hashes: dict[str, Any],
                  report_hash: str) -> PromotionDecision:
    return PromotionDecision(
        id=did, candidate_id=report.candidate_id, target=report.target.value,
        allowed=report.decision.value == "allow", reasons=list(report.reason_codes),
        input_hashes=hashes, policy_version=report.policy_version,
        policy_checksum=report.policy_checksum, code_version=report.code_version,
        report_hash=report_hash, decided_at=report.evaluated_at)


# ----------------------------------------------------------------------------- the lane


def evaluate_candidate(ws: Workspace, ledger: Ledger, candidate_ref: str, target: Target,
                       policy: GatePolicy, *, now: datetime, actor: str,
                       evidence: EvidenceFiles = EvidenceFiles(), sign: bool = False
                       ) -> Decided:
    """Collect, evaluate and record one decision (the ``gates evaluate`` use case).

    With ``sign``, ``actor`` must be an identity allowed ``validation.evaluate``: the request
    is signed and checked before anything is read (a refusal is audited, nothing else
    written) and its signed action is recorded with the decision.
    """
    with ledger.read() as session:
        candidate = find_candidate(session, candidate_ref)
    signed = guard.check(ws, ledger, actor, Action.VALIDATION_EVALUATE,
                         f"candidate:{candidate.id}", {"target": target.value}) if sign else None
    with ledger.read() as session:
        inputs = collect(ws, ledger, session, candidate, target, evidence)
    report = evaluate(inputs, target, policy, evaluated_at=now)
    return record_decision(ledger, inputs, report, policy, actor=actor, signed=signed)
