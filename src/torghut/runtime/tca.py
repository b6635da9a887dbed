"""Transaction cost analysis: per order, per group, and the Gate 3 evidence.

Pure functions over :class:`~torghut.contracts.orders.Order` s and their
:class:`~torghut.contracts.orders.Fill` s (plan-details "TCA metrics"). ``side`` is +1 for a
buy and −1 for a sell; ``a`` is the arrival mid (the order's ``reference_mid``, else the
arrival the adapter recorded on its fills); fill i has quantity ``q_i`` and price ``p_i``.

Per order (:class:`OrderTca`):

* decision-to-submit latency: ``submitted_at − decision_ts``, seconds;
* arrival-mid slippage, bps: ``side × (p − a) / a × 10⁴`` per fill, quantity-weighted over
  the order's fills (positive = paid versus the mid when the order was decided);
* implementation shortfall (Perold 1988, "The implementation shortfall: paper versus
  reality", Journal of Portfolio Management 14(3)): what the order cost against a paper
  portfolio that traded the whole decided quantity ``Q`` at ``a``, in account currency
  ``Σ side·q_i·(p_i − a) + side·(Q − Σq_i)·(P_end − a) + Σ commission``: execution cost, the
  opportunity cost of the unfilled rest marked at the end price ``P_end``, and explicit fees;
  in bps of ``Q·a``. The rest of a *replaced* order moved to its replacement, so a replaced
  order's decided quantity is what it filled (no opportunity cost of its own);
* spread capture versus crossing cost: crossing cost is the half spread a fill paid
  (``Fill.spread_cost``), bps of traded notional; spread capture is what a passive (limit)
  order earned against the arrival mid, ``−side·(p − a)/a × 10⁴`` quantity-weighted
  (positive: filled better than the mid; None for market orders, which cross by design);
* fill ratio: filled / decided quantity; cancel/replace messages (churn): 1 for an order the
  strategy cancelled (reason ``CANCEL_REQUESTED``), 1 for an order it replaced.

Aggregates (:func:`summarise`, :func:`aggregate` per symbol, strategy or session) weight
slippage by arrival notional of the filled quantity and shortfall by decided notional (as
:class:`~torghut.contracts.gates.TcaEvidence` specifies), take p50/p95 of per-fill slippage,
and count churn as cancel+replace messages per submitted order (distinct client order ids:
a replacement is not a new submission).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import Field

from torghut.contracts.base import Contract
from torghut.contracts.gates import TcaEvidence
from torghut.contracts.orders import Fill, Order, OrderStatus, OrderType
from torghut.runtime.adapters.base import CANCEL_REQUESTED

GroupBy = Literal["symbol", "strategy", "session"]


@dataclass(frozen=True, slots=True)
class OrderTca:
    """TCA of one order (see the module docstring for each definition)."""

    order_id: str
    client_order_id: str
    strategy_id: str
    strategy: str  # type@version, as TcaEvidence names a strategy
    symbol: str
    session: str
    side: int
    decision_ts: datetime
    latency_s: float
    qty: float
    decided_qty: float
    filled_qty: float
    arrival_mid: float | None
    end_price: float | None
    fills: int
    fill_slippage_bps: tuple[float, ...]  # empty without an arrival mid
    execution_cost: float | None  # Σ side·q·(p − a), account currency
    slippage_bps: float | None
    shortfall: float | None
    shortfall_bps: float | None
    traded_notional: float
    crossing_cost: float  # half spread paid, account currency
    passive: bool  # a limit order
    fees: float
    cancels: int
    replaces: int

    @property
    def fill_ratio(self) -> float | None:
        return self.filled_qty / self.decided_qty if self.decided_qty > 0 else None

    @property
    def crossing_cost_bps(self) -> float | None:
        return _bps(self.crossing_cost, self.traded_notional)

    @property
    def spread_capture_bps(self) -> float | None:
        return -self.slippage_bps if self.passive and self.slippage_bps is not None else None


class TcaSummary(Contract):
    """TCA aggregated over a group of orders (a symbol, a strategy, a session, a window)."""

    schema_version: Literal["1.0"] = "1.0"
    by: str
    key: str
    orders: int = Field(ge=0, description="Submitted orders (distinct client order ids)")
    fills: int = Field(ge=0)
    decided_qty: float = Field(ge=0)
    filled_qty: float = Field(ge=0)
    fill_ratio: float | None
    slippage_bps: float | None = Field(description="Arrival-notional weighted")
    slippage_p50_bps: float | None
    slippage_p95_bps: float | None
    shortfall: float | None = Field(description="Implementation shortfall, account currency")
    shortfall_bps: float | None = Field(description="Decided-notional weighted")
    crossing_cost_bps: float | None = Field(description="Half spread paid / traded notional")
    spread_capture_bps: float | None = Field(description="Limit orders: earned vs arrival mid")
    latency_p50_s: float | None
    latency_p95_s: float | None
    cancels: int = Field(ge=0)
    replaces: int = Field(ge=0)
    churn: float | None = Field(description="(cancels + replaces) / orders")


def order_tca(orders: Iterable[Order], fills: Iterable[Fill], *,
              end_prices: Mapping[str, float] | None = None,
              session: str | Callable[[Order], str] | None = None) -> list[OrderTca]:
    """One :class:`OrderTca` per order. ``end_prices`` (symbol → price at the end of the
    window) mark unfilled quantity; without one, an order with an unfilled rest has no
    shortfall (None). ``session`` names each order's session (default: the UTC date of its
    decision)."""
    by_order: dict[str, list[Fill]] = defaultdict(list)
    for fill in fills:
        by_order[fill.order_id].append(fill)
    marks = end_prices or {}
    return [_one(o, by_order.get(o.order_id, []), marks.get(o.request.symbol),
                 _session_of(o, session)) for o in orders]


def _one(order: Order, fills: Sequence[Fill], end_price: float | None,
         session: str) -> OrderTca:
    request = order.request
    side = request.side.sign
    arrival = request.reference_mid
    if arrival is None:
        arrival = next((f.arrival_mid for f in fills if f.arrival_mid is not None), None)
    filled = sum(f.qty for f in fills)
    decided = filled if order.status is OrderStatus.REPLACED else order.qty
    notional = sum(f.qty * f.price for f in fills)
    fees = sum(f.commission for f in fills)
    slips: tuple[float, ...] = ()
    execution = slippage = shortfall = shortfall_bps = None
    if arrival is not None:
        slips = tuple(side * (f.price - arrival) / arrival * 1e4 for f in fills)
        execution = sum(side * f.qty * (f.price - arrival) for f in fills)
        if filled > 0:
            slippage = sum(s * f.qty for s, f in zip(slips, fills, strict=True)) / filled
        rest = max(decided - filled, 0.0)
        opportunity: float | None = 0.0
        if rest > 1e-9:
            opportunity = None if end_price is None else side * rest * (end_price - arrival)
        if opportunity is not None:
            shortfall = execution + opportunity + fees
            shortfall_bps = _bps(shortfall, decided * arrival)
    return OrderTca(
        order_id=order.order_id, client_order_id=request.client_order_id,
        strategy_id=request.strategy_id, strategy=request.ref, symbol=request.symbol,
        session=session, side=side, decision_ts=request.decision_ts,
        latency_s=(order.submitted_at - request.decision_ts).total_seconds(),
        qty=order.qty, decided_qty=decided, filled_qty=filled, arrival_mid=arrival,
        end_price=end_price, fills=len(fills), fill_slippage_bps=slips,
        execution_cost=execution, slippage_bps=slippage,
        shortfall=shortfall, shortfall_bps=shortfall_bps, traded_notional=notional,
        crossing_cost=sum(f.spread_cost for f in fills),
        passive=request.order_type is OrderType.LIMIT, fees=fees,
        cancels=int(order.status is OrderStatus.CANCELLED and order.reason == CANCEL_REQUESTED),
        replaces=int(order.status is OrderStatus.REPLACED))


def summarise(records: Sequence[OrderTca], *, by: str = "all", key: str = "all"
              ) -> TcaSummary:
    """Aggregate a group of orders (weights and quantiles: the module docstring)."""
    slip_cost = slip_weight = capture = capture_weight = 0.0
    shortfall: float | None = None
    decided_notional = 0.0
    for r in records:
        if r.arrival_mid is None or r.execution_cost is None:
            continue
        slip_cost += r.execution_cost
        slip_weight += r.filled_qty * r.arrival_mid
        if r.passive:
            capture -= r.execution_cost
            capture_weight += r.filled_qty * r.arrival_mid
        if r.shortfall is not None:
            shortfall = (shortfall or 0.0) + r.shortfall
            decided_notional += r.decided_qty * r.arrival_mid
    fill_slips = [s for r in records for s in r.fill_slippage_bps]
    traded = sum(r.traded_notional for r in records)
    decided = sum(r.decided_qty for r in records)
    filled = sum(r.filled_qty for r in records)
    submitted = len({r.client_order_id for r in records})
    cancels = sum(r.cancels for r in records)
    replaces = sum(r.replaces for r in records)
    latencies = [r.latency_s for r in records]
    return TcaSummary(
        by=by, key=key, orders=submitted, fills=sum(r.fills for r in records),
        decided_qty=decided,
        filled_qty=filled, fill_ratio=filled / decided if decided > 0 else None,
        slippage_bps=_bps(slip_cost, slip_weight),
        slippage_p50_bps=_quantile(fill_slips, 0.5),
        slippage_p95_bps=_quantile(fill_slips, 0.95),
        shortfall=shortfall,
        shortfall_bps=_bps(shortfall, decided_notional) if shortfall is not None else None,
        crossing_cost_bps=_bps(sum(r.crossing_cost for r in records), traded),
        spread_capture_bps=_bps(capture, capture_weight),
        latency_p50_s=_quantile(latencies, 0.5), latency_p95_s=_quantile(latencies, 0.95),
        cancels=cancels, replaces=replaces,
        churn=(cancels + replaces) / submitted if submitted else None)


def aggregate(records: Iterable[OrderTca], by: GroupBy) -> list[TcaSummary]:
    """One summary per symbol, strategy (type@version) or session, sorted by key."""
    groups: dict[str, list[OrderTca]] = defaultdict(list)
    for r in records:
        groups[r.symbol if by == "symbol" else r.strategy if by == "strategy"
               else r.session].append(r)
    return [summarise(rs, by=by, key=k) for k, rs in sorted(groups.items())]


def tca_evidence(records: Iterable[OrderTca], strategy: str, start: datetime,
                 end: datetime) -> TcaEvidence:
    """Gate 3 evidence for one strategy (``type@version``) over orders decided in
    ``[start, end)``."""
    chosen = [r for r in records if r.strategy == strategy and start <= r.decision_ts < end]
    s = summarise(chosen, by="strategy", key=strategy)
    return TcaEvidence(strategy=strategy, start=start, end=end, orders=s.orders, fills=s.fills,
                       slippage_bps=s.slippage_bps, shortfall_bps=s.shortfall_bps,
                       churn=s.churn)


def _session_of(order: Order, session: str | Callable[[Order], str] | None) -> str:
    if session is None:
        return order.request.decision_ts.date().isoformat()
    return session if isinstance(session, str) else session(order)


def _bps(value: float, base: float) -> float | None:
    return value / base * 1e4 if base > 0 else None


def _quantile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation quantile (numpy's default); None when there is nothing."""
    return float(np.quantile(np.asarray(values, dtype=float), q)) if values else None

