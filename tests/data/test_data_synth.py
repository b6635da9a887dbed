"""Synthetic bars: determinism, a measurable planted edge, regimes, profiles, Gate 0 clean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torghut.data.bars import content_id
from torghut.data.quality import assess
from torghut.data.snapshots import load_snapshot
from torghut.data.synth import SynthSpec, build_synth, generate
from torghut.errors import TorghutError
from torghut.workspace import Workspace

EDGE = SynthSpec(symbols=10, bars=5000, timeframe="1d", seed=11, regimes=True, planted_edge=1.5)


@pytest.fixture(scope="module")
def edge_result():
    return generate(EDGE)


def _wide(bars: pd.DataFrame, column: str) -> pd.DataFrame:
    return bars.pivot(index="ts", columns="symbol", values=column)


def _sign_following_sharpe(bars: pd.DataFrame, lookback: int, annual: int,
                           entry: str = "close") -> float:
    """Recompute the ideal strategy from prices alone: mean per-symbol annualised Sharpe."""
    close = np.log(_wide(bars, "close"))
    signal = np.sign(close.shift(1) - close.shift(1 + lookback))
    held = close - (np.log(_wide(bars, "open")) if entry == "open" else close.shift(1))
    pnl = (signal * held).iloc[lookback + 1:]
    return float((pnl.mean() / pnl.std() * np.sqrt(annual)).mean())


def test_same_spec_same_bars_and_id(edge_result) -> None:
    again = generate(EDGE)
    pd.testing.assert_frame_equal(again.bars, edge_result.bars, check_exact=True)
    assert content_id(again.bars, "1d") == content_id(edge_result.bars, "1d")
    assert again.parameters == edge_result.parameters
    other = generate(SynthSpec(**{**EDGE.__dict__, "seed": 12}))
    assert content_id(other.bars, "1d") != content_id(edge_result.bars, "1d")


def test_planted_edge_is_measurable_from_prices(edge_result) -> None:
    params = edge_result.parameters
    assert params["planted_edge"] == 1.5 and params["edge_lookback"] == 20
    assert params["ideal_sharpe_realised"] == pytest.approx(1.5, abs=0.3)
    recomputed = _sign_following_sharpe(edge_result.bars, 20, params["bars_per_year"])
    assert recomputed == pytest.approx(params["ideal_sharpe_realised"], abs=0.02)
    # Filling at the next open still captures the edge (it accrues open to close).
    at_open = _sign_following_sharpe(edge_result.bars, 20, params["bars_per_year"], "open")
    assert at_open > 1.2


def test_without_planted_edge_the_ideal_strategy_earns_nothing() -> None:
    plain = generate(SynthSpec(**{**EDGE.__dict__, "planted_edge": None}))
    assert plain.parameters["edge_scale"] == 0.0
    assert abs(plain.parameters["ideal_sharpe_realised"]) < 0.3
    assert abs(_sign_following_sharpe(plain.bars, 20, 252)) < 0.3


def test_regimes_switch_and_drive_volatility_and_spreads(edge_result) -> None:
    occupancy = edge_result.parameters["regime_occupancy"]
    assert set(occupancy) == {"trend", "mean_reverting", "high_volatility"}
    assert sum(occupancy.values()) == pytest.approx(1.0) and min(occupancy.values()) > 0.05
    bars = edge_result.bars
    regime = pd.Series(np.array(edge_result.regime_names)[edge_result.regimes],
                       index=_wide(bars, "close").index)
    returns = np.log(_wide(bars, "close")).diff()
    vol = returns.groupby(regime).std().mean(axis=1)
    assert vol["high_volatility"] > 2.0 * vol["trend"]
    spread = (_wide(bars, "spread") / _wide(bars, "close")).groupby(regime).mean().mean(axis=1)
    assert spread["high_volatility"] > 2.0 * spread["trend"]
    # Trend regimes are positively autocorrelated, mean-reverting ones negatively.
    lag = returns.shift(1)

    def autocorr(name: str) -> float:
        mask = (regime == name).to_numpy() & (regime.shift(1) == name).to_numpy()
        mask[:2] = False  # the first two rows have no return or no lagged return
        return float(np.corrcoef(returns[mask].stack(), lag[mask].stack())[0, 1])

    assert autocorr("trend") > 0.03 and autocorr("mean_reverting") < -0.03


def test_intraday_volume_is_u_shaped_and_ohlc_valid() -> None:
    result = generate(SynthSpec(symbols=3, bars=78 * 40, timeframe="5m", seed=5))
    bars = result.bars
    minute = bars["ts"].dt.hour * 60 + bars["ts"].dt.minute
    by_slot = bars.groupby(minute)["volume"].mean()
    assert len(by_slot) == 78
    middle = by_slot.iloc[35:43].mean()
    assert by_slot.iloc[0] > 2 * middle and by_slot.iloc[-1] > 2 * middle
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["bid"] < bars["ask"]).all() and (bars["volume"] >= 1).all()


@pytest.mark.parametrize(("timeframe", "calendar", "bars"), [
    ("1d", "XNYS", 600), ("1h", "XNYS", 700), ("1m", "XNYS", 1200), ("15m", "24x5", 800),
    ("1h", "24x7", 500),
])
def test_synthetic_bars_pass_gate0(timeframe: str, calendar: str, bars: int) -> None:
    result = generate(SynthSpec(symbols=4, bars=bars, timeframe=timeframe, calendar=calendar,
                                seed=1, regimes=True, planted_edge=1.0))
    report = assess(result.bars, dataset_id="0" * 64, timeframe=timeframe, calendar=calendar)
    assert report.passed and report.findings == ()
    assert len(result.bars) == 4 * bars


def test_build_synth_is_idempotent(ws: Workspace) -> None:
    spec = SynthSpec(symbols=2, bars=300, timeframe="1h", seed=9, regimes=True, planted_edge=2.0)
    manifest, created = build_synth(ws, spec)
    again, created_again = build_synth(ws, spec)
    assert created and not created_again and again.dataset_id == manifest.dataset_id
    assert manifest.name == "synth-1h-2x300-seed9-regimes-edge2"
    assert manifest.source.kind == "synth" and manifest.has_quotes
    assert manifest.source.parameters["edge_scale"] > 0
    assert load_snapshot(ws, manifest.name).bars().shape == (600, 10)


@pytest.mark.parametrize(("change", "field"), [
    ({"symbols": 0}, "symbols"), ({"bars": 1}, "bars"), ({"seed": -1}, "seed"),
    ({"planted_edge": -1.0}, "planted-edge"), ({"edge_lookback": 0}, "edge-lookback"),
    ({"timeframe": "2h"}, "timeframe"), ({"calendar": "NOPE"}, "calendar"),
    ({"start": "someday"}, "start"), ({"timeframe": "1d", "bars": 60_000}, "bars"),
])
def test_invalid_specs_name_the_option(change: dict[str, object], field: str) -> None:
    spec = SynthSpec(**{**SynthSpec(symbols=2, bars=100).__dict__, **change})
    with pytest.raises(TorghutError) as err:
        generate(spec)
    assert err.value.field == field
