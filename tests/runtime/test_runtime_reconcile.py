"""Reconciliation of the runtime's book with the adapter's; a break beyond the bound halts
(RTS-17) and, through the kill-switch monitor, halts the firm."""

from __future__ import annotations

from datetime import timedelta

from tests.runtime.adapter_helpers import PLAIN, T0, ZERO, req, step
from torghut.contracts.orders import Order, OrderStatus
from torghut.contracts.runtime_config import FirmLimits, KillSwitchTriggers
from torghut.risk.kill_switch import TriggerMonitor
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.firewall import OrderFirewall
from torghut.runtime.reconcile import BreakKind, reconcile


def traded() -> tuple[OrderFirewall, list[Order]]:
    """A firewall over a paper adapter with one filled and one working order, and the
    runtime's book kept from the adapter's answers and events."""
    fw = OrderFirewall(PaperAdapter(PLAIN, ZERO, capital=1e5), lambda t, r: True)
    fw.on_bar(step(0, AAA=100.0, BBB=20.0))
    book: dict[str, Order] = {}
    for r in (req("AAA", qty=10, strategy="alpha"), req("BBB", qty=4, limit=10.0,
                                                        strategy="beta")):
        ack = fw.submit(r, object())
        assert ack.ok and ack.order is not None
        book[ack.order.order_id] = ack.order
    for event in fw.on_bar(step(1, AAA=101.0, BBB=20.0)):
        book[event.order.order_id] = event.order
    return fw, list(book.values())


def test_clean_books_reconcile() -> None:
    fw, book = traded()
    report = reconcile(book, {"AAA": 10.0}, fw, strategy_positions={"alpha": {"AAA": 10.0}})
    assert report.breaks == () and not report.halt
    assert report.orders_checked == 2 and report.positions_checked == 2
    assert report.adapter == "paper"


def test_RTS_17_reconciliation_break_halts() -> None:
    fw, book = traded()
    filled = next(o for o in book if o.status is OrderStatus.FILLED)
    working = next(o for o in book if o.status is OrderStatus.WORKING)
    # the runtime missed part of a fill, thinks the working order was cancelled, and has
    # never heard of an order the adapter holds; its position is off by 3
    stale = [filled.model_copy(update={"filled_qty": 7.0, "status": OrderStatus.PARTIALLY_FILLED}),
             working.model_copy(update={"status": OrderStatus.CANCELLED})]
    ghost = req("AAA", qty=2, limit=50.0)
    assert fw.submit(ghost, object()).ok
    report = reconcile(stale, {"AAA": 7.0}, fw)
    kinds = {b.kind for b in report.breaks}
    assert kinds == {BreakKind.STATUS_MISMATCH, BreakKind.FILLED_QTY_MISMATCH,
                     BreakKind.UNKNOWN_ORDER, BreakKind.POSITION_MISMATCH}
    assert report.halt
    position = next(b for b in report.breaks if b.kind is BreakKind.POSITION_MISMATCH)
    assert (position.key, position.runtime_value, position.adapter_value) == (
        "position:AAA", 7.0, 10.0)
    cancelled = next(b for b in report.breaks if b.key.endswith(f"{working.order_id}.status"))
    assert cancelled.magnitude == 4.0  # the adapter still has 4 shares working
    # the kill-switch monitor turns the breaks into a firm-wide halt
    monitor = TriggerMonitor(FirmLimits(), KillSwitchTriggers(), clock=lambda: T0)
    triggers = monitor.on_reconciliation(report.breaks, at=T0 + timedelta(seconds=1))
    assert [(t.scope, t.state.value, t.control) for t in triggers] == [
        ("firm", "halted", "RTS-17")]


def test_missing_order_and_per_strategy_positions() -> None:
    fw, book = traded()
    invented = book[0].model_copy(update={"order_id": "paper-999999"})
    report = reconcile([*book, invented], {"AAA": 10.0}, fw,
                       strategy_positions={"alpha": {"AAA": 6.0}, "beta": {"AAA": 4.0}})
    keys = {(b.kind, b.key) for b in report.breaks}
    assert (BreakKind.MISSING_ORDER, "order:paper-999999") in keys
    assert (BreakKind.POSITION_MISMATCH, "position:alpha:AAA") in keys
    assert (BreakKind.POSITION_MISMATCH, "position:beta:AAA") in keys
    assert report.halt


def test_breaks_within_the_bound_do_not_halt() -> None:
    fw, book = traded()
    report = reconcile(book, {"AAA": 9.5}, fw, tolerance=1.0)
    assert len(report.breaks) == 1 and report.breaks[0].magnitude == 0.5
    assert not report.halt and report.beyond == ()
    strict = reconcile(book, {"AAA": 9.5}, fw)
    assert strict.halt and strict.beyond == strict.breaks
