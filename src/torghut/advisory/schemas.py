"""Strict response models, one per task: what a model says is advice only if it fits.

Strict means no coercion (``"0.9"`` is not a number), unknown keys rejected, bounded
lengths. Each parsed answer maps to a comparable *outcome* — the same vocabulary as the
deterministic result it addresses — so reliability can measure agreement (control AI-S1)
and pass-through / veto / adjust rates (plan "LLM advisory stages").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from torghut.advisory.prompts import Task

_TEXT = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class EvidenceSummary(_Strict):
    summary: str = Field(min_length=1, max_length=_TEXT)
    outcome: Literal["pass", "fail"]
    key_points: tuple[str, ...] = Field(default=(), max_length=10, strict=False)
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)


class ParamDelta(_Strict):
    param: str = Field(min_length=1, max_length=64)
    value: float | int | bool | str


class ParamDeltas(_Strict):
    deltas: tuple[ParamDelta, ...] = Field(max_length=10, strict=False)
    rationale: str = Field(min_length=1, max_length=_TEXT)
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)


class RationaleReview(_Strict):
    verdict: Literal["allow", "deny"]
    concerns: tuple[str, ...] = Field(default=(), max_length=10, strict=False)
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)


Answer = EvidenceSummary | ParamDeltas | RationaleReview

RESPONSE_MODELS: dict[Task, type[Answer]] = {
    Task.SUMMARISE_EVIDENCE: EvidenceSummary,
    Task.PROPOSE_PARAM_DELTAS: ParamDeltas,
    Task.REVIEW_RATIONALE: RationaleReview,
}

#: Outcomes per task as (when the gates allow, when they deny). A summary says pass/fail
#: like a gate; a review allows (pass-through) or denies (veto) like a decision; a proposal
#: changes nothing (pass-through) or adjusts.
OUTCOMES: dict[Task, tuple[str, str]] = {
    Task.SUMMARISE_EVIDENCE: ("pass", "fail"),
    Task.PROPOSE_PARAM_DELTAS: ("pass_through", "adjust"),
    Task.REVIEW_RATIONALE: ("allow", "deny"),
}


def outcome_of(answer: Answer) -> str:
    """The answer's comparable outcome (see :data:`OUTCOMES`)."""
    if isinstance(answer, EvidenceSummary):
        return answer.outcome
    if isinstance(answer, ParamDeltas):
        return "adjust" if answer.deltas else "pass_through"
    return answer.verdict
