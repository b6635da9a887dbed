"""The SDK base class: guards, skip reasons, warm-up counting and batch/stream parity."""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.strategies.strategy_helpers import synthetic_set, vector
from torghut.contracts import SignalQuality
from torghut.errors import TorghutError
from torghut.strategies import kernels
from torghut.strategies.builtin.legacy_macd_rsi import LegacyMacdRsi
from torghut.strategies.builtin.mean_reversion import MeanReversion
from torghut.strategies.builtin.sma_crossover import SmaCrossover
from torghut.strategies.builtin.tsmom import TimeSeriesMomentum
from torghut.strategies.builtin.vol_breakout import VolatilityBreakout
from torghut.strategies.runner import batch_exposures, stream
from torghut.strategies.sdk import (
    DEFAULT_MAX_STALENESS_MS,
    SkipCode,
    StrategyContext,
    StrategyPlugin,
    validate_params,
)

BUILTINS = (LegacyMacdRsi, MeanReversion, SmaCrossover, TimeSeriesMomentum,
            VolatilityBreakout)


def _ctx(plugin: StrategyPlugin, **params: object) -> StrategyContext:
    return StrategyContext(strategy_id="t", params=validate_params(plugin.Params, params))


def test_builtins_implement_the_protocol() -> None:
    for cls in BUILTINS:
        assert isinstance(cls(), StrategyPlugin)


def test_warmup_counts_eligible_bars_only() -> None:
    plugin = TimeSeriesMomentum()
    ctx = _ctx(plugin, lookback=3)
    # Ineligible events (missing vol) neither count towards warm-up nor feed the rule.
    assert plugin.on_event(vector(0, price=10.0), ctx) is None
    assert ctx.last_skip["AAA"].code is SkipCode.MISSING_FEATURE
    results = [plugin.on_event(vector(i, price=10.0 + i, vol_realized_20=0.01), ctx)
               for i in range(1, 5)]
    assert results[:3] == [None, None, None]
    assert ctx.skip_counts[SkipCode.WARMUP] == 3
    intent = results[3]
    assert intent is not None and intent.seq == 4 and intent.target_exposure > 0
    assert intent.reason == "TARGET_LONG"


@pytest.mark.parametrize("update,code", [
    ({"signal_quality_flag": SignalQuality.STALE}, SkipCode.STALE_FEATURE),
    ({"staleness_ms": DEFAULT_MAX_STALENESS_MS + 1}, SkipCode.STALE_FEATURE),
    ({"signal_quality_flag": SignalQuality.MISSING}, SkipCode.MISSING_FEATURE),
    ({"signal_quality_flag": SignalQuality.WARMUP, "rsi14": None}, SkipCode.WARMUP),
    ({"rsi14": None}, SkipCode.MISSING_FEATURE),
    ({"macd_hist": math.nan}, SkipCode.MISSING_FEATURE),
    ({"macd_hist": math.inf}, SkipCode.MISSING_FEATURE),
])
def test_guards_record_a_reason_and_emit_nothing(update: dict[str, object],
                                                 code: SkipCode) -> None:
    plugin = LegacyMacdRsi()
    ctx = _ctx(plugin)
    good = vector(0, macd_hist=0.5, rsi14=50.0)
    assert plugin.on_event(good, ctx) is not None  # the control emits
    bad = good.model_copy(update={"seq": 1, **update})
    assert plugin.on_event(bad, ctx) is None
    assert ctx.last_skip["AAA"].code is code
    assert ctx.last_skip["AAA"].seq == 1
    assert ctx.skip_counts[code] == 1


def test_staleness_within_budget_is_eligible() -> None:
    plugin = LegacyMacdRsi()
    ctx = _ctx(plugin)
    ctx.max_staleness_ms = 5_000
    fv = vector(0, macd_hist=-0.5, rsi14=50.0, staleness_ms=5_000)
    intent = plugin.on_event(fv, ctx)
    assert intent is not None and intent.target_exposure == -1.0


def test_skipped_events_leave_the_rule_state_untouched() -> None:
    plugin = VolatilityBreakout()
    a, b = _ctx(plugin, entry_lookback=2, exit_lookback=1), _ctx(
        plugin, entry_lookback=2, exit_lookback=1)
    events = [vector(i, price=10.0 + i, vol_realized_20=0.0) for i in range(4)]
    noise = vector(9, price=1e6, vol_realized_20=0.0, signal_quality_flag=SignalQuality.STALE)
    for i, fv in enumerate(events):
        plugin.on_event(fv, a)
        if i == 1:
            plugin.on_event(noise, b)
        plugin.on_event(fv, b)
    assert a.local == b.local


def test_state_is_per_symbol() -> None:
    plugin = TimeSeriesMomentum()
    ctx = _ctx(plugin, lookback=2)
    for i in range(3):
        plugin.on_event(vector(i, "UP", price=10.0 + i, vol_realized_20=0.01), ctx)
        plugin.on_event(vector(i, "DOWN", price=10.0 - i, vol_realized_20=0.01), ctx)
    up = plugin.on_event(vector(3, "UP", price=14.0, vol_realized_20=0.01), ctx)
    down = plugin.on_event(vector(3, "DOWN", price=6.0, vol_realized_20=0.01), ctx)
    assert up is not None and down is not None
    assert up.target_exposure > 0 > down.target_exposure


def test_validate_params_is_strict_but_json_friendly() -> None:
    model = TimeSeriesMomentum.Params
    assert validate_params(model, {"target_vol": 1}).target_vol == 1.0  # int for float: ok
    for bad in ({"lookback": "60"}, {"allow_short": "yes"}, {"lookback": 60.5},
                {"nope": 1}, {"periods_per_year": math.inf}, {"target_vol": math.nan}):
        with pytest.raises(ValidationError):
            validate_params(model, bad)
    params = validate_params(model, {})
    with pytest.raises(ValidationError):
        params.lookback = 3  # type: ignore[misc]  # frozen


def test_batch_requires_the_feature_columns() -> None:
    plugin = TimeSeriesMomentum()
    with pytest.raises(TorghutError, match="vol_realized_20"):
        plugin.signals(pd.DataFrame({"price": [1.0]}), validate_params(plugin.Params, {}))


def test_batch_blocks_missing_and_stale_rows_only() -> None:
    plugin = LegacyMacdRsi()
    params = validate_params(plugin.Params, {})
    frame = pd.DataFrame({"macd_hist": [1.0, -1.0, -1.0], "rsi14": [50.0, 50.0, 50.0],
                          "signal_quality": pd.Categorical(["warmup", "missing", "stale"])})
    # warm-up is per plugin: its features are present, so row 0 counts; 1 and 2 are blocked.
    assert plugin.signals(frame, params).tolist() == [1.0, 1.0, 1.0]


def test_a_warmup_flagged_vector_with_the_plugins_features_is_eligible() -> None:
    plugin = LegacyMacdRsi()
    ctx = _ctx(plugin)
    fv = vector(0, macd_hist=0.5, rsi14=50.0).model_copy(
        update={"signal_quality_flag": SignalQuality.WARMUP})
    intent = plugin.on_event(fv, ctx)
    assert intent is not None and intent.target_exposure > 0


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda c: c.strategy_type)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_parity_on_random_data_and_params(cls: type, seed: int, data: st.DataObject) -> None:
    """Batch equals streaming bit for bit for any valid params on any data."""
    plugin = cls()
    params = validate_params(plugin.Params, _random_params(plugin.Params, data))
    fs = synthetic_set(160, seed=seed, symbols=("AAA", "BBB"))
    streamed = stream(plugin, fs.vectors(), params).exposures
    batch = batch_exposures(plugin, fs.frame, params)
    np.testing.assert_array_equal(streamed, batch)
    assert np.all(np.abs(batch) <= 1.0)


def _random_params(model: type, data: st.DataObject) -> dict[str, object]:
    """Draw each numeric field inside its declared bounds (small windows keep it quick)."""
    out: dict[str, object] = {}
    for name, info in model.model_fields.items():
        bounds = {k: getattr(m, k) for m in info.metadata for k in ("ge", "gt", "le", "lt")
                  if getattr(m, k, None) is not None}
        lo = bounds.get("ge", bounds.get("gt", 0))
        hi = bounds.get("le", bounds.get("lt", 100))
        if info.annotation is bool:
            out[name] = data.draw(st.booleans(), label=name)
        elif info.annotation is int:
            out[name] = data.draw(st.integers(int(lo) + ("gt" in bounds),
                                              min(int(hi), int(lo) + 40)), label=name)
        else:
            out[name] = data.draw(st.floats(lo, hi, exclude_min="gt" in bounds,
                                            exclude_max="lt" in bounds), label=name)
    if "exit_lookback" in out:  # vol_breakout's cross-field rule
        out["exit_lookback"] = min(out["exit_lookback"], out["entry_lookback"])  # type: ignore[type-var]
    if "slow" in out:  # sma_crossover's cross-field rule
        out["slow"] = max(out["slow"], out["fast"] + 1)  # type: ignore[operator]
    return out


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40),
       size=st.integers(1, 9))
def test_ring_buffer_matches_a_list(values: list[float], size: int) -> None:
    state = [0.0] * kernels.ring_slots(size)
    for value in values:
        kernels.ring_push(state, 0, size, value)
    window = values[-size:]
    held = kernels.ring_count(state, 0, size)
    assert held == len(window)
    assert [kernels.ring_lag(state, 0, size, lag) for lag in range(held)] == window[::-1]
    for last in range(1, held + 1):
        assert kernels.ring_max(state, 0, size, last) == max(window[-last:])
        assert kernels.ring_min(state, 0, size, last) == min(window[-last:])
    compiled = _compiled_ring(np.asarray(values), size)
    assert compiled.tolist() == [kernels.ring_max(state, 0, size, held),
                                 kernels.ring_min(state, 0, size, held),
                                 kernels.ring_lag(state, 0, size, held - 1)]


@numba.njit
def _compiled_ring(values: np.ndarray, size: int) -> np.ndarray:
    state = np.zeros(kernels.ring_slots(size))
    for v in values:
        kernels.ring_push(state, 0, size, v)
    held = kernels.ring_count(state, 0, size)
    return np.array([kernels.ring_max(state, 0, size, held),
                     kernels.ring_min(state, 0, size, held),
                     kernels.ring_lag(state, 0, size, held - 1)])
