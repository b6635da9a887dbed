"""TCA from the ledger: order-event and fill rows back into the per-order records.

The service (``/api/tca``, the dashboard) and the Gate 3 evidence must not disagree, so both
go through :func:`torghut.runtime.tca.order_tca`: the session computes its evidence from its
in-memory orders, and the service rebuilds the same :class:`~torghut.contracts.orders.Order`
and :class:`~torghut.contracts.orders.Fill` values from what the session recorded (RTS-28).

Order-event rows do not carry everything TCA needs, so each session also stores its
:func:`marks` in its summary (key :data:`MARKS_KEY`): the price that marks each symbol's
unfilled rest at the end (opportunity cost), the arrival mid of each order that never
filled (a filled order's arrival is on its fills) and the type of each order that is not a
market order (a limit order's spread capture). An order the strategy cancelled is the one
whose last event is a ``cancel_ack`` that left it cancelled (``CANCEL_REQUESTED``).
Decision, submission and last-update times are the order's first and last event times.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.contracts.orders import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from torghut.ledger.models import FillRow, OrderEvent, RuntimeSession
from torghut.runtime.adapters.base import CANCEL_REQUESTED
from torghut.runtime.tca import OrderTca, order_tca

#: Where a session's summary keeps its :func:`marks`.
MARKS_KEY = "tca_marks"
_CANCEL_ACK = "cancel_ack"


def marks(orders: Iterable[Order], fills: Iterable[Fill],
          end_prices: Mapping[str, float]) -> dict[str, Any]:
    """What the ledger rows lack for TCA: finite end prices per symbol, the arrival mid of
    every order without a fill and the type of every non-market order (small: the runtime
    trades market orders that mostly fill)."""
    filled = {f.order_id for f in fills}
    orders = list(orders)
    return {"end_prices": {s: float(p) for s, p in sorted(end_prices.items())
                           if math.isfinite(p)},
            "arrival_mids": {o.order_id: o.request.reference_mid for o in orders
                             if o.order_id not in filled and o.request.reference_mid is not None},
            "order_types": {o.order_id: o.request.order_type.value for o in orders
                            if o.request.order_type is not OrderType.MARKET}}


def ledger_records(session: Session, *, session_id: str | None = None) -> list[OrderTca]:
    """Per-order TCA of every recorded order (one session, or all), each tagged with its
    session id and marked with that session's end prices."""
    events = select(OrderEvent).where(OrderEvent.order_id.is_not(None)).order_by(OrderEvent.id)
    fills = select(FillRow).order_by(FillRow.ts, FillRow.id)
    sessions = select(RuntimeSession.id, RuntimeSession.summary)
    if session_id is not None:
        events = events.where(OrderEvent.session_id == session_id)
        fills = fills.where(FillRow.session_id == session_id)
        sessions = sessions.where(RuntimeSession.id == session_id)
    by_session: dict[str, dict[str, list[OrderEvent]]] = defaultdict(lambda: defaultdict(list))
    for row in session.scalars(events):
        by_session[row.session_id or "-"][str(row.order_id)].append(row)
    fills_of: dict[str, list[Fill]] = defaultdict(list)
    for f in session.scalars(fills):
        fills_of[f.session_id or "-"].append(fill_of(f))
    marks_of = {sid: (summary or {}).get(MARKS_KEY) or {}
                for sid, summary in session.execute(sessions)}
    out: list[OrderTca] = []
    for sid in sorted(by_session.keys() | fills_of.keys()):
        mark = marks_of.get(sid, {})
        arrivals, types = mark.get("arrival_mids", {}), mark.get("order_types", {})
        orders = [order_of(rows, arrivals.get(oid), types.get(oid, OrderType.MARKET.value))
                  for oid, rows in by_session[sid].items()]
        out.extend(order_tca(orders, fills_of[sid], end_prices=mark.get("end_prices", {}),
                             session=sid))
    return out


def order_of(rows: Sequence[OrderEvent], reference_mid: float | None = None,
             order_type: str = OrderType.MARKET.value) -> Order:
    """One order's state from its events, oldest first (the rows were validated when the
    session wrote them, so they are not validated again)."""
    first, last = rows[0], rows[-1]
    strategy_type, _, version = first.strategy_ref.partition("@")
    request = OrderRequest.model_construct(
        client_order_id=first.client_order_id, strategy_id=first.strategy_id,
        strategy_type=strategy_type, version=version, operator=first.operator,
        symbol=first.symbol, side=Side(first.side), qty=first.qty,
        order_type=OrderType(order_type), decision_ts=first.ts, reference_mid=reference_mid)
    status = OrderStatus(last.status)
    cancelled = status is OrderStatus.CANCELLED and last.event == _CANCEL_ACK
    return Order.model_construct(
        order_id=str(first.order_id), request=request, status=status, qty=last.qty,
        filled_qty=last.filled_qty, avg_price=last.price,
        reason=CANCEL_REQUESTED if cancelled else last.code, submitted_at=first.ts,
        updated_at=last.ts)


def fill_of(row: FillRow) -> Fill:
    return Fill.model_construct(
        fill_id=row.fill_id, order_id=row.order_id, client_order_id=row.client_order_id,
        strategy_id=row.strategy_id, symbol=row.symbol, side=Side(row.side), qty=row.qty,
        price=row.price, ts=row.ts, arrival_mid=row.arrival_mid, commission=row.commission,
        spread_cost=row.spread_cost, impact_cost=row.impact_cost,
        hypothetical=row.hypothetical)
