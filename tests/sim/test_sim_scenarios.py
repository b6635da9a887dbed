"""Stress scenarios degrade the baseline in the expected direction, deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torghut.errors import TorghutError
from torghut.sim.market import market_from_bars
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.sim.scenarios import SCENARIOS, SimInputs, get_scenario, run_scenarios


@pytest.fixture(scope="module")
def inputs(sample_bars: pd.DataFrame) -> SimInputs:
    ex = get_execution_model("exec-v1")
    market = market_from_bars(sample_bars, ex)
    t = np.arange(market.shape[0])
    exposure = np.column_stack([np.sign(np.sin(t / 23.0)), 0.5 * np.sign(np.cos(t / 31.0))])
    return SimInputs(market=market, exposure=exposure, execution=ex,
                     costs=get_cost_model("costs-v1"), capital=1e6)


def test_every_scenario_runs_and_degrades(inputs: SimInputs) -> None:
    base, results = run_scenarios(inputs, 252)
    by = {r.name: r for r in results}
    assert set(by) == set(SCENARIOS)
    x2, x3 = by["spread_x2"].metrics, by["spread_x3"].metrics
    assert base.spread_cost < x2.spread_cost < x3.spread_cost
    assert x3.total_costs > x2.total_costs > base.total_costs
    assert x3.net_pnl < x2.net_pnl < base.net_pnl
    assert by["spread_x3"].delta["total_costs"] == pytest.approx(x3.total_costs
                                                                 - base.total_costs)
    assert by["spread_x3"].relative["total_costs"] == pytest.approx(
        (x3.total_costs - base.total_costs) / base.total_costs)
    assert by["pessimistic_costs"].metrics.total_costs > base.total_costs
    assert by["rejection_burst"].metrics.rejected_orders > base.rejected_orders
    assert by["liquidity_drought"].metrics.impact_cost > base.impact_cost
    assert by["delayed_data"].metrics.trade_count > 0
    for r in results:
        assert set(r.delta) == set(r.relative)
        assert r.to_dict()["metrics"]["schema_version"] == "1.0"


def test_delayed_data_adds_latency(inputs: SimInputs) -> None:
    delayed = get_scenario("delayed_data", bars=3).apply(inputs)
    assert delayed.execution.latency_bars == inputs.execution.latency_bars + 3
    res = delayed.run()
    decided = res.orders["decision_ts"].map(res.market.ts.get_loc)
    active = res.orders["active_ts"].map(res.market.ts.get_loc)
    assert (active - decided == 4).all()


def test_vol_spike_amplifies_around_the_path(inputs: SimInputs) -> None:
    spiked = get_scenario("vol_spike", start=1000, length=100, scale=3.0).apply(inputs)
    m0, m1 = inputs.market, spiked.market
    np.testing.assert_array_equal(m0.close[:1000], m1.close[:1000])
    np.testing.assert_allclose(m0.close[1099:], m1.close[1099:])
    r0 = np.diff(np.log(m0.close[1000:1100, 0]))
    r1 = np.diff(np.log(m1.close[1000:1100, 0]))
    assert r1.std() > 2.5 * r0.std()
    assert (m1.high >= np.maximum(m1.open, m1.close) - 1e-9).all()
    assert (m1.low <= np.minimum(m1.open, m1.close) + 1e-9).all()
    assert np.nanmean(m1.sigma[1050:1100]) > np.nanmean(m0.sigma[1050:1100])


def test_seeded_scenarios_are_deterministic(inputs: SimInputs) -> None:
    a = get_scenario("rejection_burst").apply(inputs).market.reject
    b = get_scenario("rejection_burst").apply(inputs).market.reject
    c = get_scenario("rejection_burst", seed=12).apply(inputs).market.reject
    np.testing.assert_array_equal(a, b)
    assert a.any() and not np.array_equal(a, c)


def test_unknown_scenario_or_parameter_raises() -> None:
    with pytest.raises(TorghutError, match="unknown scenario"):
        get_scenario("meteor")
    with pytest.raises(TorghutError, match="no parameter 'factorr'"):
        get_scenario("liquidity_drought", factorr=0.2)
