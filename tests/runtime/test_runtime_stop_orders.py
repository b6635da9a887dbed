"""Stop orders: the contract (stop_price required for a stop, forbidden otherwise), the paper
broker triggering and filling them exactly as the simulator does (same kernel rules: trigger
on the high/low, fill at the worse of open and stop, impact, collar), and the shadow adapter
recording them with hypothetical fills."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from tests.runtime.adapter_helpers import PLAIN, ZERO, req, step
from tests.runtime.test_runtime_adapters import SIM_STATUS, _parity_bars, _steps
from torghut.contracts.orders import OrderStatus, OrderType, Side
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.errors import from_validation_error
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.adapters.shadow import ShadowAdapter
from torghut.sim.engine import simulate
from torghut.sim.market import market_from_bars
from torghut.sim.models import get_cost_model, get_execution_model


def stop(symbol: str, side: Side, qty: float, trigger: float, **kw: object) -> object:
    return req(symbol, side, qty, order_type=OrderType.STOP, stop_price=trigger, **kw)


@pytest.mark.parametrize(("extra", "message"), [
    ({"order_type": OrderType.STOP}, "a stop order needs a stop_price"),
    ({"stop_price": 101.0}, "only a stop order has a stop_price"),
    ({"order_type": OrderType.STOP, "stop_price": 101.0, "limit": 102.0},
     "stop-limit is not supported"),
    ({"order_type": OrderType.STOP, "stop_price": -1.0}, "greater than 0"),
])
def test_stop_price_is_validated(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        req("AAA", Side.BUY, 10, **extra)
    line = str(from_validation_error(info.value))
    assert line.startswith("stop_price:") and message in line and "\n" not in line


def test_a_buy_stop_waits_for_its_trigger_then_fills_like_a_market_order() -> None:
    adapter = PaperAdapter(PLAIN, ZERO, capital=1e5)
    adapter.on_bar(step(0, AAA=100.0))
    ack = adapter.submit(stop("AAA", Side.BUY, 10, 103.0), idempotency_key="k")
    assert ack.ok and ack.order is not None and ack.order.status is OrderStatus.WORKING
    assert adapter.on_bar(step(1, AAA=101.0)) == []  # high 102 < 103: not triggered
    (event,) = adapter.on_bar(step(2, AAA=102.5))  # high 103.5 reaches the stop
    assert event.fill is not None and event.fill.price == 103.0  # max(open 102.5, stop 103)
    (gap,) = [e for e in (adapter.submit(stop("AAA", Side.SELL, 5, 99.0),
                                         idempotency_key="g"),) if e.ok]
    assert gap.order is not None
    (sold,) = adapter.on_bar(step(3, AAA=95.0))  # gapped down through the stop: the open
    assert sold.fill is not None and sold.fill.price == 95.0


def _stop_orders(bars: pd.DataFrame, seed: int = 7, n: int = 90) -> pd.DataFrame:
    """Stops a little beyond the decision close (buy above, sell below); a few far away."""
    rng = np.random.default_rng(seed)
    pick = bars.iloc[rng.choice(len(bars) - 30, n, replace=False)].sort_values(
        ["ts", "symbol"], kind="stable")
    side = rng.choice(["buy", "sell"], n)
    sign = np.where(side == "buy", 1.0, -1.0)
    offset = np.abs(rng.normal(0, 0.015, n)) + np.where(rng.random(n) < 0.1, 0.3, 0.0)
    return pd.DataFrame({
        "ts": pick["ts"].to_numpy(), "symbol": pick["symbol"].to_numpy(), "side": side,
        "qty": rng.integers(1, 900, n).astype(float), "type": "stop",
        "limit_price": np.nan, "stop_price": pick["close"].to_numpy() * (1 + sign * offset)})


CAPPED = {"model_id": "stops", "remainder": "cancel", "participation_rate": 0.1,
          "collar_pct": 0.02}


@pytest.mark.parametrize(("execution", "costs"), [
    (get_execution_model("exec-v1"), get_cost_model("costs-v1")),
    (get_execution_model("exec-v1").model_copy(update=CAPPED),
     get_cost_model("costs-pessimistic")),
])
def test_paper_stops_fill_like_the_simulator(execution: ExecutionModel,
                                             costs: CostModel) -> None:
    bars = _parity_bars()
    orders = _stop_orders(bars)
    sim = simulate(market_from_bars(bars, execution), None, execution, costs, capital=1e6,
                   orders=orders)
    adapter = PaperAdapter(execution, costs, capital=1e6)
    by_ts = {ts: grp for ts, grp in orders.groupby("ts", sort=False)}
    for i, st in enumerate(_steps(bars)):
        adapter.on_bar(st)
        for j, row in enumerate(by_ts.get(pd.Timestamp(st.ts_ns, tz="UTC"),
                                          orders.iloc[:0]).itertuples()):
            r = stop(str(row.symbol), Side(row.side), float(row.qty), float(row.stop_price),
                     ts=st.ts, cid=f"s-{i}-{j}")
            assert adapter.submit(r, idempotency_key=r.client_order_id).ok
    sf, pf = sim.fills, adapter.fills
    assert len(sf) > 20 and len(pf) == len(sf)
    for col, got in (("price", [f.price for f in pf]), ("qty", [f.qty for f in pf]),
                     ("commission", [f.commission for f in pf]),
                     ("impact_cost", [f.impact_cost for f in pf])):
        np.testing.assert_allclose(np.array(got, dtype=float), sf[col].to_numpy(), rtol=0,
                                   atol=1e-9, err_msg=col)
    assert [f.ts for f in pf] == list(sf["ts"])
    so, po = sim.orders, adapter.orders()
    for (_, s), p in zip(so.iterrows(), po, strict=True):
        assert p.status in SIM_STATUS[s["status"]], (s, p)
        assert (p.reason or "") == ("" if s["reason"] == "END_OF_DATA" else s["reason"])
    assert "NOT_FILLED" in set(so["reason"]) or execution.remainder == "carry"
    if execution.collar_pct is not None:
        assert "PRICE_COLLAR" in set(so["reason"])  # far stops meet the venue's collar
    assert abs(adapter.cash - sim.cash[-1]) <= 1e-6


def test_shadow_records_a_stop_and_fills_it_hypothetically() -> None:
    shadow = ShadowAdapter(PLAIN, ZERO, capital=1e5)
    shadow.on_bar(step(0, AAA=100.0))
    request = stop("AAA", Side.SELL, 10, 98.0)
    assert shadow.submit(request, idempotency_key="k").ok
    assert shadow.requests == [request] and shadow.sent == 0
    (event,) = shadow.on_bar(step(1, AAA=98.5))  # low 97.5 reaches the stop
    assert event.fill is not None and event.fill.hypothetical
    assert event.fill.price == 98.0  # min(open 98.5, stop 98)
    assert event.order.request.stop_price == 98.0
