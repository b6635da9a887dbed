"""Reproduce a recorded promotion decision from the ledger alone.

Without ``rerun``, every input the decision cites is read back from the artifact store
(each read re-verifies its hash), the policy is the recorded one, the clock is the recorded
``decided_at``, and the gates run again: the report must hash to the recorded report hash,
bit for bit. With ``rerun``, the research run behind the candidate is executed again from
its dataset snapshot, plugin version, parameters, models and seed, and every metric of the
new bundle is compared with the recorded one within a declared tolerance (DESIGN.md
invariant 3: "bit for bit where the arithmetic allows and within a declared tolerance
otherwise").

A decision that does not reproduce is superseded by a recorded *deny* with a stable reason
code (``REPRODUCE_*``), so nothing downstream can rely on it any more.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

import torghut
from torghut.contracts.base import Contract
from torghut.contracts.gates import GateInputs, GatePolicy, GateReport, Target
from torghut.contracts.governance import SignedAction
from torghut.contracts.research import MetricsBundle
from torghut.errors import NotFoundError, TorghutError
from torghut.gates.engine import evaluate
from torghut.governance import guard
from torghut.governance.rights import Action
from torghut.lanes.validation import INPUT_MODELS, artifact_refs, decision_id, find_by_ref
from torghut.ledger import Ledger, audit
from torghut.ledger.artifacts import ArtifactCorrupted
from torghut.ledger.models import PromotionDecision
from torghut.research.run import RunOptions, run_research
from torghut.workspace import Workspace

MAX_REPORTED_MISMATCHES = 50


@dataclass(frozen=True)
class Tolerance:
    """``|a − b| <= abs + rel·max(|a|, |b|)`` for floats; everything else must be equal."""

    rel: float = 1e-9
    abs: float = 1e-12

    def close(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= self.abs + self.rel * max(abs(a), abs(b))


@dataclass(frozen=True)
class Mismatch:
    path: str
    recorded: Any
    reproduced: Any


@dataclass(frozen=True)
class Reproduction:
    decision_id: str
    reproduced: bool
    code: str | None
    message: str
    rerun: bool
    mismatches: tuple[Mismatch, ...] = ()
    deny_decision_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mismatches"] = [asdict(m) for m in self.mismatches[:MAX_REPORTED_MISMATCHES]]
        out["n_mismatches"] = len(self.mismatches)
        return out


class _NotReproduced(Exception):
    def __init__(self, code: str, message: str, mismatches: tuple[Mismatch, ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.mismatches = code, message, mismatches


# ----------------------------------------------------------------------------- lookups


def find_decision(session: Session, ref: str) -> PromotionDecision:
    return find_by_ref(session, PromotionDecision, ref, what="decision",
                       hint="`torghut audit log` lists gates.decision.record events")


def load_recorded(ledger: Ledger, row: PromotionDecision) -> tuple[GateInputs, GatePolicy]:
    """The decision's inputs and policy, read back (and hash-checked) from the store."""
    hashes = row.input_hashes
    values = {name: _artifact(ledger, name, hashes.get(name), model)
              for name, model in INPUT_MODELS.items()}
    policy = _artifact(ledger, "policy", hashes.get("policy"), GatePolicy)
    if policy is None:
        raise _NotReproduced("REPRODUCE_ARTIFACT_MISSING", "the decision cites no policy")
    values = {k: v for k, v in values.items() if v is not None}
    inputs = GateInputs(candidate_id=row.candidate_id, absent=hashes.get("absent") or {},
                        **values)
    return inputs, policy  # type: ignore[return-value]


def _artifact(ledger: Ledger, name: str, digest: Any, model: type[Contract]) -> Contract | None:
    if digest is None:
        return None
    try:
        return model.model_validate_json(ledger.artifacts.get(str(digest)))
    except ArtifactCorrupted:
        raise _NotReproduced("REPRODUCE_ARTIFACT_CORRUPTED",
                             f"the recorded {name} ({str(digest)[:12]}…) no longer matches "
                             "its hash") from None
    except NotFoundError:
        raise _NotReproduced("REPRODUCE_ARTIFACT_MISSING",
                             f"the recorded {name} ({str(digest)[:12]}…) is not in the "
                             "artifact store") from None
    except (ValidationError, TorghutError) as exc:
        raise _NotReproduced("REPRODUCE_ARTIFACT_UNREADABLE",
                             f"the recorded {name} does not parse: {exc}") from None


# ----------------------------------------------------------------------------- compare


def compare(recorded: Any, reproduced: Any, tol: Tolerance, path: str = "") -> list[Mismatch]:
    """Every leaf where two JSON documents differ (floats within ``tol`` are equal)."""
    if isinstance(recorded, dict) and isinstance(reproduced, dict):
        out: list[Mismatch] = []
        for key in sorted(recorded.keys() | reproduced.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in recorded or key not in reproduced:
                out.append(Mismatch(sub, recorded.get(key), reproduced.get(key)))
            else:
                out += compare(recorded[key], reproduced[key], tol, sub)
        return out
    if isinstance(recorded, list) and isinstance(reproduced, list):
        if len(recorded) != len(reproduced):
            return [Mismatch(f"{path}.length", len(recorded), len(reproduced))]
        return [m for i, (a, b) in enumerate(zip(recorded, reproduced, strict=True))
                for m in compare(a, b, tol, f"{path}[{i}]")]
    if isinstance(recorded, float) or isinstance(reproduced, float):
        same = _number(recorded) and _number(reproduced) and tol.close(recorded, reproduced)
    else:  # ints, strings, booleans, None: exact
        same = type(recorded) is type(reproduced) and recorded == reproduced
    return [] if same else [Mismatch(path, recorded, reproduced)]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _report_mismatches(recorded: GateReport, again: GateReport) -> tuple[Mismatch, ...]:
    return tuple(compare(recorded.model_dump(mode="json"), again.model_dump(mode="json"),
                         Tolerance(rel=0.0, abs=0.0)))


# ----------------------------------------------------------------------------- steps


def _reevaluate(ledger: Ledger, row: PromotionDecision) -> GateInputs:
    inputs, policy = load_recorded(ledger, row)
    again = evaluate(inputs, Target(row.target), policy, evaluated_at=row.decided_at)
    if row.report_hash is None:
        raise _NotReproduced("REPRODUCE_NO_REPORT", "the decision records no report (it is "
                             "itself a reproduction's deny)")
    if again.content_hash() == row.report_hash:
        return inputs
    recorded = _artifact(ledger, "report", row.report_hash, GateReport)
    diff = _report_mismatches(recorded, again) if isinstance(recorded, GateReport) else ()
    version = ("" if again.code_version == row.code_version else
               f" (recorded under code {row.code_version}, now {again.code_version})")
    raise _NotReproduced("REPRODUCE_REPORT_MISMATCH",
                         f"re-evaluating the recorded inputs gives another report{version}",
                         diff)


def _rerun(ws: Workspace, bundle: MetricsBundle | None, tol: Tolerance) -> None:
    if bundle is None:
        raise _NotReproduced("REPRODUCE_RERUN_IMPOSSIBLE",
                             "the decision cites no research bundle to re-run")
    s = bundle.statistics
    options = RunOptions(executor="local", workers=os.cpu_count() or 1, n_trials=s.n_trials,
                         bootstrap_reps=s.bootstrap_reps)
    try:
        again = run_research(ws, bundle.candidate, options).bundle
    except TorghutError as exc:
        raise _NotReproduced("REPRODUCE_RERUN_FAILED", f"the research run cannot be "
                             f"re-executed: {exc}") from None
    diff = compare(bundle.model_dump(mode="json", exclude={"run"}),
                   again.model_dump(mode="json", exclude={"run"}), tol)
    if diff:
        raise _NotReproduced("REPRODUCE_METRIC_MISMATCH",
                             f"{len(diff)} metric(s) differ beyond rel {tol.rel:g} / abs "
                             f"{tol.abs:g}", tuple(diff))


def reproduce(ws: Workspace, ledger: Ledger, ref: str, *, rerun: bool = False,
              tolerance: Tolerance = Tolerance(), actor: str = "torghut",
              now: datetime | None = None, sign: bool = False) -> Reproduction:
    """Reproduce decision ``ref`` (see the module docstring) and record the outcome.

    With ``sign``, ``actor`` must be an identity allowed ``validation.evaluate``; the signed
    request is recorded with the outcome (a refusal is audited and nothing else written).
    """
    with ledger.read() as session:
        row = find_decision(session, ref)
        tampered = audit.row_check(session, PromotionDecision, row.id)
    signed = guard.check(ws, ledger, actor, Action.VALIDATION_EVALUATE, f"decision:{row.id}",
                         {"rerun": rerun}) if sign else None
    try:
        if tampered is not None:
            raise _NotReproduced("REPRODUCE_LEDGER_ROW_MODIFIED",
                                 f"the decision row fails its audit check: {tampered}")
        inputs = _reevaluate(ledger, row)
        if rerun:
            _rerun(ws, inputs.bundle, tolerance)
    except _NotReproduced as failure:
        outcome = Reproduction(row.id, False, failure.code, failure.message, rerun,
                               failure.mismatches)
    else:
        what = "report and every re-run metric" if rerun else "report"
        outcome = Reproduction(row.id, True, None, f"the {what} reproduced", rerun)
    return _record(ledger, row, outcome, actor=actor, now=now or datetime.now(UTC),
                   signed=signed)


def _record(ledger: Ledger, row: PromotionDecision, outcome: Reproduction, *, actor: str,
            now: datetime, signed: SignedAction | None) -> Reproduction:
    """An audit event either way; a deny decision superseding ``row`` when not reproduced."""
    subject = f"candidate:{row.candidate_id}"
    payload = outcome.to_json()
    with ledger.write() as session:
        if signed is not None:
            guard.record(session, signed, outcome={"reproduced": outcome.reproduced,
                                                   "code": outcome.code})
        if outcome.reproduced:
            audit.append(session, actor, "ledger.reproduce.ok", subject, payload)
            return outcome
        hashes = {**row.input_hashes, "reproduces": row.id}
        deny_id = decision_id(row.candidate_id, row.target,
                              {**hashes, "code": outcome.code, "at": now.isoformat()}, None)
        deny = PromotionDecision(
            id=deny_id, candidate_id=row.candidate_id, target=row.target, allowed=False,
            reasons=[outcome.code], input_hashes=hashes, policy_version=row.policy_version,
            policy_checksum=row.policy_checksum, code_version=torghut.__version__,
            report_hash=None, decided_at=now)
        audit.record(session, deny, actor=actor, action="ledger.reproduce.deny",
                     subject=subject, artifact_refs=artifact_refs(row.input_hashes))
        audit.append(session, actor, "ledger.reproduce.failed", subject,
                     {**payload, "deny_decision_id": deny_id})
    return Reproduction(**{**asdict(outcome), "mismatches": outcome.mismatches,
                           "deny_decision_id": deny_id})


