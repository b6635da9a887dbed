"""Built-in plugins: conformance on the real sample, and each rule doing what its paper says."""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies.strategy_helpers import vector
from torghut.contracts import FeatureVector, StrategyIntent
from torghut.strategies.builtin.legacy_macd_rsi import LegacyMacdRsi
from torghut.strategies.builtin.mean_reversion import MeanReversion
from torghut.strategies.builtin.tsmom import TimeSeriesMomentum, tsmom_rule
from torghut.strategies.builtin.vol_breakout import VolatilityBreakout
from torghut.strategies.conformance import run_conformance
from torghut.strategies.kernels import clip_unit, ring_count, ring_lag, ring_push, ring_slots, sign
from torghut.strategies.registry import Registry
from torghut.strategies.runner import FeatureSet, PluginError, batch_exposures, symbol_rows
from torghut.strategies.sdk import (
    RuleStrategy,
    StrategyContext,
    StrategyParams,
    eligible_mask,
    feature_matrix,
    kernel,
    validate_params,
)

ALL_CHECKS = ["params_validation", "determinism", "warmup_boundary", "missing_features",
              "stale_features", "parity", "sandbox", "latency"]


@pytest.mark.parametrize("ref", ["legacy_macd_rsi@1.0.0", "mean_reversion@1.0.0",
                                 "tsmom@1.0.0", "vol_breakout@1.0.0"])
def test_builtin_passes_conformance_on_the_real_sample(
        ref: str, registry: Registry, sample_sets: list[FeatureSet]) -> None:
    plugin = registry.plugin(ref)
    report = run_conformance(plugin, sample_sets)
    assert [c.name for c in report.checks] == ALL_CHECKS
    assert report.passed, [(c.name, c.detail) for c in report.checks if not c.passed]
    checks = {c.name: c for c in report.checks}
    assert checks["parity"].metrics["bars"] == sum(len(s.frame) for s in sample_sets)
    assert checks["parity"].metrics["intents"] > 0  # the plugin actually trades the sample
    assert checks["missing_features"].metrics["live_probe_point"]

    params = validate_params(plugin.Params, {})
    for fs in sample_sets:
        x = batch_exposures(plugin, fs.frame, params)
        assert x.dtype == np.float64 and np.all(np.abs(x) <= 1.0)
        assert np.count_nonzero(x) > 0
        eligible = eligible_mask(fs.frame, feature_matrix(fs.frame, plugin.required_features()))
        for rows in symbol_rows(fs.frame).values():
            warm = np.cumsum(eligible[rows]) <= plugin.warmup_bars(params)
            assert np.all(x[rows][warm] == 0.0)
            assert np.all(x[rows][: int(np.argmax(eligible[rows]))] == 0.0)


def _ctx(plugin: Any, **params: Any) -> StrategyContext:
    return StrategyContext(strategy_id="t", params=validate_params(plugin.Params, params))


def _targets(plugin: Any, ctx: StrategyContext, events: list[FeatureVector]) -> list[float | None]:
    out = []
    for fv in events:
        intent = plugin.on_event(fv, ctx)
        out.append(None if intent is None else intent.target_exposure)
    return out


def test_tsmom_sign_and_volatility_scaling() -> None:
    plugin = TimeSeriesMomentum()
    ctx = _ctx(plugin, lookback=2, target_vol=0.2, periods_per_year=100.0)
    prices = [10.0, 11.0, 12.0, 11.5, 9.0]
    vols = [0.01, 0.01, 0.01, 0.04, 0.0]
    events = [vector(i, price=p, vol_realized_20=v)
              for i, (p, v) in enumerate(zip(prices, vols, strict=True))]
    out = _targets(plugin, ctx, events)
    # 0.2 / (0.01·√100) = 2 → capped at max_leverage 1; 0.2 / (0.04·10) = 0.5; zero vol → cap.
    assert out == [None, None, 1.0, 0.5, -1.0]
    flat_short = _ctx(plugin, lookback=2, allow_short=False)
    assert _targets(plugin, flat_short, events)[-1] == 0.0


def _tsmom_with_kernels(state: MutableSequence[float], x: Sequence[float],
                        p: Sequence[float]) -> float:
    """tsmom's rule written with the kernel helpers (its form before they were inlined)."""
    lookback = int(p[0])
    ring_push(state, 0, lookback + 1, x[0])
    if ring_count(state, 0, lookback + 1) <= lookback:
        return math.nan
    direction = sign(x[0] - ring_lag(state, 0, lookback + 1, lookback))
    if direction < 0.0 and p[4] == 0.0:
        direction = 0.0
    denominator = x[1] * p[3]
    leverage = p[2]
    if denominator > 0.0:
        scaled = p[1] / denominator
        if scaled < leverage:
            leverage = scaled
    return clip_unit(direction * leverage)


@settings(max_examples=100, deadline=None)
@given(lookback=st.integers(2, 6), short=st.sampled_from([0.0, 1.0]),
       leverage=st.sampled_from([0.5, 1.0]), target_vol=st.sampled_from([0.15, 2.0, 5.0]),
       events=st.lists(st.tuples(st.sampled_from([99.0, 100.0, 100.5, 101.0]),
                                 st.sampled_from([0.0, 1e-9, 0.001, 0.02])), max_size=30))
def test_tsmom_inlined_rule_equals_its_kernel_form(
        lookback: int, short: float, leverage: float, target_vol: float,
        events: list[tuple[float, float]]) -> None:
    p = (float(lookback), target_vol, leverage, math.sqrt(252.0), short)
    inlined, reference = ([0.0] * ring_slots(lookback + 1) for _ in range(2))
    for x in events:
        got, expected = tsmom_rule(inlined, x, p), _tsmom_with_kernels(reference, x, p)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
        assert inlined == reference


def test_mean_reversion_enters_on_the_band_and_exits_at_the_mid() -> None:
    plugin = MeanReversion()
    ctx = _ctx(plugin, max_holding_bars=10)
    bands = {"boll_lower": 95.0, "boll_mid": 100.0, "boll_upper": 105.0}
    path = [(99.0, 50.0), (94.0, 25.0), (97.0, 40.0), (101.0, 55.0), (106.0, 75.0),
            (104.0, 60.0), (99.0, 45.0)]
    events = [vector(i, price=p, rsi14=r, **bands) for i, (p, r) in enumerate(path)]
    # flat; long below band+oversold; hold (hysteresis); exit at mid; short; hold; cover.
    assert _targets(plugin, ctx, events) == [0.0, 1.0, 1.0, 0.0, -1.0, -1.0, 0.0]
    timed = _ctx(plugin, max_holding_bars=2)
    held = [vector(i, price=94.0, rsi14=25.0, **bands) for i in range(4)]
    assert _targets(plugin, timed, held) == [1.0, 1.0, 0.0, 1.0]  # time stop, then re-entry


def test_vol_breakout_channel_and_filter() -> None:
    plugin = VolatilityBreakout()
    ctx = _ctx(plugin, entry_lookback=3, exit_lookback=2, vol_multiple=1.0)
    prices = [10.0, 11.0, 12.0, 12.1, 13.0, 12.5, 11.0, 9.0]
    events = [vector(i, price=p, vol_realized_20=0.05) for i, p in enumerate(prices)]
    # 12.1 is inside 12·(1+0.05); 13 clears it → long; exit below the 2-bar low (12.5, 13);
    # 9 is below 11·(1-0.05) → short.
    assert _targets(plugin, ctx, events) == [None, None, None, 0.0, 1.0, 1.0, 0.0, -1.0]


def test_legacy_macd_rsi_filters_extremes() -> None:
    plugin = LegacyMacdRsi()
    ctx = _ctx(plugin)
    cases = [(0.3, 50.0), (0.3, 75.0), (-0.3, 50.0), (-0.3, 20.0), (0.0, 50.0)]
    events = [vector(i, macd_hist=h, rsi14=r) for i, (h, r) in enumerate(cases)]
    assert _targets(plugin, ctx, events) == [1.0, 0.0, -1.0, 0.0, 0.0]


class _SloppyParams(StrategyParams):
    model_config = StrategyParams.model_config | {"extra": "ignore"}  # type: ignore[assignment]
    size: float = 1.0  # no bounds: nothing to probe but the type


class Sloppy:
    """Breaks the contract on purpose: ignores warm-up, guards and parity."""

    strategy_type: ClassVar[str] = "sloppy"
    version: ClassVar[str] = "1.0.0"
    Params = _SloppyParams
    min_feature_schema: ClassVar[str] = "3.1"

    def required_features(self) -> tuple[str, ...]:
        return ("price",)

    def warmup_bars(self, params: Any) -> int:
        return 5

    def prepare(self, params: Any) -> None:
        pass

    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        return StrategyIntent(strategy_id=ctx.strategy_id, strategy_type=self.strategy_type,
                              version=self.version, symbol=fv.symbol, event_ts=fv.event_ts,
                              seq=fv.seq, target_exposure=0.5, reason="ALWAYS",
                              feature_schema_version=fv.feature_schema_version)

    def signals(self, frame: pd.DataFrame, params: Any) -> np.ndarray:
        return np.full(len(frame), 0.25)


def test_conformance_names_each_broken_rule(sample_sets: list[FeatureSet]) -> None:
    report = run_conformance(Sloppy(), sample_sets[:1])  # type: ignore[arg-type]
    failed = {c.name: c.detail for c in report.checks if not c.passed}
    assert set(failed) == {"params_validation", "warmup_boundary", "missing_features",
                           "stale_features", "parity"}
    assert "extra='forbid'" in failed["params_validation"]
    assert "intent after only 1 eligible bars" in failed["warmup_boundary"]
    assert "emitted an intent" in failed["missing_features"]
    assert "batch 0.25 vs streaming 0.5" in failed["parity"]
    assert not report.passed


@kernel
def _too_big(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    return 2.0  # outside [-1, 1]


class _Explodes(RuleStrategy[StrategyParams]):
    strategy_type: ClassVar[str] = "explodes"
    version: ClassVar[str] = "1.0.0"
    Params = StrategyParams
    features = ("price",)
    rule = staticmethod(_too_big)

    def kernel_params(self, params: StrategyParams) -> tuple[float, ...]:
        return ()

    def initial_state(self, params: StrategyParams) -> list[float]:
        return []

    def signals(self, frame: pd.DataFrame, params: Any) -> np.ndarray:
        return np.full(len(frame), math.nan)


def test_out_of_contract_output_fails_checks_without_crashing_the_harness(
        sample_sets: list[FeatureSet]) -> None:
    report = run_conformance(_Explodes(), sample_sets[:1])
    failed = {c.name: c.detail for c in report.checks if not c.passed}
    # the streaming intent is refused by the runner's contract check
    assert "target_exposure 2.0 is not a float within [-1, 1]" in failed["parity"]
    assert "latency" in failed and "determinism" in failed
    with pytest.raises(PluginError, match=r"exposure nan at row 0 is not finite"):
        batch_exposures(_Explodes(), sample_sets[0].frame, StrategyParams())
    assert report.checks[0].passed  # params_validation still ran and passed
