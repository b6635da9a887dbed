"""Gate 2 (paper stability, champion–challenger) and Gate 3 (TCA bands)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gates.gate_helpers import (
    STRATEGY,
    codes,
    ctx,
    good_paper,
    good_tca,
    paper_slice,
    segment,
)
from torghut.contracts.gates import (
    PaperEvidence,
    PaperSimDivergence,
    PaperStability,
    RegimeClass,
    TcaEvidence,
)
from torghut.gates.gate2 import evaluate_gate2
from torghut.gates.gate3 import evaluate_gate3

HIGH, NORMAL = RegimeClass.HIGH_VOL, RegimeClass.NORMAL


def test_good_paper_evidence_passes() -> None:
    paper = good_paper()
    result = evaluate_gate2(paper, ctx(), strategy=STRATEGY)
    assert result.passed, result.reasons
    assert result.observations["segment.0.sharpe_edge"] == pytest.approx(0.8)
    assert result.artifact_refs[0].sha256 == paper.content_hash()


def test_missing_paper_evidence_fails_closed() -> None:
    assert codes(evaluate_gate2(None, ctx())) == ["GATE2_EVIDENCE_MISSING"]


def test_first_strategy_without_a_champion_is_judged_on_its_own() -> None:
    paper = good_paper(champion=None, segments=(segment(HIGH, champion=None),
                                                segment(NORMAL, champion=None)))
    assert evaluate_gate2(paper, ctx()).passed


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"strategy": "tsmom@2.0.0"}, ["GATE2_STRATEGY_MISMATCH"]),
    ({"sessions": 3}, ["GATE2_SESSIONS_BELOW_MIN"]),
    ({"divergence": PaperSimDivergence(pnl_divergence=0.05, intent_agreement=0.9,
                                       fill_ratio_divergence=0.3)},
     ["GATE2_PNL_DIVERGENCE_ABOVE_MAX", "GATE2_INTENT_AGREEMENT_BELOW_MIN",
      "GATE2_FILL_RATIO_DIVERGENCE_ABOVE_MAX"]),
    ({"stability": PaperStability(plugin_errors=2, circuit_open_count=1,
                                  risk_limit_breaches=1, max_drawdown=-0.2)},
     ["GATE2_PLUGIN_ERRORS_ABOVE_MAX", "GATE2_CIRCUIT_OPENS_ABOVE_MAX",
      "GATE2_RISK_BREACHES_ABOVE_MAX", "GATE2_DRAWDOWN_ABOVE_MAX"]),
    ({"segments": (segment(NORMAL),)}, ["GATE2_REGIME_MISSING"]),
    ({"segments": (segment(HIGH), segment(NORMAL, challenger=0.2))},
     ["GATE2_CHAMPION_NOT_BEATEN"]),
    ({"segments": (segment(HIGH, challenger=1.1), segment(NORMAL))}, ["GATE2_EXTEND_WINDOW"]),
    ({"segments": (segment(HIGH, challenger=None), segment(NORMAL))}, ["GATE2_EXTEND_WINDOW"]),
    ({"segments": (segment(HIGH), segment(NORMAL, champion=None))},
     ["GATE2_CHAMPION_EVIDENCE_MISSING"]),
])
def test_each_bad_input_fails_with_its_code(overrides: dict[str, Any],
                                            expected: list[str]) -> None:
    result = evaluate_gate2(good_paper(**overrides), ctx(), strategy=STRATEGY)
    assert codes(result) == expected


def test_short_segments_are_ambiguous_and_costs_are_compared() -> None:
    short = segment(HIGH).model_copy(update={"challenger": paper_slice(3.0, bars=20)})
    result = evaluate_gate2(good_paper(segments=(short, segment(NORMAL))), ctx())
    assert codes(result) == ["GATE2_EXTEND_WINDOW"]
    assert (result.reasons[0].observed, result.reasons[0].threshold) == (20, 50)
    costly = segment(NORMAL).model_copy(update={"challenger": paper_slice(1.8, cost_bps=14.0)})
    result = evaluate_gate2(good_paper(segments=(segment(HIGH), costly)), ctx())
    assert codes(result) == ["GATE2_COST_ABOVE_CHAMPION"]
    assert result.reasons[0].observed == pytest.approx(6.0)
    no_cost = segment(NORMAL).model_copy(update={"champion": paper_slice(1.0, cost_bps=None)})
    result = evaluate_gate2(good_paper(segments=(segment(HIGH), no_cost)), ctx())
    assert codes(result) == ["GATE2_COST_MISSING"]


def test_paper_evidence_schema_rejects_bad_files() -> None:
    data = good_paper().model_dump(mode="json")
    with pytest.raises(ValueError, match="end must be after start"):
        PaperEvidence.model_validate(data | {"end": data["start"]})
    with pytest.raises(ValueError, match="Extra inputs"):
        PaperEvidence.model_validate(data | {"verdict": "pass"})
    assert PaperEvidence.model_validate_json(good_paper().canonical_json()) == good_paper()


def test_good_tca_passes_and_each_band_fails_with_its_code() -> None:
    assert evaluate_gate3(good_tca(), ctx(), strategy=STRATEGY).passed
    assert codes(evaluate_gate3(None, ctx())) == ["GATE3_EVIDENCE_MISSING"]
    cases = [({"slippage_bps": 25.5}, "GATE3_SLIPPAGE_BPS_ABOVE_MAX"),
             ({"shortfall_bps": 30.0}, "GATE3_SHORTFALL_BPS_ABOVE_MAX"),
             ({"churn": 0.8}, "GATE3_CHURN_ABOVE_MAX"),
             ({"fills": 5}, "GATE3_FILLS_BELOW_MIN"),
             ({"slippage_bps": None}, "GATE3_SLIPPAGE_BPS_MISSING"),
             ({"strategy": "other@1.0.0"}, "GATE3_STRATEGY_MISMATCH")]
    for overrides, code in cases:
        assert codes(evaluate_gate3(good_tca(**overrides), ctx(), strategy=STRATEGY)) == [code]
    at_band = evaluate_gate3(good_tca(slippage_bps=25.0, churn=0.75), ctx())
    assert at_band.passed  # the bands are inclusive
    with pytest.raises(ValueError, match="finite number"):
        TcaEvidence.model_validate(good_tca().model_dump() | {"shortfall_bps": float("nan")})
