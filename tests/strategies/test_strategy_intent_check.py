"""The runner's intent check is the validation of plugin output: every StrategyIntent
constraint is enforced even on an intent built without pydantic (as the SDK does)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.strategies.strategy_helpers import vector
from torghut.contracts import FeatureVector, StrategyIntent
from torghut.strategies.builtin.tsmom import TimeSeriesMomentum
from torghut.strategies.runner import PluginError, check_intent
from torghut.strategies.sdk import StrategyContext

PLUGIN = TimeSeriesMomentum()


def _fields(fv: FeatureVector, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "strategy_id": "s1", "strategy_type": PLUGIN.strategy_type, "version": PLUGIN.version,
        "symbol": fv.symbol, "event_ts": fv.event_ts, "seq": fv.seq, "target_exposure": 0.5,
        "reason": "TARGET_LONG", "feature_schema_version": fv.feature_schema_version}
    fields.update(changes)
    return fields


def _ctx() -> StrategyContext:
    return StrategyContext(strategy_id="s1", params=PLUGIN.Params())


def test_a_valid_intent_passes_whether_validated_or_not() -> None:
    fv = vector(4, price=1.0)
    check_intent(StrategyIntent(**_fields(fv)), fv, PLUGIN, _ctx())
    check_intent(StrategyIntent.model_construct(**_fields(fv)), fv, PLUGIN, _ctx())


@pytest.mark.parametrize(("changes", "message"), [
    ({"target_exposure": 1.5}, "not a float within"),
    ({"target_exposure": math.nan}, "not a float within"),
    ({"target_exposure": "0.5"}, "not a float within"),
    ({"reason": "long"}, "breaks the StrategyIntent contract"),
    ({"reason": None}, "breaks the StrategyIntent contract"),
    ({"seq": 4.0}, "breaks the StrategyIntent contract"),
    ({"feature_schema_version": 3.1}, "breaks the StrategyIntent contract"),
    ({"schema_version": "0.9"}, "breaks the StrategyIntent contract"),
    ({"symbol": "BBB"}, r"has wrong \['symbol'\]"),
    ({"seq": 5, "strategy_id": "s2"}, r"has wrong \['strategy_id', 'seq'\]"),
])
def test_every_contract_constraint_is_checked_on_unvalidated_intents(
        changes: dict[str, Any], message: str) -> None:
    fv = vector(4, price=1.0)
    intent = StrategyIntent.model_construct(**_fields(fv, **changes))
    with pytest.raises(PluginError, match=message):
        check_intent(intent, fv, PLUGIN, _ctx())


def test_a_plugin_version_outside_semver_is_refused() -> None:
    class Odd(TimeSeriesMomentum):
        version = "1.0"

    fv = vector(4, price=1.0)
    intent = StrategyIntent.model_construct(**_fields(fv, version="1.0"))
    with pytest.raises(PluginError, match="breaks the StrategyIntent contract"):
        check_intent(intent, fv, Odd(), _ctx())


def test_sdk_intents_equal_validated_ones() -> None:
    plugin, ctx = TimeSeriesMomentum(), StrategyContext(strategy_id="s1",
                                                        params=PLUGIN.Params(lookback=2))
    emitted = []
    for seq in range(40):
        fv = vector(seq, price=100.0 + (seq % 7), ret_1=0.01 * ((seq % 5) - 2),
                    ret_20=0.01 * ((seq % 3) - 1), vol_realized_20=0.01)
        intent = plugin.on_event(fv, ctx)
        if intent is not None:
            check_intent(intent, fv, plugin, ctx)
            assert intent == StrategyIntent(**intent.model_dump())
            assert intent.content_hash() == StrategyIntent(**intent.model_dump()).content_hash()
            emitted.append(intent)
    assert emitted
