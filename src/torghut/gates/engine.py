"""Evaluate a candidate for a target state: run its required gates, decide allow or deny.

=================  ===========================================
target             required (in this order)
=================  ===========================================
``paper``          Gate 0, Gate 1, hard stops
``paper_verified`` Gate 2, Gate 3, hard stops
``live``           Gate 4, hard stops
=================  ===========================================

Pure: the clock (``evaluated_at``) and every piece of evidence are inputs, so the same
inputs and policy give the same report, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import torghut
from torghut.contracts.gates import (
    Decision,
    GateId,
    GateInputs,
    GatePolicy,
    GateReport,
    GateResult,
    Target,
)
from torghut.errors import TorghutError
from torghut.gates.checks import Context
from torghut.gates.gate0 import evaluate_gate0
from torghut.gates.gate1 import evaluate_gate1
from torghut.gates.gate2 import evaluate_gate2
from torghut.gates.gate3 import evaluate_gate3
from torghut.gates.gate4 import evaluate_gate4
from torghut.gates.hard_stops import evaluate_hard_stops
from torghut.gates.policy import policy_checksum

REQUIRED: dict[Target, tuple[GateId, ...]] = {
    Target.PAPER: (GateId.DATA, GateId.ROBUSTNESS, GateId.HARD_STOPS),
    Target.PAPER_VERIFIED: (GateId.PAPER, GateId.TCA, GateId.HARD_STOPS),
    Target.LIVE: (GateId.LIVE_REVIEW, GateId.HARD_STOPS),
}


def _strategy(inputs: GateInputs) -> str | None:
    c = inputs.bundle.candidate if inputs.bundle is not None else None
    return f"{c.strategy_type}@{c.version}" if c is not None else None


EVALUATORS: dict[GateId, Callable[[GateInputs, Context], GateResult]] = {
    GateId.DATA: lambda i, ctx: evaluate_gate0(
        i.quality, ctx, dataset_id=i.bundle.inputs.dataset_id if i.bundle else None,
        universe=i.bundle.candidate.universe if i.bundle else None,
        why=i.absent.get("quality")),
    GateId.ROBUSTNESS: lambda i, ctx: evaluate_gate1(
        i.bundle, i.trial_family, ctx, why=i.absent.get("bundle"),
        family_why=i.absent.get("trial_family")),
    GateId.PAPER: lambda i, ctx: evaluate_gate2(i.paper, ctx, strategy=_strategy(i),
                                                why=i.absent.get("paper")),
    GateId.TCA: lambda i, ctx: evaluate_gate3(i.tca, ctx, strategy=_strategy(i),
                                              why=i.absent.get("tca")),
    GateId.LIVE_REVIEW: lambda i, ctx: evaluate_gate4(i.live_review, ctx, strategy=_strategy(i),
                                                      why=i.absent.get("live_review")),
    GateId.HARD_STOPS: lambda i, ctx: evaluate_hard_stops(i.hard_stops, ctx, i.absent),
}


def make_context(policy: GatePolicy, evaluated_at: datetime) -> Context:
    if evaluated_at.tzinfo is None:
        raise TorghutError("evaluated_at must be timezone-aware", field="evaluated_at")
    return Context(policy=policy, policy_checksum=policy_checksum(policy),
                   evaluated_at=evaluated_at, code_version=torghut.__version__)


def evaluate(inputs: GateInputs, target: Target, policy: GatePolicy, *,
             evaluated_at: datetime) -> GateReport:
    """Run every gate ``target`` requires; allow only if all of them pass."""
    ctx = make_context(policy, evaluated_at)
    required = REQUIRED[target]
    results = tuple(EVALUATORS[gate](inputs, ctx) for gate in required)
    allow = all(r.passed for r in results)
    return GateReport(
        candidate_id=inputs.candidate_id, target=target,
        decision=Decision.ALLOW if allow else Decision.DENY, required_gates=required,
        results=results, evaluated_at=evaluated_at, code_version=ctx.code_version,
        policy_version=policy.policy_version, policy_checksum=ctx.policy_checksum)
