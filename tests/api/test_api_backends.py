"""The service's ledger reads on every backend (SQLite, and PostgreSQL when
``$TORGHUT_TEST_POSTGRES_URL`` is set): TCA, orders, metrics, pages and a signed kill."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.api_helpers import client_for, seed_governance, seed_runtime
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401 (fixtures)
from torghut.api import kill
from torghut.workspace import Workspace


def test_api_reads_on_each_backend(ledger_ws: Workspace) -> None:  # noqa: F811
    plan = seed_runtime(ledger_ws)
    seed_governance(ledger_ws)
    with client_for(ledger_ws) as (client, _):
        assert client.get("/readyz").status_code == 200
        groups = client.get("/api/tca", params={"by": "strategy"}).json()["groups"]
        assert sum(g["fills"] for g in groups) == len(plan)
        orders = client.get("/api/orders", params={"session": "sess-b", "limit": 1000})
        assert {o["session_id"] for o in orders.json()["orders"]} == {"sess-b"}
        signed = kill.sign_request(ledger_ws, "oscar", op="engage", scope="firm",
                                   state="reducing", reason="backend check")
        assert client.post("/api/kill-switch", json=signed.model_dump(mode="json")
                           ).status_code == 200
        text = client.get("/metrics").text
        for path in ("/", "/tca", "/promotions"):
            assert client.get(path).status_code == 200
        status = client.get("/api/status").json()
    samples = {(s.name, tuple(s.labels.items())): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("torghut_kill_switch_state", (("scope", "firm"),))] == 1
    assert samples[("torghut_slippage_fills", ())] == sum(f.session_id == "sess-b" for f in plan)
    assert status["last_session"]["id"] == "sess-b"
