"""Execution adapters: submit/cancel/replace/status, idempotency, standard codes, the paper
broker's parity with the simulator, and the shadow adapter that sends nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.runtime.adapter_helpers import PLAIN, T0, ZERO, paper, req, step
from torghut.contracts.orders import (
    AdapterCode,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.data.bars import canonical_bars
from torghut.runtime.adapters import paper as paper_module
from torghut.runtime.adapters.base import (
    CANCEL_REQUESTED,
    AdapterEventKind,
    ExecutionAdapter,
    is_increase,
    replacement_request,
)
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.adapters.shadow import ShadowAdapter
from torghut.runtime.feed import ReplayFeed, Step
from torghut.sim.engine import simulate
from torghut.sim.market import TrailingVol, market_from_bars, trailing_vol
from torghut.sim.models import get_cost_model, get_execution_model

# ----------------------------------------------------------------------- calls and codes


def test_adapters_implement_the_protocol() -> None:
    adapters: list[ExecutionAdapter] = [paper(), ShadowAdapter(PLAIN, ZERO, capital=1.0)]
    assert [a.name for a in adapters] == ["paper", "shadow"]


def test_submit_fills_after_latency_at_the_open() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0))
    ack = a.submit(req(qty=5), idempotency_key="k1")
    assert ack.code is AdapterCode.OK and ack.order is not None
    assert ack.order.status is OrderStatus.WORKING and ack.order.filled_qty == 0
    events = a.on_bar(step(1, AAA=103.0))
    assert [e.kind for e in events] == [AdapterEventKind.FILL]
    fill = events[0].fill
    assert fill is not None and fill.price == 103.0 and fill.qty == 5
    assert fill.arrival_mid == 100.0 and not fill.hypothetical
    assert events[0].order.status is OrderStatus.FILLED
    assert a.positions() == {"AAA": 5.0}
    assert a.positions_by_strategy() == {"alpha": {"AAA": 5.0}}
    assert a.cash == 100_000.0 - 5 * 103.0
    assert a.status(ack.order.order_id).order == events[0].order
    assert a.open_orders() == []


def test_idempotency_key_returns_the_first_result() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0))
    first = a.submit(req(cid="x-1"), idempotency_key="same")
    again = a.submit(req(cid="x-2", qty=999), idempotency_key="same")
    assert again.code is AdapterCode.DUPLICATE_KEY
    assert again.order == first.order
    assert len(a.open_orders()) == 1 and a.open_orders()[0].qty == 10  # nothing executed
    assert first.order is not None
    c1 = a.cancel(first.order.order_id, idempotency_key="cx")
    c2 = a.cancel(first.order.order_id, idempotency_key="cx")
    assert c1.code is AdapterCode.OK and c2.code is AdapterCode.DUPLICATE_KEY
    assert c2.order == c1.order
    # a failed first answer also stands
    bad = a.cancel("nope", idempotency_key="cy")
    assert bad.code is AdapterCode.UNKNOWN_ORDER
    assert a.cancel("nope", idempotency_key="cy").code is AdapterCode.DUPLICATE_KEY


@pytest.mark.parametrize(("request_kw", "code"), [
    ({"qty": 1.5}, AdapterCode.INVALID_ORDER),  # not a whole lot
    ({"symbol": "ZZZ"}, AdapterCode.VENUE_REJECT),
    ({"order_type": OrderType.LIMIT}, AdapterCode.INVALID_ORDER),  # limit without a price
])
def test_standard_codes_for_bad_orders(request_kw: dict[str, Any], code: AdapterCode) -> None:
    a = paper(symbols=["AAA"])
    base = req().model_dump()
    ack = a.submit(OrderRequest.model_validate({**base, **request_kw}), idempotency_key="k")
    assert ack.code is code and ack.order is None and ack.message
    assert a.open_orders() == []


def test_whole_lot_quantities_are_remembered_and_the_memory_is_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paper_module, "_WHOLE_LOTS_KEPT", 2)
    a = paper()
    for i, qty in enumerate((10.0, 10.0, 1.5, 10.0, 20.0, 30.0, 1.5, 10.0)):
        ack = a.submit(req(qty=qty), idempotency_key=f"k{i}")
        assert ack.ok is qty.is_integer(), (qty, ack.message)
        assert qty.is_integer() or "not a multiple of the lot size" in ack.message
        assert len(a._whole_lots) <= 2


def test_market_order_with_price_and_reused_client_id_are_invalid() -> None:
    a = paper()
    base = req(cid="dup").model_dump()
    bad = OrderRequest.model_validate({**base, "limit_price": 5.0})
    assert a.submit(bad, idempotency_key="k0").code is AdapterCode.INVALID_ORDER
    assert a.submit(req(cid="dup"), idempotency_key="k1").ok
    again = a.submit(req(cid="dup"), idempotency_key="k2")
    assert again.code is AdapterCode.INVALID_ORDER and "already used" in again.message


def test_cancel_and_replace_codes() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(qty=4), idempotency_key="s").order
    assert order is not None
    assert a.cancel("missing", idempotency_key="c0").code is AdapterCode.UNKNOWN_ORDER
    assert a.status("missing").code is AdapterCode.UNKNOWN_ORDER
    assert a.replace("missing", qty=1, idempotency_key="r0").code is AdapterCode.UNKNOWN_ORDER
    assert (a.replace(order.order_id, limit_price=90.0, idempotency_key="r1").code
            is AdapterCode.INVALID_ORDER)  # a market order has no limit price
    assert a.replace(order.order_id, idempotency_key="r2").code is AdapterCode.INVALID_ORDER
    assert a.replace(order.order_id, qty=-1, idempotency_key="r3").code is AdapterCode.INVALID_ORDER
    a.on_bar(step(1, AAA=100.0))  # fills
    assert a.cancel(order.order_id, idempotency_key="c1").code is AdapterCode.NOT_OPEN
    assert a.replace(order.order_id, qty=2, idempotency_key="r4").code is AdapterCode.NOT_OPEN


def test_cancel_immediately_by_default() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(limit=50.0), idempotency_key="s").order
    assert order is not None
    ack = a.cancel(order.order_id, idempotency_key="c")
    assert ack.ok and ack.order is not None and ack.order.status is OrderStatus.CANCELLED
    assert ack.order.reason == CANCEL_REQUESTED
    assert a.open_orders() == [] and a.on_bar(step(1, AAA=40.0)) == []


def test_delayed_cancel_keeps_working_until_acknowledged() -> None:
    a = paper(cancel_ack_delay_bars=2)
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(limit=95.0, qty=3), idempotency_key="s").order
    assert order is not None
    ack = a.cancel(order.order_id, idempotency_key="c")
    assert ack.ok and ack.order is not None and ack.order.status is OrderStatus.WORKING
    assert "pending" in ack.message
    assert a.cancel(order.order_id, idempotency_key="c2").message == "cancel already pending"
    assert a.replace(order.order_id, qty=1, idempotency_key="r").code is AdapterCode.INVALID_ORDER
    # bar 1: still working and may still fill (low 99 does not trade through 95: no fill)
    assert a.on_bar(step(1, AAA=100.0)) == []
    assert [o.order_id for o in a.open_orders()] == [order.order_id]
    events = a.on_bar(step(2, AAA=50.0))  # would trade through, but the cancel lands first
    assert [e.kind for e in events] == [AdapterEventKind.CANCEL_ACK]
    assert events[0].order.status is OrderStatus.CANCELLED and a.positions() == {}


def test_fill_before_a_delayed_cancel_is_acknowledged_as_ended() -> None:
    a = paper(cancel_ack_delay_bars=3)
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(qty=2), idempotency_key="s").order
    assert order is not None
    a.cancel(order.order_id, idempotency_key="c")
    events = a.on_bar(step(1, AAA=101.0))
    assert [e.kind for e in events] == [AdapterEventKind.FILL, AdapterEventKind.CANCEL_ACK]
    assert events[1].order.status is OrderStatus.FILLED
    assert "before the cancel" in events[1].message


def test_replace_creates_a_new_order_for_the_rest() -> None:
    a = paper(PLAIN.model_copy(update={"participation_rate": 0.0001}))  # 1 share per bar
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(qty=5, limit=200.0), idempotency_key="s").order
    assert order is not None
    a.on_bar(step(1, AAA=100.0))
    assert a.status(order.order_id).order.filled_qty == 1  # type: ignore[union-attr]
    ack = a.replace(order.order_id, qty=2, limit_price=150.0, idempotency_key="r")
    assert ack.ok and ack.order is not None
    new = ack.order
    assert new.order_id != order.order_id and new.qty == 2
    assert new.request.limit_price == 150.0
    assert new.request.client_order_id == order.request.client_order_id
    old = a.status(order.order_id).order
    assert old is not None and old.status is OrderStatus.REPLACED and old.filled_qty == 1
    a.on_bar(step(2, AAA=100.0))
    a.on_bar(step(3, AAA=100.0))
    assert a.status(new.order_id).order.status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert a.positions() == {"AAA": 3.0}
    fills = a.fills
    assert [f.arrival_mid for f in fills] == [100.0] * 3  # the arrival survives the replace


def test_increase_rule() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0))
    order = a.submit(req(qty=10, limit=99.0), idempotency_key="s").order
    assert order is not None
    assert not is_increase(order, replacement_request(order, qty=5))
    assert is_increase(order, replacement_request(order, qty=11))
    assert is_increase(order, replacement_request(order, limit_price=99.5))
    assert not is_increase(order, replacement_request(order, limit_price=98.0))
    sell = a.submit(req(qty=10, limit=99.0, side=Side.SELL), idempotency_key="t").order
    assert sell is not None
    assert is_increase(sell, replacement_request(sell, limit_price=98.0))


def test_halt_rejects_or_carries_per_model() -> None:
    a = paper()
    a.on_bar(step(0, AAA=100.0, BBB=10.0))
    order = a.submit(req(), idempotency_key="s").order
    assert order is not None
    events = a.on_bar(step(1, BBB=10.0))  # AAA has no bar: halted
    assert events[0].kind is AdapterEventKind.ORDER_UPDATE
    assert events[0].order.status is OrderStatus.REJECTED and events[0].order.reason == "HALTED"
    b = paper(PLAIN.model_copy(update={"on_halt": "carry"}))
    b.on_bar(step(0, AAA=100.0, BBB=10.0))
    b.submit(req(), idempotency_key="s")
    assert b.on_bar(step(1, BBB=10.0)) == []
    assert b.on_bar(step(2, AAA=104.0))[0].fill.price == 104.0  # type: ignore[union-attr]


def test_participation_cap_and_collar() -> None:
    a = paper(PLAIN.model_copy(update={"participation_rate": 0.0003, "remainder": "cancel",
                                       "collar_pct": 0.05}))
    a.on_bar(step(0, AAA=100.0))
    capped = a.submit(req(qty=10), idempotency_key="s").order
    far = a.submit(req(qty=10, limit=80.0), idempotency_key="t").order
    assert capped is not None and far is not None
    events = a.on_bar(step(1, AAA=100.0))
    by_id = {e.order.order_id: e for e in events}
    assert by_id[capped.order_id].fill.qty == 3  # type: ignore[union-attr]
    assert by_id[capped.order_id].order.status is OrderStatus.CANCELLED
    assert by_id[capped.order_id].order.reason == "PARTICIPATION_CAP"
    assert by_id[far.order_id].order.status is OrderStatus.REJECTED
    assert by_id[far.order_id].order.reason == "PRICE_COLLAR"


# ----------------------------------------------------------------------- parity with sim


def _parity_bars(seed: int = 11, n: int = 160) -> pd.DataFrame:
    """Three symbols: halts, zero-volume bars, thin volume (caps bite), one quoted symbol."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, sym in enumerate(("AAA", "BBB", "CCC")):
        px = (40.0 + 30 * j) * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        for t in range(n):
            if t > 5 and rng.random() < 0.06:
                continue  # halted / no trade
            o, c = px[t - 1] if t else px[0], px[t]
            row = {"ts": T0 + timedelta(days=t), "symbol": sym, "open": o,
                   "high": max(o, c) * (1 + abs(rng.normal(0, 0.01))),
                   "low": min(o, c) * (1 - abs(rng.normal(0, 0.01))), "close": c,
                   "volume": 0.0 if rng.random() < 0.03 else float(rng.integers(200, 4000))}
            if j == 1 and rng.random() < 0.8:
                row["bid"], row["ask"] = c * 0.9995, c * 1.0005
            rows.append(row)
    return canonical_bars(pd.DataFrame(rows))


def _parity_orders(bars: pd.DataFrame, seed: int = 5, n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = bars.iloc[rng.choice(len(bars) - 30, n, replace=False)].sort_values(
        ["ts", "symbol"], kind="stable")
    kind = rng.choice(["market", "limit"], n)
    # limits within ±3% of the decision close; a few far away (the collar)
    offset = rng.normal(0, 0.015, n) + np.where(rng.random(n) < 0.1, 0.3, 0.0)
    return pd.DataFrame({
        "ts": pick["ts"].to_numpy(), "symbol": pick["symbol"].to_numpy(),
        "side": rng.choice(["buy", "sell"], n), "qty": rng.integers(1, 900, n).astype(float),
        "type": kind,
        "limit_price": np.where(kind == "limit", pick["close"].to_numpy() * (1 - offset),
                                np.nan)})


def _steps(bars: pd.DataFrame) -> Iterator[Step]:
    return ReplayFeed(bars, timeframe="1d", source="test").steps()


def _paper_run(adapter: PaperAdapter, bars: pd.DataFrame, orders: pd.DataFrame) -> None:
    by_ts = {ts: grp for ts, grp in orders.groupby("ts", sort=False)}
    for i, st in enumerate(_steps(bars)):
        adapter.on_bar(st)
        for j, row in enumerate(by_ts.get(pd.Timestamp(st.ts_ns, tz="UTC"),
                                          orders.iloc[:0]).itertuples()):
            limit = None if row.type == "market" else float(row.limit_price)
            r = req(str(row.symbol), Side(row.side), float(row.qty), limit=limit,
                    ts=st.ts, cid=f"p-{i}-{j}")
            assert adapter.submit(r, idempotency_key=r.client_order_id).ok


SIM_STATUS = {"filled": {OrderStatus.FILLED}, "cancelled": {OrderStatus.CANCELLED},
              "rejected": {OrderStatus.REJECTED},
              "open_at_end": {OrderStatus.WORKING, OrderStatus.PARTIALLY_FILLED}}


@pytest.mark.parametrize(("execution", "costs"), [
    (get_execution_model("exec-v1"), get_cost_model("costs-pessimistic")),
    (get_execution_model("exec-v1").model_copy(update={
        "model_id": "x", "remainder": "cancel", "on_halt": "carry", "latency_bars": 2,
        "participation_rate": 0.05, "collar_pct": 0.02, "spread_source": "model"}),
     get_cost_model("costs-v1")),
    (get_execution_model("exec-ideal"), get_cost_model("costs-pessimistic")),
])
def test_paper_fills_match_the_simulator(execution: ExecutionModel, costs: CostModel) -> None:
    bars = _parity_bars()
    orders = _parity_orders(bars)
    market = market_from_bars(bars, execution)
    sim = simulate(market, None, execution, costs, capital=1e6, orders=orders)
    adapter = PaperAdapter(execution, costs, capital=1e6)
    _paper_run(adapter, bars, orders)

    sf, pf = sim.fills, adapter.fills
    assert len(sf) > 40 and len(pf) == len(sf)
    ids = [o.order_id for o in adapter.orders()]
    assert [ids.index(f.order_id) for f in pf] == sf["order_id"].tolist()
    for col, got in (("price", [f.price for f in pf]), ("qty", [f.qty for f in pf]),
                     ("commission", [f.commission for f in pf]),
                     ("spread_cost", [f.spread_cost for f in pf]),
                     ("impact_cost", [f.impact_cost for f in pf]),
                     ("penalty", [f.penalty for f in pf]),
                     ("arrival_mid", [f.arrival_mid for f in pf])):
        np.testing.assert_allclose(np.array(got, dtype=float), sf[col].to_numpy(), rtol=0,
                                   atol=1e-9, err_msg=col)
    assert [f.ts for f in pf] == list(sf["ts"])
    assert [f.symbol for f in pf] == list(sf["symbol"])
    if costs.impact_eta > 0:
        assert (sf["impact_cost"] > 0).any()  # the sqrt-impact path was exercised
    # every order ends the same way, for the same reason
    so, po = sim.orders, adapter.orders()
    assert len(po) == len(so) == len(orders)
    for (_, s), p in zip(so.iterrows(), po, strict=True):
        assert p.status in SIM_STATUS[s["status"]], (s, p)
        assert (p.reason or "") == ("" if s["reason"] == "END_OF_DATA" else s["reason"])
        assert abs(p.filled_qty - s["filled"]) <= 1e-9
    reasons = set(so["reason"])
    assert {"HALTED", "ZERO_VOLUME", "NOT_FILLED"} & reasons or execution.on_halt == "carry"
    assert abs(adapter.cash - sim.cash[-1]) <= 1e-6
    assert abs(adapter.equity() - sim.equity[-1]) <= 1e-6
    sim_pos = dict(zip(market.symbols, sim.positions[-1], strict=True))
    assert adapter.positions() == {s: q for s, q in sim_pos.items() if q != 0.0}


def test_streaming_volatility_equals_the_simulators() -> None:
    rng = np.random.default_rng(3)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (400, 2)), axis=0))
    close[rng.random(close.shape) < 0.1] = np.nan  # halts: the estimate carries
    for window in (2, 20):
        batch = trailing_vol(close, window)
        for s in range(2):
            tv, streamed = TrailingVol(window), []
            for c in close[:, s]:
                streamed.append(tv.value)
                tv.update(c)
            assert np.array_equal(np.array(streamed), batch[:, s], equal_nan=True)


# ----------------------------------------------------------------------- shadow


def test_shadow_records_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the shadow adapter opened a connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    s = ShadowAdapter(PLAIN, ZERO, capital=10_000.0)
    s.record_intent({"strategy": "alpha", "symbol": "AAA", "target": 0.5})
    s.on_bar(step(0, AAA=100.0))
    r = req(qty=3)
    ack = s.submit(r, idempotency_key=r.client_order_id)
    assert ack.ok
    events = s.on_bar(step(1, AAA=102.0))
    fill = events[0].fill
    assert fill is not None and fill.hypothetical and fill.price == 102.0
    assert s.intents == [{"strategy": "alpha", "symbol": "AAA", "target": 0.5}]
    assert s.requests == [r]
    assert s.sent == 0
    assert s.positions() == {"AAA": 3.0}  # hypothetical book


def test_shadow_and_paper_give_the_same_hypothetical_fills() -> None:
    bars = _parity_bars(seed=4, n=60)
    orders = _parity_orders(bars, seed=9, n=20)
    ex, co = get_execution_model("exec-v1"), get_cost_model("costs-v1")
    p, s = PaperAdapter(ex, co, capital=1e6), ShadowAdapter(ex, co, capital=1e6)
    _paper_run(p, bars, orders)
    _paper_run(s, bars, orders)
    assert p.fills and all(f.hypothetical for f in s.fills)
    assert [(f.price, f.qty) for f in s.fills] == [(f.price, f.qty) for f in p.fills]
