"""One TCA: orders rebuilt from the ledger give the same per-order records as the runtime's
own orders (a fill, a never-filled cancel, a venue reject with opportunity cost), and a paper
session's ``tca-<sid>.json`` evidence equals what ``/api/tca`` serves. SQLite, and PostgreSQL
when ``$TORGHUT_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.api.api_helpers import client_for
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401 (fixtures)
from tests.runtime.adapter_helpers import T0, paper, req, step
from tests.runtime.test_runtime_session import SPEC, promote_on_main
from tests.support import run_torghut
from torghut.contracts.gates import TcaEvidence
from torghut.contracts.orders import Fill, Order, Side
from torghut.data.synth import build_synth
from torghut.ledger import open_ledger
from torghut.ledger.models import RuntimeSession
from torghut.runtime.records import RecordBuffer, record_session
from torghut.runtime.tca import order_tca, summarise
from torghut.runtime.tca_ledger import MARKS_KEY, ledger_records, marks
from torghut.workspace import Workspace

SID = "paper-test-1"
END = {"AAA": 104.0, "BBB": 55.0}


def _trade(ws: Workspace) -> tuple[list[Order], list[Fill]]:
    """Three orders through the paper adapter, recorded as the engine records them."""
    adapter = paper(cancel_ack_delay_bars=1)
    buffer = RecordBuffer(session_id=SID, operator="validation-agent")
    orders: dict[str, Order] = {}
    fills: list[Fill] = []
    adapter.on_bar(step(0, AAA=100.0, BBB=50.0))
    for request in (req("AAA", Side.BUY, 10, reference_mid=100.0, ts=T0),
                    req("AAA", Side.BUY, 10, limit=90.0, reference_mid=100.0, ts=T0),
                    req("BBB", Side.SELL, 20, reference_mid=50.0, ts=T0)):
        ack = adapter.submit(request, idempotency_key=request.client_order_id)
        assert ack.order is not None
        orders[ack.order.order_id] = ack.order
        buffer.order(ack.order, "submitted", code=ack.code.value, ts=T0)
    limit_id = list(orders)[1]
    assert adapter.cancel(limit_id, idempotency_key="x-1").ok
    for i, bars in ((1, {"AAA": 101.0}), (2, {"AAA": 102.0, "BBB": 51.0})):
        for event in adapter.on_bar(step(i, **bars)):
            orders[event.order.order_id] = event.order
            buffer.order(event.order, event.kind.value, code=event.message or None,
                         ts=event.ts)
            if event.fill is not None:
                fills.append(event.fill)
                buffer.fill(event.fill)
    with open_ledger(ws) as ledger:
        buffer.flush(ledger)
        record_session(ledger, RuntimeSession(
            id=SID, mode="paper", config_sha256="ab" * 32, dataset_id=None, window_start=T0,
            window_end=T0 + timedelta(days=2), operator="validation-agent",
            summary={MARKS_KEY: marks(orders.values(), fills, END)}, artifact_refs=[]))
    return list(orders.values()), fills


def test_ledger_rows_rebuild_the_runtime_records(ledger_ws: Workspace) -> None:  # noqa: F811
    orders, fills = _trade(ledger_ws)
    expected = order_tca(orders, fills, end_prices=END, session=SID)
    assert [(t.fills, t.cancels) for t in expected] == [(1, 0), (0, 1), (0, 0)]
    with open_ledger(ledger_ws) as ledger, ledger.read() as session:
        rebuilt = ledger_records(session, session_id=SID)
    fields = ("order_id", "client_order_id", "strategy", "symbol", "session", "side",
              "decided_qty", "filled_qty", "arrival_mid", "end_price", "fills",
              "fill_slippage_bps", "execution_cost", "slippage_bps", "shortfall",
              "shortfall_bps", "traded_notional", "crossing_cost", "passive", "fees",
              "cancels", "replaces")
    assert [[getattr(t, f) for f in fields] for t in rebuilt] == \
        [[getattr(t, f) for f in fields] for t in expected]
    # the never-filled orders carry opportunity cost only because the marks kept their mids
    assert rebuilt[2].shortfall == pytest.approx(-20 * (55.0 - 50.0))
    latency = {"latency_p50_s", "latency_p95_s"}
    assert summarise(rebuilt).model_dump(exclude=latency) == \
        summarise(expected).model_dump(exclude=latency)


def test_paper_session_evidence_equals_api_tca(ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    manifest, _ = build_synth(ws, SPEC, name="synth-paper")
    promote_on_main(ws, tuple(manifest.symbols))
    proc = run_torghut("--workspace", str(ws.root), "paper", "run", "--dataset",
                       "synth-paper", "--as", "validation-agent", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    ran = json.loads(proc.stdout)
    with client_for(ws) as (client, _):
        groups = client.get("/api/tca", params={"by": "strategy",
                                                "session": ran["session_id"]}).json()["groups"]
    served = {g["strategy"]: g for g in groups}
    assert len(served) == len(ran["strategies"]) > 0
    for row in ran["strategies"].values():
        evidence = TcaEvidence.model_validate_json(Path(row["tca_evidence"]).read_text())
        api = served[evidence.strategy]
        assert evidence.orders == api["orders"] > 0 and evidence.fills == api["fills"]
        for name in ("slippage_bps", "shortfall_bps", "churn"):
            assert getattr(evidence, name) == pytest.approx(api[name], rel=1e-12), name
