"""Post-trade reconciliation: the runtime's own book against the adapter's (RTS-17).

The runtime keeps its view of every order and position from the adapter's answers and
events; the adapter (the venue) has its own. They must agree. :func:`reconcile` lists every
disagreement as a :class:`ReconBreak`:

* ``missing_order`` — the runtime has an order the adapter does not know;
* ``unknown_order`` — the adapter has an open order the runtime does not know;
* ``status_mismatch`` — both know the order, its status differs;
* ``filled_qty_mismatch`` — both know the order, its filled quantity differs;
* ``position_mismatch`` — a symbol's net position (or one strategy's) differs.

Each break has a magnitude in shares — the quantity the two books disagree on (for a missing
or unknown order its quantity, for a status mismatch the difference in open quantity) — and
a break beyond the bound (``tolerance``) halts: the report says ``halt`` and the runtime
engages the kill switch. Quantities within 1e-9 are equal (float noise, not a break). The
breaks carry ``key`` and ``magnitude`` like the kill-switch monitor's own
(:meth:`torghut.risk.kill_switch.TriggerMonitor.on_reconciliation` accepts them as they are).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Literal

from pydantic import Field

from torghut.contracts.base import Contract
from torghut.contracts.orders import AdapterCode, Order
from torghut.runtime.adapters.base import AdapterView

QTY_EPS = 1e-9


class BreakKind(StrEnum):
    MISSING_ORDER = "missing_order"
    UNKNOWN_ORDER = "unknown_order"
    STATUS_MISMATCH = "status_mismatch"
    FILLED_QTY_MISMATCH = "filled_qty_mismatch"
    POSITION_MISMATCH = "position_mismatch"


class ReconBreak(Contract):
    """One disagreement between the runtime's book and the adapter's."""

    schema_version: Literal["1.0"] = "1.0"
    kind: BreakKind
    key: str = Field(min_length=1, description="order:<id>, position:<symbol> or "
                     "position:<strategy>:<symbol>")
    runtime_value: float = Field(allow_inf_nan=False)
    adapter_value: float = Field(allow_inf_nan=False)
    detail: str = ""

    @property
    def magnitude(self) -> float:
        """Shares the two books disagree on."""
        return abs(self.runtime_value - self.adapter_value)


class ReconciliationReport(Contract):
    """Every break, and whether one of them is beyond the bound (then: halt, RTS-17)."""

    schema_version: Literal["1.0"] = "1.0"
    adapter: str
    orders_checked: int = Field(ge=0)
    positions_checked: int = Field(ge=0)
    tolerance: float = Field(ge=0, allow_inf_nan=False)
    breaks: tuple[ReconBreak, ...]
    halt: bool

    @property
    def beyond(self) -> tuple[ReconBreak, ...]:
        """The breaks that exceed the bound."""
        return tuple(b for b in self.breaks if b.magnitude > self.tolerance)


def reconcile(runtime_orders: Iterable[Order], runtime_positions: Mapping[str, float],
              adapter: AdapterView, *, tolerance: float = QTY_EPS,
              strategy_positions: Mapping[str, Mapping[str, float]] | None = None,
              ) -> ReconciliationReport:
    """Compare the runtime's orders and positions (optionally per strategy) with the
    adapter's; ``halt`` when a break's magnitude exceeds ``tolerance`` shares."""
    # control: RTS-17 (reconcile runtime orders/positions with the adapter's; a break beyond
    # a bound halts)
    orders = list(runtime_orders)
    breaks = _order_breaks(orders, adapter)
    positions = _position_breaks(runtime_positions, adapter.positions(), "position:")
    breaks += positions
    checked = len(set(runtime_positions) | set(adapter.positions()))
    if strategy_positions is not None:
        theirs = adapter.positions_by_strategy()
        for sid in sorted(set(strategy_positions) | set(theirs)):
            mine, venue = strategy_positions.get(sid, {}), theirs.get(sid, {})
            breaks += _position_breaks(mine, venue, f"position:{sid}:")
            checked += len(set(mine) | set(venue))
    halt = any(b.magnitude > tolerance for b in breaks)
    return ReconciliationReport(adapter=adapter.name, orders_checked=len(orders),
                                positions_checked=checked, tolerance=tolerance,
                                breaks=tuple(breaks), halt=halt)


def _order_breaks(orders: list[Order], adapter: AdapterView) -> list[ReconBreak]:
    out: list[ReconBreak] = []
    known = {o.order_id for o in orders}
    for mine in orders:
        key = f"order:{mine.order_id}"
        ack = adapter.status(mine.order_id)
        theirs = ack.order if ack.code is AdapterCode.OK else None
        if theirs is None:
            out.append(ReconBreak(kind=BreakKind.MISSING_ORDER, key=key,
                                  runtime_value=mine.qty, adapter_value=0.0,
                                  detail=f"the adapter answers {ack.code.value}"))
            continue
        if mine.status is not theirs.status:
            out.append(ReconBreak(kind=BreakKind.STATUS_MISMATCH, key=f"{key}.status",
                                  runtime_value=_open_qty(mine), adapter_value=_open_qty(theirs),
                                  detail=f"runtime {mine.status.value}, adapter "
                                         f"{theirs.status.value}"))
        if abs(mine.filled_qty - theirs.filled_qty) > QTY_EPS:
            out.append(ReconBreak(kind=BreakKind.FILLED_QTY_MISMATCH, key=f"{key}.filled_qty",
                                  runtime_value=mine.filled_qty,
                                  adapter_value=theirs.filled_qty))
    for theirs in adapter.open_orders():
        if theirs.order_id not in known:
            out.append(ReconBreak(kind=BreakKind.UNKNOWN_ORDER, key=f"order:{theirs.order_id}",
                                  runtime_value=0.0, adapter_value=theirs.qty,
                                  detail=f"{theirs.request.strategy_id} "
                                         f"{theirs.request.side.value} {theirs.qty:g} "
                                         f"{theirs.request.symbol}"))
    return out


def _position_breaks(mine: Mapping[str, float], theirs: Mapping[str, float],
                     prefix: str) -> list[ReconBreak]:
    out = []
    for symbol in sorted(set(mine) | set(theirs)):
        a, b = float(mine.get(symbol, 0.0)), float(theirs.get(symbol, 0.0))
        if abs(a - b) > QTY_EPS:
            out.append(ReconBreak(kind=BreakKind.POSITION_MISMATCH, key=f"{prefix}{symbol}",
                                  runtime_value=a, adapter_value=b))
    return out


def _open_qty(order: Order) -> float:
    return order.qty - order.filled_qty if order.status.open else 0.0
