"""Pure parts: reliability arithmetic, the evaluation set, config strictness, prompts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from torghut.advisory.config import AdvisoryConfig, parse_config
from torghut.advisory.evalset import EVAL_SET, EVAL_VERSION, build, load, render
from torghut.advisory.prompts import ALLOW_LIST, LATEST, Task, prompt_for
from torghut.advisory.reliability import (
    CallRecord,
    breaches,
    measure,
    nearest_rank,
    to_contract,
)
from torghut.advisory.schemas import OUTCOMES, ParamDeltas, RationaleReview, outcome_of
from torghut.contracts.gates import GatePolicy
from torghut.errors import TorghutError

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def rec(reason: str | None = None, *, outcome: str | None = "allow",
        expected: str | None = "allow", latency: float | None = 50.0,
        confidence: float | None = 0.8) -> CallRecord:
    advised = reason is None
    return CallRecord("c", "review_rationale", reason, latency, advised,
                      outcome if advised else None, expected, confidence if advised else None)


def test_rates_over_sent_calls_only() -> None:
    records = [rec(), rec(outcome="deny"), rec("timeout", latency=1000.0),
               rec("schema_invalid"), rec("circuit_open", latency=None),
               rec("prompt_too_large", latency=None), rec(expected=None)]
    r = measure(records)
    assert r.calls == 5  # the two never sent do not measure the model
    assert (r.error_ratio, r.timeout_ratio, r.schema_valid_rate) == (0.4, 0.2, 0.6)
    assert (r.compared, r.agreement_rate) == (2, 0.5)
    assert r.latency_p95_ms == 1000.0 and r.reasons == {"schema_invalid": 1, "timeout": 1}
    assert (r.pass_through_rate, r.veto_rate) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    empty = measure([rec("circuit_open")])
    assert empty.calls == 0 and empty.error_ratio is None and empty.latency_p95_ms is None


def test_nearest_rank_is_an_observed_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert nearest_rank(values, 0.95) == 95.0
    assert nearest_rank([3.0], 0.95) == 3.0 and nearest_rank([], 0.95) is None


def test_breaches_are_the_hard_stops_own_codes() -> None:
    good = to_contract(1, measure([rec()] * 60), 200)
    assert breaches(good, GatePolicy(), NOW) == ()
    bad = to_contract(1, measure([rec()] * 40 + [rec(outcome="deny")] * 20), 200)
    assert [b.split(":")[0] for b in breaches(bad, GatePolicy(), NOW)] == [
        "HARD_STOP_LLM_AGREEMENT_RATE_BELOW_MIN"]
    off = to_contract(0, measure([rec("timeout")] * 60), 200)
    assert breaches(off, GatePolicy(), NOW) == ()  # stage 0: nothing it says can matter


def test_evaluation_set_is_generated_by_code_and_versioned() -> None:
    # control: AI-S1
    shipped = load()
    assert (shipped.name, shipped.version) == (EVAL_SET, EVAL_VERSION)
    assert build() == build()  # seeded
    from importlib.resources import files

    text = (files("torghut.advisory") / "evalsets" / f"{EVAL_SET}-{EVAL_VERSION}.json"
            ).read_text(encoding="utf-8")
    assert text == render()  # the shipped file is exactly what the generator produces
    assert len(shipped.items) >= GatePolicy().hard_stops.min_llm_requests
    for item in shipped.items:
        assert item.expected in OUTCOMES[item.task]
        failing = any(g["reasons"] for g in item.inputs["gates"])
        assert item.expected == OUTCOMES[item.task][1 if failing else 0]
    assert {i.expected for i in shipped.items} == {o for pair in OUTCOMES.values()
                                                   for o in pair}
    with pytest.raises(TorghutError, match="no evaluation set"):
        load("9.9.9")


def test_config_is_off_by_default_and_strict() -> None:
    assert AdvisoryConfig().stage == 0 and not AdvisoryConfig().enabled
    assert parse_config("", file="a.yaml").stage == 0
    good = parse_config("stage: 1\nendpoint: http://127.0.0.1:9/v1\nmodel: m\n", file="a.yaml")
    assert good.enabled and good.prompts == dict(LATEST)
    for text, field in (("stage: 1\n", "<root>"), ("stage: '1'\n", "stage"),
                        ("api_key: sk-1\n", "api_key"), ("api_key_env: sk-abc\n", "api_key_env"),
                        ("prompts: {review_rationale: 9.9.9}\n", "prompts"),
                        ("endpoint: ftp://x\n", "endpoint"), ("stage: 4\n", "stage")):
        with pytest.raises(TorghutError) as info:
            parse_config(text, file="a.yaml")
        assert "a.yaml" in str(info.value) and field in str(info.value), (text, info.value)


@pytest.mark.parametrize("name", ["TORGHUT_LIVE_API_SECRET", "TORGHUT_GITHUB_TOKEN",
                                  "GITHUB_TOKEN", "GH_TOKEN"])
def test_AI_M1_advisory_key_is_never_a_trading_or_gitops_credential(name: str) -> None:
    # control: AI-M1 (no credential that can submit orders or merge a promotion PR)
    with pytest.raises(TorghutError, match="api_key_env"):
        parse_config(f"api_key_env: {name}\n", file="a.yaml")
    assert parse_config("api_key_env: TORGHUT_LLM_KEY\n", file="a.yaml").api_key_env \
        == "TORGHUT_LLM_KEY"


def test_prompts_are_allow_listed_and_hashed() -> None:
    template = prompt_for(Task.REVIEW_RATIONALE, "1.0.0")
    assert template.sha256 == prompt_for(Task.REVIEW_RATIONALE, "1.0.0").sha256
    assert len({p.sha256 for p in ALLOW_LIST.values()}) == len(ALLOW_LIST)
    messages = template.messages({"b": 1, "a": "x"})
    assert messages[1]["content"].endswith('INPUT (JSON):\n{"a":"x","b":1}')
    with pytest.raises(TorghutError, match="allow-list"):
        prompt_for(Task.REVIEW_RATIONALE, "0.0.1")


def test_outcomes_map_answers() -> None:
    assert outcome_of(ParamDeltas(deltas=(), rationale="r", confidence=0.5)) == "pass_through"
    assert outcome_of(RationaleReview(verdict="deny", confidence=0.5)) == "deny"
    with pytest.raises(ValueError):
        RationaleReview.model_validate({"verdict": "deny", "confidence": "0.5"})  # strict
