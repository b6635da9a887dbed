"""RTS-28: every cancel the kill switch sends, and every answer to it, is an order event.

A real paper engine trades a synthetic panel until it holds working orders; the operator
engages the firm kill switch through the ledger; the engine adopts it and cancels. Whatever
the adapter's acknowledgement delay, the ledger then holds one ``cancel_requested`` and one
``cancel_ack`` row per open order, chained in the audit log, and each order ends cancelled.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401 (fixtures)
from tests.runtime.test_runtime_session import SPEC, promote_on_main
from torghut.contracts.orders import AdapterAck, AdapterCode, KillState, Order
from torghut.data.synth import build_synth
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import OrderEvent
from torghut.ops import kill_switch as ops_kill
from torghut.risk.kill_switch import KillBoard
from torghut.runtime.config import ConfigReconciler
from torghut.runtime.engine import Engine, EngineOptions
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.records import CANCEL_REJECTED_EVENT, CANCEL_REQUESTED_EVENT
from torghut.workspace import Workspace

SID = "kill-cancels"


def _engine_with_open_orders(ws: Workspace, delay: int) -> tuple[Engine, object]:
    manifest, _ = build_synth(ws, SPEC, name="synth-paper")
    promote_on_main(ws, tuple(manifest.symbols))
    feed = ReplayFeed.from_snapshot(ws, "synth-paper")
    engine = Engine(ConfigReconciler(ws).reconcile(), feed,
                    EngineOptions(session_id=SID, operator="validation-agent",
                                  cancel_ack_delay_bars=delay), board=KillBoard())
    steps = feed.steps()
    for step in steps:
        engine.step(step)
        if len(engine.open_orders) >= 2:
            return engine, steps
    raise AssertionError("the engine never held two working orders")


def _rows(ws: Workspace) -> list[OrderEvent]:
    with open_ledger(ws) as ledger, ledger.read() as session:
        rows = list(session.scalars(select(OrderEvent).where(OrderEvent.session_id == SID)
                                    .order_by(OrderEvent.id)))
        assert audit.verify(session, ledger.artifacts).ok
        return rows


@pytest.mark.parametrize("delay", [0, 2])
def test_RTS_28_firm_kill_writes_a_request_and_an_ack_row_per_open_order(
        ledger_ws: Workspace, delay: int) -> None:  # noqa: F811
    # control: RTS-28
    ws = ledger_ws
    engine, steps = _engine_with_open_orders(ws, delay)
    working = dict(engine.open_orders)
    with open_ledger(ws) as ledger:
        ops_kill.engage(ws, ledger, scope="firm", state=KillState.HALTED, reason="test",
                        as_identity="oscar")
        with ledger.read() as session:
            engine.refresh_board(ops_kill.board(session))
        report = engine.stats.cancels[-1]
        assert set(report.requested) == set(working)
        assert report.done is (delay == 0)
        for step in steps:  # type: ignore[attr-defined]
            if engine.firewall.cancel_progress(report).done:
                break
            engine.step(step)
        engine.records.flush(ledger)
    rows = [r for r in _rows(ws) if r.order_id in working]
    requests = [r for r in rows if r.event == CANCEL_REQUESTED_EVENT]
    acks = [r for r in rows if r.event == "cancel_ack"]
    assert Counter(r.order_id for r in requests) == Counter(list(working))  # one each
    assert Counter(r.order_id for r in acks) == Counter(list(working))
    assert all(r.code == "KILL_SWITCH:firm" for r in requests + acks)
    assert all(r.status in ("working", "partially_filled") for r in requests)
    for order_id in working:
        mine = [r for r in rows if r.order_id == order_id]
        events = [r.event for r in mine]
        assert events.index(CANCEL_REQUESTED_EVENT) < events.index("cancel_ack")
        final = engine.orders[order_id].status.value
        assert mine[-1].event == "cancel_ack" and mine[-1].status == final
        # at once nothing can fill first; with a delay the order may end otherwise first
        assert final == "cancelled" if delay == 0 else final in ("cancelled", "filled")
    assert not engine.open_orders  # the engine's own book agrees with the adapter's


def test_a_refused_cancel_is_a_cancel_rejected_row(ws: Workspace) -> None:
    engine, _ = _engine_with_open_orders(ws, 0)
    order: Order = next(iter(engine.open_orders.values()))
    refused = AdapterAck(code=AdapterCode.VENUE_REJECT, message="venue is closed")
    engine._cancel_answered(order, refused, "KILL_SWITCH:symbol")
    last = engine.records.orders[-2:]
    assert [(e, c) for _, e, c, _ in last] == [(CANCEL_REQUESTED_EVENT, "KILL_SWITCH:symbol"),
                                               (CANCEL_REJECTED_EVENT, "VENUE_REJECT")]
    assert engine.open_orders[order.order_id].status.open  # nothing changed: still working
