"""Spec → lane workflow: which function runs each ImplementationSpec's lane.

Every shipped spec's ``spec.lane`` has exactly one entry here (a test checks both ways).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.lane_ops import (
    audit_pack_lane,
    gate_evaluation,
    incident_recovery,
    promotion_lane,
    shadow_paper_run,
)
from torghut.agentrun.lane_research import backtest_robustness, candidate_build, research_intake
from torghut.agentrun.rollout import governance_rollout

LaneFn = Callable[[LaneContext], LaneOutcome]

LANES: Mapping[str, LaneFn] = MappingProxyType({
    "governance-rollout": governance_rollout,
    "research-intake": research_intake,
    "candidate-build": candidate_build,
    "backtest-robustness": backtest_robustness,
    "gate-evaluation": gate_evaluation,
    "shadow-paper-run": shadow_paper_run,
    "promotion": promotion_lane,
    "incident-recovery": incident_recovery,
    "audit-pack": audit_pack_lane,
})
