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


@dataclass
class RecordBuffer:
    session_id: str
    operator: str
    risk: list[RiskDecisionRow] = field(default_factory=list)
    orders: list[OrderEvent] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    written: int = 0

    def decision(self, d: RiskDecision) -> None:
        self.risk.append(RiskDecisionRow(
            session_id=self.session_id, client_order_id=d.client_order_id,
            strategy_id=d.strategy_id, symbol=d.symbol, action=d.action.value,
            code=d.code.value, control=d.control, limit_id=d.limit_id,
            requested_qty=d.requested_qty, approved_qty=d.approved_qty, observed=d.observed,
            threshold=d.threshold, message=d.message, ts=d.at))

    def order(self, order: Order, event: str, *, code: str | None, ts: datetime) -> None:
        r = order.request
        self.orders.append(OrderEvent(
            session_id=self.session_id, client_order_id=r.client_order_id,
            order_id=order.order_id, strategy_id=r.strategy_id, strategy_ref=r.ref,
            operator=r.operator, symbol=r.symbol, side=r.side.value, event=event,
            status=order.status.value, qty=order.qty, filled_qty=order.filled_qty,
            price=order.avg_price, code=code, ts=ts))

    def fill(self, f: Fill) -> None:
        self.fills.append(FillRow(
            session_id=self.session_id, fill_id=f.fill_id, order_id=f.order_id,
            client_order_id=f.client_order_id, strategy_id=f.strategy_id, symbol=f.symbol,
            side=f.side.value, qty=f.qty, price=f.price, arrival_mid=f.arrival_mid,
            commission=f.commission, spread_cost=f.spread_cost, impact_cost=f.impact_cost,
            hypothetical=f.hypothetical, ts=f.ts))

    @property
    def pending(self) -> int:
        return len(self.risk) + len(self.orders) + len(self.fills)

    def flush(self, ledger: Ledger) -> int:
        """Write everything buffered, in one transaction; returns the rows written."""
        batches: list[tuple[list[DeclarativeBase], str]] = [
            (list(self.risk), "runtime.risk.decided"), (list(self.orders), "runtime.order.event"),
            (list(self.fills), "runtime.fill.recorded")]
        if not any(rows for rows, _ in batches):
            return 0
        with ledger.write() as session:
            for rows, action in batches:
                audit.record_many(session, rows, actor=RUNTIME_ACTOR, action=action,
                                  subject=f"session:{self.session_id}")
        n = self.pending
        self.risk, self.orders, self.fills = [], [], []
        self.written += n
        return n


def record_session(ledger: Ledger, row: RuntimeSession) -> None:
    with ledger.write() as session:
        audit.record(session, row, actor=RUNTIME_ACTOR, action="runtime.session.recorded",
                     subject=f"session:{row.id}", artifact_refs=list(row.artifact_refs))
