"""Shared by the adapter, firewall, reconciliation and TCA tests: requests and bar steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pandas as pd

from torghut.contracts.orders import OrderRequest, OrderType, Side
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.feed import Bar, Step

T0 = datetime(2024, 1, 2, tzinfo=UTC)
PLAIN = ExecutionModel(model_id="t-plain", participation_rate=None, collar_pct=None,
                       min_spread_bps=0.0, spread_vol_k=0.0)
ZERO = CostModel(model_id="t-zero", spread_crossing=False)
_ids = count(1)


def req(symbol: str = "AAA", side: Side = Side.BUY, qty: float = 10.0, *,
        limit: float | None = None, ts: datetime = T0, strategy: str = "alpha",
        cid: str | None = None, **extra: Any) -> OrderRequest:
    kind = extra.pop("order_type", OrderType.LIMIT if limit is not None else OrderType.MARKET)
    return OrderRequest(client_order_id=cid or f"c-{next(_ids)}", strategy_id=strategy,
                        strategy_type="tsmom", version="1.0.0", operator="ops@example",
                        symbol=symbol, side=side, qty=qty, order_type=kind,
                        limit_price=limit, decision_ts=ts, **extra)


def step(i: int, **prices: float | None) -> Step:
    """Bars at step i: symbol=price (open=close=price, high/low ±1, volume 1e4); None = no bar."""
    ts = T0 + timedelta(days=i)
    ns = int(pd.Timestamp(ts).value)
    bars = tuple(Bar(s, ns, p, p + 1, p - 1, p, 1e4) for s, p in sorted(prices.items())
                 if p is not None)
    return Step(ns, bars)


def paper(execution: ExecutionModel = PLAIN, costs: CostModel = ZERO, **kw: Any) -> PaperAdapter:
    return PaperAdapter(execution, costs, capital=100_000.0, **kw)
