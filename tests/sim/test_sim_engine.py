"""Hand-computed cases for every execution rule of the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.sim.sim_helpers import NO_COSTS, PLAIN_EXEC, bars, flat, market, run
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.errors import TorghutError
from torghut.sim.engine import simulate
from torghut.sim.market import market_from_bars
from torghut.sim.models import get_cost_model, get_execution_model

NAN = np.nan


def test_latency_never_fills_on_the_signal_bar() -> None:
    rows = [(100, 101, 99, 100, 1e6), (102, 103, 101, 102, 1e6), (104, 105, 103, 104, 1e6),
            (106, 107, 105, 106, 1e6)]
    one = run(bars(rows), [1, 1, 1, 1])
    assert one.fills["bar"].tolist() == [1]
    assert one.fills["price"].iloc[0] == 102.0  # the next bar's open
    assert one.fills["arrival_mid"].iloc[0] == 100.0  # close of the decision bar
    assert one.positions[0, 0] == 0.0
    two = run(bars(rows), [1, 1, 1, 1], latency_bars=2)
    assert two.fills["bar"].tolist() == [2]
    assert two.fills["price"].iloc[0] == 104.0
    with pytest.raises(ValueError, match="latency_bars"):
        PLAIN_EXEC.model_validate({**PLAIN_EXEC.model_dump(), "latency_bars": 0})


def test_market_orders_fill_at_open_plus_minus_half_spread() -> None:
    rows = [(100, 101, 99, 100, 1e6), (101, 102, 100, 101, 1e6), (103, 104, 102, 103, 1e6)]
    frame = bars(rows, spread=[0.2, 0.4, 0.6])
    costs = CostModel(model_id="spread-only")
    res = run(frame, [1, -1, -1], costs=costs, capital=10_000)
    buy, sell = res.fills.iloc[0], res.fills.iloc[1]
    assert buy["side"] == "buy" and buy["price"] == pytest.approx(101 + 0.2)
    assert buy["qty"] == pytest.approx(100.0)  # 10,000 / close 100
    assert buy["spread_cost"] == pytest.approx(0.2 * 100)
    assert sell["side"] == "sell" and sell["price"] == pytest.approx(103 - 0.3)
    # Short target sized on equity at the close of bar 1: 10,000 - 20 + 100 × 1 = 10,080.
    equity_1 = 10_000 - 100 * 101.2 + 100 * 101
    assert res.equity[1] == pytest.approx(equity_1)
    assert sell["qty"] == pytest.approx(100 + equity_1 / 101)


def test_limit_fills_only_when_traded_through() -> None:
    # Buy limit at the arrival mid (close 100). Bar 1 touches 100 exactly: no fill.
    touch = [(100, 101, 99, 100, 1e6), (100.5, 101, 100, 100.5, 1e6)]
    res = run(bars(touch), [1, 1], order_type="limit", remainder="cancel")
    assert res.fills.empty
    order = res.orders.iloc[0]
    assert (order["status"], order["reason"]) == ("cancelled", "NOT_FILLED")
    assert order["limit_price"] == 100.0
    through = [(100, 101, 99, 100, 1e6), (100.5, 101, 99.9, 100.5, 1e6)]
    res = run(bars(through), [1, 1], order_type="limit")
    assert res.fills["price"].tolist() == [100.0]  # at the limit, never better than open


def test_limit_and_stop_gaps_fill_at_the_open() -> None:
    gap_down = [(100, 101, 99, 100, 1e6), (97, 98, 96, 97, 1e6)]
    res = run(bars(gap_down), [1, 1], order_type="limit", limit_offset_bps=100)  # limit 99
    assert res.fills["price"].tolist() == [97.0]
    gap_up = [(100, 101, 99, 100, 1e6), (103, 104, 102, 103, 1e6)]
    res = run(bars(gap_up), [1, 1], order_type="stop", stop_offset_bps=100)  # stop 101
    assert res.fills["price"].tolist() == [103.0]
    sell_gap = [(100, 101, 99, 100, 1e6), (96, 97, 95, 96, 1e6)]
    res = run(bars(sell_gap), [-1, -1], order_type="stop", stop_offset_bps=100)  # stop 99
    assert res.fills["price"].tolist() == [96.0]


def test_stop_triggers_on_high_and_fills_at_stop() -> None:
    rows = [(100, 101, 99, 100, 1e6), (100, 100.5, 99.5, 100, 1e6),
            (100.2, 101.5, 100, 101, 1e6)]
    res = run(bars(rows), [1, 1, 1], order_type="stop", stop_offset_bps=100)  # stop 101
    assert res.fills["bar"].tolist() == [2]  # bar 1's high 100.5 < 101: not triggered
    assert res.fills["price"].tolist() == [101.0]


def test_participation_cap_carries_the_remainder() -> None:
    rows = flat(5, volume=100.0)
    res = run(bars(rows), [0.25] * 5, participation_rate=0.1, capital=10_000)
    # Target 25 shares; 10 % of 100 shares a bar: 10, 10, 5.
    assert res.fills["qty"].tolist() == [10.0, 10.0, 5.0]
    assert res.fills["bar"].tolist() == [1, 2, 3]
    assert res.orders["status"].tolist() == ["filled"]
    assert res.fills["type"].tolist() == ["market"] * 3
    assert res.fills["bar_volume"].tolist() == [100.0] * 3


def test_participation_cap_cancel_reissues_at_next_decision() -> None:
    res = run(bars(flat(6, volume=100.0)), [0.25] * 6, participation_rate=0.1,
              remainder="cancel", capital=10_000)
    first = res.orders.iloc[0]
    assert (first["status"], first["reason"], first["filled"]) == (
        "cancelled", "PARTICIPATION_CAP", 10.0)
    # Cancelled at bar 1; re-issued at the close of bar 1, active at bar 2.
    assert res.orders["active_ts"].iloc[1] == res.market.ts[2]
    assert res.fills["qty"].tolist() == [10.0, 10.0, 5.0]
    assert res.fills["bar"].tolist() == [1, 2, 3]


def test_zero_volume_and_halt_rejects() -> None:
    frame = bars([(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 0.0),
                  (100, 101, 99, 100, 1e6)])
    res = run(frame, [1, 1, 1])
    assert res.orders["reason"].tolist()[0] == "ZERO_VOLUME"
    assert res.orders["status"].tolist()[0] == "rejected"
    assert res.fills["bar"].tolist() == [2]  # re-issued at bar 1's close
    # BBB has no bar on day 1: HALTED (or kept working under on_halt=carry).
    aaa = bars(flat(3))
    bbb = bars([(50, 51, 49, 50, 1e6)] * 3, symbol="BBB").drop(index=1)
    both = pd.concat([aaa, bbb], ignore_index=True)
    res = run(both, [[1, 1], [1, NAN], [1, 1]])
    bbb_orders = res.orders[res.orders["symbol"] == "BBB"]
    assert bbb_orders["reason"].tolist()[0] == "HALTED"
    carried = run(both, [[1, 1], [1, NAN], [1, 1]], on_halt="carry")
    bbb_fills = carried.fills[carried.fills["symbol"] == "BBB"]
    assert bbb_fills["bar"].tolist() == [2]
    assert carried.orders["reason"].tolist().count("HALTED") == 0


def test_price_collar_rejects_far_limits() -> None:
    rows = flat(3)
    res = run(bars(rows), [1, 1, 1], order_type="limit", limit_offset_bps=1500,
              collar_pct=0.1)
    assert res.orders["reason"].iloc[0] == "PRICE_COLLAR"
    assert res.fills.empty
    inside = run(bars(rows), [1, 1, 1], order_type="limit", limit_offset_bps=50,
                 collar_pct=0.1)
    assert "PRICE_COLLAR" not in inside.orders["reason"].tolist()


def test_each_cost_component_exactly() -> None:
    rows = [(100, 101, 99, 100, 1e4)] * 25 + [(100, 102, 98, 101, 1e4)]
    frame = bars(rows, spread=[0.1] * 26)
    exposure = [0.0] * 24 + [1.0, 1.0]
    costs = CostModel(model_id="all-costs", commission_per_share=0.01, commission_bps=2.0,
                      commission_min=1.0, impact_eta=0.5, turnover_penalty_bps=3.0)
    ex = PLAIN_EXEC.model_copy(update={"vol_window": 5})
    m = market(frame, ex)
    res = simulate(m, np.asarray(exposure).reshape(-1, 1), ex, costs, capital=10_000)
    fill = res.fills.iloc[0]
    q = 100.0  # 10,000 / 100
    sigma = m.sigma[25, 0]
    assert sigma == 0.0  # flat closes before bar 25
    impact_ps = 0.5 * sigma * np.sqrt(q / 1e4) * 100.0
    price = 100 + 0.05 + impact_ps
    assert fill["price"] == pytest.approx(price)
    assert fill["commission"] == pytest.approx(max(1.0, 0.01 * q + 2e-4 * q * price))
    assert fill["penalty"] == pytest.approx(3e-4 * q * price)
    assert fill["spread_cost"] == pytest.approx(0.05 * q)
    assert res.cash[25] == pytest.approx(10_000 - q * price - fill["commission"]
                                         - fill["penalty"])


def test_impact_uses_trailing_sigma() -> None:
    closes = [100, 101, 99, 102, 100, 103]
    rows = [(c, c + 1, c - 1, c, 1e4) for c in closes]
    costs = CostModel(model_id="impact-only", spread_crossing=False, impact_eta=1.0)
    ex = PLAIN_EXEC.model_copy(update={"vol_window": 3})
    m = market(bars(rows), ex)
    expected = np.std(np.diff(np.log(closes[:5]))[-3:], ddof=1)  # returns up to close 4
    assert m.sigma[5, 0] == pytest.approx(expected)
    res = simulate(m, np.array([0, 0, 0, 0, 0.5, 0.5]).reshape(-1, 1), ex, costs,
                   capital=10_000)
    fill = res.fills.iloc[0]
    q = 50.0
    assert fill["impact_cost"] == pytest.approx(expected * np.sqrt(q / 1e4) * 103 * q)
    assert fill["price"] == pytest.approx(103 * (1 + expected * np.sqrt(q / 1e4)))


def test_modelled_spread_is_point_in_time() -> None:
    ex = PLAIN_EXEC.model_copy(update={"min_spread_bps": 2.0, "spread_vol_k": 0.1,
                                       "vol_window": 3})
    closes = [100, 101, 99, 102, 100, 150]
    rows = [(c, c + 1, c - 1, c, 1e4) for c in closes]
    m = market(bars(rows), ex)
    sigma4 = np.std(np.diff(np.log(closes[:4]))[-3:], ddof=1)
    assert m.half[4, 0] == pytest.approx(max(2.0, 0.1 * sigma4 * 1e4) / 1e4 * 100 / 2)
    assert m.half[0, 0] == pytest.approx(2.0 / 1e4 * 100 / 2)  # floor before any history
    changed = market(bars([*rows[:5], (150, 300, 50, 200, 1e4)]), ex)  # same open
    assert changed.half[5, 0] == m.half[5, 0]  # bar 5's own move is not used


def test_accounting_invariant_on_real_sample(sample_bars: pd.DataFrame) -> None:
    ex, costs = get_execution_model("exec-v1"), get_cost_model("costs-pessimistic")
    bars_ = sample_bars.drop(index=sample_bars.index[100:130])  # a halt on both symbols
    m = market_from_bars(bars_, ex)
    rng = np.random.default_rng(3)
    exp = np.round(rng.uniform(-1, 1, m.shape) * (rng.random(m.shape) < 0.05), 2)
    exp = pd.DataFrame(np.where(exp == 0, np.nan, exp)).ffill().fillna(0.0).to_numpy()
    res = simulate(m, exp, ex, costs, capital=1e6)
    closes = pd.DataFrame(m.close).ffill().fillna(0.0).to_numpy()
    np.testing.assert_allclose(res.equity, res.cash + (res.positions * closes).sum(axis=1),
                               rtol=1e-12)
    flows = np.zeros(len(m.ts))
    side = np.where(res.fills["side"] == "buy", 1.0, -1.0)
    np.add.at(flows, res.fills["bar"].to_numpy(),
              -side * res.fills["qty"] * res.fills["price"] - res.fills["commission"]
              - res.fills["penalty"])
    np.testing.assert_allclose(res.cash, 1e6 + np.cumsum(flows), rtol=1e-12)
    held = np.zeros(m.shape)
    for _, f in res.fills.iterrows():
        held[f["bar"]:, m.symbols.index(f["symbol"])] += (1 if f["side"] == "buy" else -1) \
            * f["qty"]
    np.testing.assert_allclose(res.positions, held, atol=1e-9)
    assert (res.fills["qty"] == np.floor(res.fills["qty"])).all()  # whole shares
    assert res.fills["bar"].gt(0).all()


def test_long_short_symmetry() -> None:
    rows = [(100, 101, 99, 100, 1e6), (101, 103, 100, 102, 1e6), (102, 105, 101, 104, 1e6),
            (103, 104, 98, 99, 1e6)]
    long = run(bars(rows), [1, 1, 1, 1])
    short = run(bars(rows), [-1, -1, -1, -1])
    np.testing.assert_allclose(long.equity - 10_000, -(short.equity - 10_000))
    np.testing.assert_allclose(long.positions, -short.positions)
    costs = CostModel(model_id="sym", commission_bps=1.0, commission_per_share=0.01)
    lc = run(bars(rows, spread=[0.2] * 4), [1, 1, 1, 1], costs=costs)
    sc = run(bars(rows, spread=[0.2] * 4), [-1, -1, -1, -1], costs=costs)
    assert lc.fills["spread_cost"].sum() == pytest.approx(sc.fills["spread_cost"].sum())
    # Drift from arrival 100 to open 101 helps one side and hurts the other; the half spread
    # (0.1 = 10 bps) hurts both: 100 + 10 and -100 + 10.
    assert lc.fills["slippage_bps"].iloc[0] == pytest.approx(110.0)
    assert sc.fills["slippage_bps"].iloc[0] == pytest.approx(-90.0)
    assert lc.fills["price"].iloc[0] - 101 == pytest.approx(101 - sc.fills["price"].iloc[0])


def test_deterministic(sample_bars: pd.DataFrame) -> None:
    ex, costs = get_execution_model("exec-v1"), get_cost_model("costs-v1")
    m = market_from_bars(sample_bars, ex)
    exp = np.sign(np.sin(np.arange(m.shape[0]) / 17.0))[:, None] * np.array([[1.0, -0.5]])
    a, b = simulate(m, exp, ex, costs), simulate(m, exp, ex, costs)
    np.testing.assert_array_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.orders, b.orders)


def test_explicit_order_list() -> None:
    frame = bars([(100, 101, 99, 100, 1e6), (100, 101, 98, 99, 1e6),
                  (99, 100, 97.6, 98, 1e6), (98, 99, 96, 97, 1e6)])
    m = market(frame)
    orders = pd.DataFrame({"ts": [m.ts[0], m.ts[0], m.ts[1]], "symbol": ["AAA"] * 3,
                           "side": ["buy", "buy", "sell"], "qty": [10.0, 5.0, 3.0],
                           "type": ["market", "limit", "stop"],
                           "limit_price": [NAN, 98.5, NAN], "stop_price": [NAN, NAN, 97.5]})
    res = simulate(m, None, PLAIN_EXEC, NO_COSTS, capital=10_000, orders=orders)
    assert res.fills["qty"].tolist() == [10.0, 5.0, 3.0]
    assert res.fills["price"].tolist() == [100.0, 98.5, 97.5]
    assert res.fills["bar"].tolist() == [1, 1, 3]  # stop decided at bar 1, triggers at 3
    assert res.positions[-1, 0] == 12.0
    bad = orders.assign(side=["buy", "hold", "sell"])
    with pytest.raises(TorghutError, match=r"orders\.side.*row 2"):
        simulate(m, None, PLAIN_EXEC, NO_COSTS, orders=bad)


def test_bad_inputs_raise_torghut_errors() -> None:
    frame = bars(flat(3))
    with pytest.raises(TorghutError, match="close"):
        market_from_bars(frame.assign(close=[100, NAN, 100]), PLAIN_EXEC)
    with pytest.raises(TorghutError, match="volume"):
        market_from_bars(frame.assign(volume=[1, -1, 1]), PLAIN_EXEC)
    m = market(frame)
    with pytest.raises(TorghutError, match="exposure"):
        simulate(m, np.full((3, 1), 1.5), PLAIN_EXEC, NO_COSTS)
    with pytest.raises(TorghutError, match="exposure"):
        simulate(m, np.zeros((2, 1)), PLAIN_EXEC, NO_COSTS)
    with pytest.raises(TorghutError, match="capital"):
        simulate(m, np.zeros((3, 1)), PLAIN_EXEC, NO_COSTS, capital=-1.0)
    with pytest.raises(TorghutError, match=r"execution_model.*unknown model id"):
        get_execution_model("exec-v999")
    with pytest.raises(TorghutError, match="cost_model"):
        get_cost_model("nope")


def test_registry_models_are_valid_and_pinned() -> None:
    assert isinstance(get_execution_model("exec-v1"), ExecutionModel)
    assert get_cost_model("costs-zero").spread_crossing is False
    assert get_cost_model("costs-v1").content_hash() == get_cost_model("costs-v1").content_hash()
