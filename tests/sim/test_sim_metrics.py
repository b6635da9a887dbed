"""Metric conventions against independent numpy formulas, and a real plugin backtest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.sim.sim_helpers import bars, run
from torghut.contracts.simulation import CostModel
from torghut.data.calendars import bars_per_year
from torghut.sim.backtest import run_backtest
from torghut.sim.metrics import (
    backtest_metrics,
    drawdown,
    max_drawdown_duration,
    return_stats,
    round_trip_pnls,
)
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.strategies.registry import Registry
from torghut.strategies.runner import feature_set


def test_sharpe_sortino_against_numpy() -> None:
    r = np.random.default_rng(5).normal(0.0005, 0.01, 500)
    stats = return_stats(r, 252)
    assert stats.sharpe == pytest.approx(r.mean() / np.std(r, ddof=1) * np.sqrt(252))
    downside = np.sqrt(np.sum(np.where(r < 0, r, 0.0) ** 2) / (len(r) - 1))
    assert stats.sortino == pytest.approx(r.mean() / downside * np.sqrt(252))
    assert stats.volatility == pytest.approx(np.std(r, ddof=1) * np.sqrt(252))
    assert return_stats(np.zeros(10), 252).sharpe is None


def test_drawdown_baseline_includes_initial_capital() -> None:
    equity = np.array([90.0, 95.0, 110.0, 99.0, 104.5, 121.0, 120.0])
    dd = drawdown(equity, 100.0)
    np.testing.assert_allclose(dd, [-0.1, -0.05, 0.0, -0.1, -0.05, 0.0, 1 / 121 * -1])
    assert max_drawdown_duration(dd) == 2
    assert max_drawdown_duration(np.array([0, -0.1, -0.1, -0.1, 0, -0.2])) == 3


def test_round_trips_flat_to_flat_with_flip() -> None:
    fills = pd.DataFrame({"symbol": ["A"] * 3, "side": ["buy", "sell", "buy"],
                          "qty": [10.0, 15.0, 5.0], "price": [100.0, 110.0, 90.0],
                          "commission": [1.0, 3.0, 1.0], "penalty": [0.0, 0.0, 0.0]})
    # Trip 1: +10 @100 → sell 10 @110: 100 − 1 − 2 (10/15 of 3); trip 2: −5 @110 → +5 @90.
    np.testing.assert_allclose(round_trip_pnls(fills), [97.0, 100 - 1.0 - 1.0])


def test_backtest_metrics_conventions() -> None:
    rows = [(100, 101, 99, 100, 1e6), (100, 103, 99, 102, 1e6), (102, 104, 97, 98, 1e6),
            (98, 106, 97, 105, 1e6), (105, 106, 100, 101, 1e6)]
    costs = CostModel(model_id="c", commission_per_share=0.01)
    res = run(bars(rows, start="2021-01-04"), [1, 1, 1, 0, 0], costs=costs)
    m = backtest_metrics(res, 252)
    eq = res.equity
    r = eq / np.concatenate([[10_000], eq[:-1]]) - 1
    years = 4 / 365.25
    assert m.cagr == pytest.approx((eq[-1] / 10_000) ** (1 / years) - 1)
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert m.max_drawdown == pytest.approx(float((eq / np.maximum.accumulate(
        np.concatenate([[10_000], eq]))[1:] - 1).min()))
    assert m.calmar == pytest.approx(m.cagr / abs(m.max_drawdown))
    assert m.net_pnl == pytest.approx(eq[-1] - 10_000)
    assert m.gross_pnl == pytest.approx(m.net_pnl + m.commission)
    assert m.trade_count == 2 and m.round_trips == 1
    traded = float((res.fills["qty"] * res.fills["price"]).sum())
    assert m.turnover == pytest.approx(traded / eq.mean() / years)
    assert m.time_in_market == pytest.approx(3 / 5)  # held after bars 1, 2, 3
    # Slippage: buy at open 100 vs arrival 100 (0 bps), sell at open 105 vs arrival 105.
    assert m.slippage_bps == pytest.approx(0.0)
    assert m.shortfall_bps == pytest.approx(m.commission / (100 * 100 + 105 * 100) * 1e4)
    assert m.hit_rate == 1.0


def test_shortfall_counts_opportunity_cost_of_rejects() -> None:
    rows = [(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 0.0), (104, 105, 103, 104, 0.0)]
    res = run(bars(rows), [1, 1, 1])
    m = backtest_metrics(res, 252)
    # Order 1 (arrival 100) rejected at bar 1 (close 100): 0; order 2 rejected at bar 2
    # (arrival 100, close 104): 4 × 100 shares; paper 2 × 100 × 100.
    assert m.rejected_orders == 2
    assert m.shortfall_bps == pytest.approx(400 / 20_000 * 1e4)


def test_real_builtin_on_real_sample_gives_finite_metrics(sample_bars: pd.DataFrame) -> None:
    plugin = Registry.from_entry_points().plugin("sma_crossover@1.0.0")
    features = feature_set("sample", sample_bars, timeframe="1d", calendar="XNYS",
                           source="sample:us")
    bt = run_backtest(plugin, {"fast": 20, "slow": 50}, sample_bars, features,
                      calendar="XNYS", execution=get_execution_model("exec-v1"),
                      costs=get_cost_model("costs-v1"), capital=1e6)
    m = bt.metrics
    assert m.periods_per_year == bars_per_year("XNYS", "1d") == 252
    assert m.trade_count > 20 and m.total_costs > 0
    for key in ("sharpe", "sortino", "cagr", "calmar", "slippage_bps", "shortfall_bps",
                "hit_rate", "turnover", "max_drawdown"):
        value = getattr(m, key)
        assert value is not None and math.isfinite(value), key
    assert -1 < m.max_drawdown < 0
    assert m.gross_pnl > m.net_pnl
    again = run_backtest(plugin, {"fast": 20, "slow": 50}, sample_bars, features,
                         calendar="XNYS", execution=get_execution_model("exec-v1"),
                         costs=get_cost_model("costs-v1"), capital=1e6)
    assert again.metrics == m
