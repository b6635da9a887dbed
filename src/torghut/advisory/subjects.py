"""Turn a recorded gate decision into an advisory request, with its deterministic outcome.

The inputs carry what the gates measured (observations and reasons per gate, the
candidate's strategy and parameters) — never the decision's verdict — and the request
carries the verdict separately as ``expected``, mapped into each task's outcome vocabulary
(:data:`torghut.advisory.schemas.OUTCOMES`), so the recorded call says whether the advice
agreed with the deterministic outcome (control AI-S1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torghut.advisory.advisor import Request
from torghut.advisory.prompts import Task
from torghut.advisory.schemas import OUTCOMES
from torghut.ledger.models import Candidate, GateResultRow, PromotionDecision


def _gates(results: Sequence[GateResultRow]) -> list[dict[str, Any]]:
    out = []
    for row in sorted(results, key=lambda r: r.gate_id):
        reasons = [f"{r['code']}: {r['message']}" for r in row.result.get("reasons", ())]
        out.append({"gate": row.gate_id, "observations": row.result.get("observations", {}),
                    "reasons": reasons})
    return out


def decision_request(task: Task, decision: PromotionDecision, candidate: Candidate,
                     results: Sequence[GateResultRow], *, rationale: str | None = None
                     ) -> Request:
    """The request for ``task`` about ``decision`` (a review needs ``rationale``)."""
    inputs: dict[str, Any] = {
        "candidate": {"strategy": f"{candidate.strategy_type}@{candidate.strategy_version}",
                      "params": candidate.params},
        "target": decision.target, "gates": _gates(results)}
    if task is Task.REVIEW_RATIONALE:
        inputs["rationale"] = rationale or ""
    allowed, denied = OUTCOMES[task]
    return Request(task, inputs, allowed if decision.allowed else denied, "request",
                   {"decision_id": decision.id, "candidate_id": candidate.id})
