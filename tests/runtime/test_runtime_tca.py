"""TCA: hand-computable orders (slippage sign for buys and sells, shortfall with a partial
fill and its opportunity cost, churn, latency), aggregates and the Gate 3 evidence."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.runtime.adapter_helpers import T0, req, step
from torghut.contracts.orders import Fill, Order, OrderStatus, Side
from torghut.runtime.adapters.base import CANCEL_REQUESTED
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.tca import aggregate, order_tca, summarise, tca_evidence
from torghut.sim.models import get_cost_model, get_execution_model


def order(order_id: str, side: Side, qty: float, *, arrival: float | None = 50.0,
          status: OrderStatus = OrderStatus.FILLED, reason: str | None = None,
          limit: float | None = None, symbol: str = "AAA", strategy: str = "alpha",
          cid: str | None = None, latency: float = 0.0, decided: timedelta = timedelta()
          ) -> Order:
    r = req(symbol, side, qty, limit=limit, strategy=strategy, cid=cid or f"c-{order_id}",
            ts=T0 + decided, reference_mid=arrival)
    return Order(order_id=order_id, request=r, status=status, qty=qty, reason=reason,
                 submitted_at=r.decision_ts + timedelta(seconds=latency),
                 updated_at=r.decision_ts + timedelta(seconds=latency))


def fill(o: Order, n: int, qty: float, price: float, *, commission: float = 0.0,
         spread: float = 0.0) -> Fill:
    r = o.request
    return Fill(fill_id=f"{o.order_id}-{n}", order_id=o.order_id,
                client_order_id=r.client_order_id, strategy_id=r.strategy_id,
                symbol=r.symbol, side=r.side, qty=qty, price=price, ts=r.decision_ts,
                arrival_mid=r.reference_mid, commission=commission, spread_cost=spread)


def test_slippage_sign_for_buys_and_sells() -> None:
    buy = order("b", Side.BUY, 100)
    sell = order("s", Side.SELL, 100)
    fills = [fill(buy, 1, 60, 50.10), fill(buy, 2, 40, 50.20),
             fill(sell, 1, 50, 49.90), fill(sell, 2, 50, 50.10)]
    b, s = order_tca([buy, sell], fills)
    # buy: paid 10 and 20 cents over a 50 mid = 20 and 40 bps, quantity weighted
    assert b.fill_slippage_bps == pytest.approx((0.10 / 50 * 1e4, 0.20 / 50 * 1e4))
    assert b.slippage_bps == pytest.approx((60 * 20 + 40 * 40) / 100)
    # sell: 10 cents under the mid costs +20 bps, 10 cents over earns -20 bps
    assert s.fill_slippage_bps == pytest.approx((20.0, -20.0))
    assert s.slippage_bps == pytest.approx(0.0, abs=1e-9)
    assert b.fill_ratio == 1.0 and b.shortfall_bps == pytest.approx(b.slippage_bps)


def test_shortfall_with_a_partial_fill() -> None:
    # decided: buy 100 at a 50 mid; 60 filled at 50.10 with 1.00 commission, the rest
    # cancelled while the price ran to 51 (Perold: execution + opportunity + fees)
    buy = order("b", Side.BUY, 100, status=OrderStatus.CANCELLED, reason=CANCEL_REQUESTED)
    (t,) = order_tca([buy], [fill(buy, 1, 60, 50.10, commission=1.0)], end_prices={"AAA": 51.0})
    expected = 60 * (50.10 - 50) + 40 * (51.0 - 50) + 1.0
    assert t.shortfall == pytest.approx(expected)
    assert t.shortfall_bps == pytest.approx(expected / (100 * 50) * 1e4)
    assert t.fill_ratio == pytest.approx(0.6) and t.cancels == 1
    # a sell that the market ran away from: the price fell to 49 after a partial fill
    sell = order("s", Side.SELL, 100, status=OrderStatus.CANCELLED, reason=CANCEL_REQUESTED)
    (u,) = order_tca([sell], [fill(sell, 1, 60, 49.90)], end_prices={"AAA": 49.0})
    assert u.shortfall == pytest.approx(60 * 0.10 + 40 * 1.0)
    # no end price: the opportunity cost is unknown, so is the shortfall
    (v,) = order_tca([buy], [fill(buy, 1, 60, 50.10)])
    assert v.shortfall is None and v.slippage_bps == pytest.approx(20.0)


def test_churn_latency_crossing_and_capture() -> None:
    first = order("o1", Side.BUY, 10, status=OrderStatus.REPLACED, cid="same", latency=0.5)
    second = order("o2", Side.BUY, 10, cid="same", latency=2.5, limit=49.0)
    cancelled = order("o3", Side.SELL, 5, status=OrderStatus.CANCELLED,
                      reason=CANCEL_REQUESTED, latency=1.5)
    model_cancel = order("o4", Side.SELL, 5, status=OrderStatus.CANCELLED,
                         reason="NOT_FILLED", latency=1.0)
    fills = [fill(second, 1, 10, 49.0, spread=0.05 * 10)]
    records = order_tca([first, second, cancelled, model_cancel], fills,
                        end_prices={"AAA": 50.0})
    assert [r.latency_s for r in records] == [0.5, 2.5, 1.5, 1.0]
    assert [r.decided_qty for r in records] == [0.0, 10, 5, 5]  # the replaced rest moved on
    assert records[1].crossing_cost_bps == pytest.approx(0.5 / (10 * 49.0) * 1e4)
    assert records[1].spread_capture_bps == pytest.approx(1.0 / 50 * 1e4)  # a limit, 1 under
    assert records[2].spread_capture_bps is None  # market orders cross by design
    s = summarise(records)
    # 3 submissions (o1/o2 share a client id); messages: one replace, one cancel request
    assert (s.orders, s.replaces, s.cancels) == (3, 1, 1)
    assert s.churn == pytest.approx(2 / 3)
    assert s.fill_ratio == pytest.approx(10 / 20)
    assert s.latency_p50_s == pytest.approx(float(np.median([0.5, 2.5, 1.5, 1.0])))
    assert s.fills == 1 and s.slippage_bps == pytest.approx(-200.0)


def test_aggregates_per_symbol_strategy_session() -> None:
    a = order("a", Side.BUY, 10, symbol="AAA", strategy="alpha")
    b = order("b", Side.BUY, 10, symbol="BBB", strategy="alpha", arrival=100.0)
    c = order("c", Side.SELL, 10, symbol="AAA", strategy="beta", decided=timedelta(days=1))
    fills = [fill(a, 1, 10, 50.05), fill(b, 1, 10, 100.30), fill(c, 1, 10, 49.90)]
    records = order_tca([a, b, c], fills)
    by_symbol = {s.key: s for s in aggregate(records, "symbol")}
    assert set(by_symbol) == {"AAA", "BBB"}
    # AAA: +10 bps (buy 5c over) and +20 bps (sell 10c under), equal arrival notional
    assert by_symbol["AAA"].slippage_bps == pytest.approx(15.0)
    assert by_symbol["BBB"].slippage_bps == pytest.approx(30.0)
    slips = [10.0, 30.0, 20.0]
    overall = summarise(records)
    assert overall.slippage_p50_bps == pytest.approx(float(np.quantile(slips, 0.5)))
    assert overall.slippage_p95_bps == pytest.approx(float(np.quantile(slips, 0.95)))
    # notional weighted: (10·50·10 + 10·100·30 + 10·50·20) / (10·50 + 10·100 + 10·50)
    assert overall.slippage_bps == pytest.approx((5000 * 10 + 10000 * 30 + 5000 * 20) / 20000)
    by_strategy = {s.key for s in aggregate(records, "strategy")}
    assert by_strategy == {"tsmom@1.0.0"}  # strategies are named type@version
    by_session = {s.key: s.orders for s in aggregate(records, "session")}
    assert by_session == {T0.date().isoformat(): 2, (T0 + timedelta(days=1)).date().isoformat(): 1}
    named = {s.key for s in aggregate(order_tca([a], fills, session="paper-1"), "session")}
    assert named == {"paper-1"}


def test_tca_evidence_for_one_strategy_over_a_window() -> None:
    inside = order("a", Side.BUY, 10)
    later = order("b", Side.BUY, 10, decided=timedelta(days=3))
    other = order("c", Side.BUY, 10, strategy="beta", cid="c-other")
    other = other.model_copy(update={"request": other.request.model_copy(
        update={"strategy_type": "meanrev"})})
    records = order_tca([inside, later, other],
                        [fill(inside, 1, 10, 50.05), fill(later, 1, 10, 50.5),
                         fill(other, 1, 10, 51.0)])
    ev = tca_evidence(records, "tsmom@1.0.0", T0, T0 + timedelta(days=1))
    assert (ev.orders, ev.fills) == (1, 1)
    assert ev.slippage_bps == pytest.approx(10.0) and ev.shortfall_bps == pytest.approx(10.0)
    assert ev.churn == 0.0 and ev.strategy == "tsmom@1.0.0"
    empty = tca_evidence(records, "tsmom@1.0.0", T0 + timedelta(days=10), T0 + timedelta(days=11))
    assert (empty.orders, empty.fills, empty.slippage_bps, empty.churn) == (0, 0, None, None)


def test_paper_fills_give_the_simulators_slippage() -> None:
    """TCA over a paper session uses the same per-fill definition as the simulator's table."""
    adapter = PaperAdapter(get_execution_model("exec-v1"), get_cost_model("costs-v1"),
                           capital=1e6)
    adapter.on_bar(step(0, AAA=100.0))
    adapter.submit(req(qty=30), idempotency_key="k")
    adapter.submit(req(side=Side.SELL, qty=20), idempotency_key="l")
    for i in range(1, 4):
        adapter.on_bar(step(i, AAA=100.0 + i))
    records = order_tca(adapter.orders(), adapter.fills)
    got = [s for r in records for s in r.fill_slippage_bps]
    want = [f.side.sign * (f.price - f.arrival_mid) / f.arrival_mid * 1e4  # type: ignore[operator]
            for f in adapter.fills]
    assert len(got) == 2 and got == pytest.approx(want)
    assert got[0] > 0 and got[1] < 0  # a buy into a rising market pays; a sell gains
