"""What a session writes to the ledger: every risk decision, order event and fill (RTS-28).

Rows are buffered in memory while the session runs and written in batches — each row with
the audit event that vouches for its content — so the hot path never waits on the database
and a crash loses at most the last unflushed batch (never a half-written one: each flush is
one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import DeclarativeBase

from torghut.contracts.orders import Fill, Order, RiskDecision
from torghut.ledger import Ledger, audit
from torghut.ledger.models import FillRow, OrderEvent, RiskDecisionRow, RuntimeSession

RUNTIME_ACTOR = "runtime"
#: ``order_events.event`` of a cancel the runtime sent (``code``: why, e.g. ``KILL_SWITCH:firm``)
CANCEL_REQUESTED_EVENT = "cancel_requested"
#: ``order_events.event`` of a cancel the adapter refused (``code``: the adapter's code)
CANCEL_REJECTED_EVENT = "cancel_rejected"


@dataclass
class RecordBuffer:
    """Holds the session's contracts cheaply; ORM rows are built only when flushing."""

    session_id: str
    operator: str
    risk: list[RiskDecision] = field(default_factory=list)
    orders: list[tuple[Order, str, str | None, datetime]] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    written: int = 0

    def decision(self, d: RiskDecision) -> None:
        self.risk.append(d)

    def order(self, order: Order, event: str, *, code: str | None, ts: datetime) -> None:
        self.orders.append((order, event, code, ts))

    def fill(self, f: Fill) -> None:
        self.fills.append(f)

    @property
    def pending(self) -> int:
        return len(self.risk) + len(self.orders) + len(self.fills)

    def flush(self, ledger: Ledger) -> int:
        """Write everything buffered, in one transaction; returns the rows written."""
        n = self.pending
        if not n:
            return 0
        batches: list[tuple[list[DeclarativeBase], str]] = [
            ([self._risk_row(d) for d in self.risk], "runtime.risk.decided"),
            ([self._order_row(*o) for o in self.orders], "runtime.order.event"),
            ([self._fill_row(f) for f in self.fills], "runtime.fill.recorded")]
        with ledger.write() as session:
            for rows, action in batches:
                audit.record_many(session, rows, actor=RUNTIME_ACTOR, action=action,
                                  subject=f"session:{self.session_id}")
        self.risk, self.orders, self.fills = [], [], []
        self.written += n
        return n

    def _risk_row(self, d: RiskDecision) -> RiskDecisionRow:
        return RiskDecisionRow(
            session_id=self.session_id, client_order_id=d.client_order_id,
            strategy_id=d.strategy_id, symbol=d.symbol, action=d.action.value,
            code=d.code.value, control=d.control, limit_id=d.limit_id,
            requested_qty=d.requested_qty, approved_qty=d.approved_qty, observed=d.observed,
            threshold=d.threshold, message=d.message, ts=d.at)

    def _order_row(self, order: Order, event: str, code: str | None,
                   ts: datetime) -> OrderEvent:
        r = order.request
        return OrderEvent(
            session_id=self.session_id, client_order_id=r.client_order_id,
            order_id=order.order_id, strategy_id=r.strategy_id, strategy_ref=r.ref,
            operator=r.operator, symbol=r.symbol, side=r.side.value, event=event,
            status=order.status.value, qty=order.qty, filled_qty=order.filled_qty,
            price=order.avg_price, code=code, ts=ts)

    def _fill_row(self, f: Fill) -> FillRow:
        return FillRow(
            session_id=self.session_id, fill_id=f.fill_id, order_id=f.order_id,
            client_order_id=f.client_order_id, strategy_id=f.strategy_id, symbol=f.symbol,
            side=f.side.value, qty=f.qty, price=f.price, arrival_mid=f.arrival_mid,
            commission=f.commission, spread_cost=f.spread_cost, impact_cost=f.impact_cost,
            hypothetical=f.hypothetical, ts=f.ts)


def record_session(ledger: Ledger, row: RuntimeSession) -> None:
    with ledger.write() as session:
        audit.record(session, row, actor=RUNTIME_ACTOR, action="runtime.session.recorded",
                     subject=f"session:{row.id}", artifact_refs=list(row.artifact_refs))
