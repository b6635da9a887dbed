"""The building blocks every gate evaluator shares: threshold checks that fail closed.

A check compares one observed value with one policy threshold and, on failure, adds a
:class:`GateReason` with a stable code derived from the gate and the quantity:
``GATE1_PBO_ABOVE_MAX``, ``GATE1_DSR_BELOW_MIN``, or ``GATE1_PBO_MISSING`` when the value
is absent or not finite — an undefined statistic never passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from torghut.contracts.base import Contract
from torghut.contracts.gates import (
    ArtifactRef,
    GateId,
    GatePolicy,
    GateReason,
    GateResult,
    GateStatus,
    Scalar,
)

PREFIX: dict[GateId, str] = {
    GateId.DATA: "GATE0", GateId.ROBUSTNESS: "GATE1", GateId.PAPER: "GATE2",
    GateId.TCA: "GATE3", GateId.LIVE_REVIEW: "GATE4", GateId.HARD_STOPS: "HARD_STOP",
}


@dataclass(frozen=True)
class Context:
    """What every evaluation is judged under; ``evaluated_at`` is passed in (pure code)."""

    policy: GatePolicy
    policy_checksum: str
    evaluated_at: datetime
    code_version: str


def _finite(value: float | int | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


@dataclass
class Findings:
    """Reasons, observations and evidence references collected for one gate."""

    gate: GateId
    reasons: list[GateReason] = field(default_factory=list)
    observations: dict[str, Scalar] = field(default_factory=dict)
    refs: list[ArtifactRef] = field(default_factory=list)

    def code(self, stem: str) -> str:
        return f"{PREFIX[self.gate]}_{stem.upper()}"

    def observe(self, name: str, value: Scalar) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # canonical JSON has no NaN; absent is what it means
        self.observations[name] = value

    def fail(self, stem: str, message: str, observed: Scalar = None,
             threshold: Scalar = None) -> None:
        self.reasons.append(GateReason(code=self.code(stem), message=message,
                                       observed=observed, threshold=threshold))

    def missing(self, name: str, what: str, why: str | None = None) -> None:
        because = f" ({why})" if why else ""
        self.fail(f"{name}_MISSING", f"{what} is missing{because}: the gate fails closed")

    def ref(self, kind: str, evidence: Contract) -> None:
        """Record the evidence's content hash; evidence that has none fails the gate."""
        try:
            digest = evidence.content_hash()
        except ValueError:  # NaN/inf: no canonical JSON, so nothing a decision can cite
            self.fail("EVIDENCE_UNREADABLE", f"the {kind} holds non-finite numbers")
            return
        self.refs.append(ArtifactRef(kind=kind, sha256=digest))

    def at_most(self, name: str, observed: float | int | None, threshold: float, *,
                what: str, strict: bool = False) -> None:
        """Require ``observed <= threshold`` (``<`` when strict)."""
        value = self._measured(name, observed, what)
        if value is not None and (value >= threshold if strict else value > threshold):
            bound = "below" if strict else "at most"
            self.fail(f"{name}_ABOVE_MAX", f"{what} {value:.6g} must be {bound} "
                      f"{threshold:.6g}", value, threshold)

    def at_least(self, name: str, observed: float | int | None, threshold: float, *,
                 what: str, strict: bool = False) -> None:
        """Require ``observed >= threshold`` (``>`` when strict)."""
        value = self._measured(name, observed, what)
        if value is not None and (value <= threshold if strict else value < threshold):
            bound = "above" if strict else "at least"
            self.fail(f"{name}_BELOW_MIN", f"{what} {value:.6g} must be {bound} "
                      f"{threshold:.6g}", value, threshold)

    def _measured(self, name: str, observed: float | int | None, what: str) -> float | None:
        value = _finite(observed)
        self.observe(name.lower(), observed if value is not None else None)
        if value is None:
            self.missing(name, what)
        return value

    def result(self, ctx: Context) -> GateResult:
        return GateResult(
            gate_id=self.gate, status=GateStatus.FAIL if self.reasons else GateStatus.PASS,
            reasons=tuple(self.reasons), observations=dict(self.observations),
            artifact_refs=tuple(self.refs), evaluated_at=ctx.evaluated_at,
            code_version=ctx.code_version, policy_version=ctx.policy.policy_version,
            policy_checksum=ctx.policy_checksum)


def evidence_missing(gate: GateId, what: str, ctx: Context, why: str | None = None
                     ) -> GateResult:
    """The result of a gate whose whole evidence is absent (``why``: what went wrong)."""
    out = Findings(gate)
    out.missing("EVIDENCE", what, why)
    return out.result(ctx)
