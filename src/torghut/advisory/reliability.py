"""Reliability of the advisory path: pure arithmetic over recorded calls (control AI-S1).

Over the calls that reached the endpoint (a call refused before sending — forced off,
circuit open, prompt over budget — says nothing about the model):

* ``schema_valid_rate`` — outputs that parsed and passed the strict response schema;
* ``error_ratio`` — calls that ended in no advice, whatever the reason;
* ``timeout_ratio`` — calls that hit the deadline;
* ``agreement_rate`` — advice whose outcome equals the deterministic outcome recorded with
  the call (a review's verdict vs the gate decision it reviewed), over ``compared`` calls;
* ``latency_p95_ms`` — nearest-rank 95th percentile;
* pass-through / veto / adjust rates and mean confidence (plan "LLM advisory stages").

The same :func:`torghut.gates.hard_stops.check_llm` that blocks promotion decides whether
the path must force itself off (AI-R1), so the two can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from torghut.contracts.gates import GateId, GatePolicy, LlmReliability
from torghut.gates.checks import Findings
from torghut.gates.engine import make_context
from torghut.gates.hard_stops import check_llm

#: Reasons recorded for calls never sent (they do not measure the model).
NOT_SENT = frozenset({"forced_off", "circuit_open", "prompt_too_large"})
_VETO, _ADJUST, _PASS = frozenset({"deny", "fail"}), frozenset({"adjust"}), frozenset(
    {"allow", "pass", "pass_through"})


@dataclass(frozen=True)
class CallRecord:
    """What reliability needs from one recorded ``advisory.call`` event."""

    call_id: str
    task: str
    reason: str | None  # None: advice was given
    latency_ms: float | None
    schema_valid: bool
    outcome: str | None
    expected: str | None
    confidence: float | None
    ts: str | None = None  # the audit event's time (UTC, ``format_ts``)

    @property
    def sent(self) -> bool:
        return self.reason not in NOT_SENT

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], ts: str | None = None) -> CallRecord:
        return cls(ts=ts, call_id=str(payload["call_id"]), task=str(payload["task"]),
                   reason=payload.get("reason"), latency_ms=payload.get("latency_ms"),
                   schema_valid=bool(payload.get("schema_valid")),
                   outcome=payload.get("outcome"), expected=payload.get("expected"),
                   confidence=payload.get("confidence"))


@dataclass(frozen=True)
class Reliability:
    calls: int
    schema_valid_rate: float | None
    error_ratio: float | None
    timeout_ratio: float | None
    compared: int
    agreement_rate: float | None
    latency_p95_ms: float | None
    pass_through_rate: float | None
    veto_rate: float | None
    adjust_rate: float | None
    mean_confidence: float | None
    reasons: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank (an observed value; ``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(records: Sequence[CallRecord]) -> Reliability:
    sent = [r for r in records if r.sent]
    advised = [r for r in sent if r.reason is None]
    compared = [r for r in advised if r.expected is not None]
    reasons: dict[str, int] = {}
    for r in sent:
        if r.reason is not None:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    outcomes = [r.outcome for r in advised]
    confidences = [r.confidence for r in advised if r.confidence is not None]
    n = len(sent)
    return Reliability(
        calls=n,
        schema_valid_rate=_rate(sum(r.schema_valid for r in sent), n),
        error_ratio=_rate(n - len(advised), n),
        timeout_ratio=_rate(reasons.get("timeout", 0), n),
        compared=len(compared),
        agreement_rate=_rate(sum(r.outcome == r.expected for r in compared), len(compared)),
        latency_p95_ms=nearest_rank([r.latency_ms for r in sent if r.latency_ms is not None],
                                    0.95),
        pass_through_rate=_rate(sum(o in _PASS for o in outcomes), len(outcomes)),
        veto_rate=_rate(sum(o in _VETO for o in outcomes), len(outcomes)),
        adjust_rate=_rate(sum(o in _ADJUST for o in outcomes), len(outcomes)),
        mean_confidence=(sum(confidences) / len(confidences)) if confidences else None,
        reasons=dict(sorted(reasons.items())))


def to_contract(stage: int, rel: Reliability, window: int) -> LlmReliability:
    """The hard stop's input (1.1): this measurement over the newest ``window`` calls."""
    return LlmReliability(
        advisory_stage=stage, requests=rel.calls, error_ratio=rel.error_ratio,
        latency_p95_ms=rel.latency_p95_ms, window_calls=window,
        schema_valid_rate=rel.schema_valid_rate, timeout_ratio=rel.timeout_ratio,
        compared=rel.compared, agreement_rate=rel.agreement_rate)


def breaches(llm: LlmReliability, policy: GatePolicy, now: datetime) -> tuple[str, ...]:
    """The ``llm_reliability`` hard stop's reasons (``CODE: message``; empty: clear).

    Runs the hard stop's own check, so "forced off" and "promotion blocked" coincide."""
    # control: AI-R1
    out = Findings(GateId.HARD_STOPS)
    check_llm(llm, out, make_context(policy, now))
    return tuple(f"{r.code}: {r.message}" for r in out.reasons)
