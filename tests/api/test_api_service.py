"""The service on a real workspace: probes, config and drift, status, orders, TCA, metrics."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.api_helpers import (
    client_for,
    commit_main,
    enable_tsmom,
    real_server,
    seed_runtime,
    serve_cmd,
)
from tests.support import CliRunner, assert_one_line_error
from torghut.api.host import RuntimeHost
from torghut.api.readers import CHURN_EVENTS, SUBMIT_EVENTS, slippage_bps
from torghut.contracts.ops import EffectiveConfig
from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.ledger import audit, open_ledger
from torghut.ledger.db import LedgerError
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION
from torghut.ops.drift import desired_config
from torghut.runtime.telemetry import METRIC_NAMES, quantile
from torghut.workspace import Workspace


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


# ----------------------------------------------------------------------------- probes


def test_api_probes_ready_on_a_fresh_workspace(ws: Workspace) -> None:
    with client_for(ws) as (client, host):
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["config_sha256"] == host.applied.config_sha256  # type: ignore[union-attr]


def test_api_readyz_503_when_the_ledger_is_unreachable(ws: Workspace) -> None:
    def broken(_: Workspace) -> object:
        raise LedgerError("cannot open the ledger: connection refused", field="ledger.url")

    host = RuntimeHost(ws, ledger_opener=broken)  # type: ignore[arg-type]
    with client_for(ws, host=host) as (client, _):
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert any("ledger unreachable" in r for r in ready.json()["reasons"])
        assert client.get("/api/orders").status_code == 503
        assert client.get("/api/config").status_code == 200  # config is from GitOps
        assert client.get("/metrics").status_code == 200  # the process's own metrics


def test_api_reload_seconds_must_be_positive(ws: Workspace) -> None:
    with pytest.raises(TorghutError, match="positive"):
        RuntimeHost(ws, reload_seconds=0)


# ----------------------------------------------------------------------------- config


def test_api_config_is_main_when_in_sync(ws: Workspace) -> None:
    with client_for(ws) as (client, _):
        response = client.get("/api/config")
    assert response.status_code == 200
    served = EffectiveConfig.model_validate_json(response.text)
    assert served.config_sha256 == desired_config(ws.gitops_dir).config_sha256
    assert served == desired_config(ws.gitops_dir)


def test_api_applied_config_is_recorded_once(ws: Workspace) -> None:
    with client_for(ws) as (_, host):
        host.reconcile_once()
        host.reconcile_once()
        sha = host.applied.config_sha256  # type: ignore[union-attr]
    with open_ledger(ws) as ledger, ledger.read() as session:
        events = [ev for ev in audit.log(session) if ev.action == RUNTIME_APPLIED_ACTION]
    assert [ev.payload["config_sha256"] for ev in events] == [sha]


def test_api_type_mismatched_entry_is_disabled_and_the_server_starts(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws, params={"lookback": "sixty"})})
    with client_for(ws) as (client, _):
        assert client.get("/readyz").status_code == 200
        status = client.get("/api/status").json()
    entry = next(s for s in status["strategies"] if s["strategy_id"] == "tsmom")
    assert entry["enabled"] is False
    assert "INVALID_PARAMS" in entry["reason"] and "lookback" in entry["reason"]
    assert status["mode"] == "paper" and len(status["config_sha256"]) == 64


def test_api_reload_picks_up_main_and_disables_a_bad_entry(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws)})
    with client_for(ws, reload_seconds=0.1) as (client, host):
        before = client.get("/api/status").json()
        assert next(s for s in before["strategies"] if s["strategy_id"] == "tsmom")["enabled"]
        new = commit_main(ws, {CATALOG_PATH: enable_tsmom(ws, params={"lookback": "sixty"})})
        deadline = time.monotonic() + 20
        while host.applied.commit != new and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        after = client.get("/api/status").json()
        metrics = _samples(client.get("/metrics").text)
    assert after["commit"] == new
    entry = next(s for s in after["strategies"] if s["strategy_id"] == "tsmom")
    assert not entry["enabled"] and "lookback" in entry["reason"]
    assert metrics[("torghut_plugin_enabled", (("strategy_id", "tsmom"),))] == 0


def test_api_drift_check_against_a_real_server_is_in_sync(ws: Workspace,
                                                           torghut: CliRunner) -> None:
    with real_server(ws) as server:
        served = httpx.get(server.url + "/api/config").json()
        proc = torghut("-w", str(ws.root), "ops", "drift-check", "--runtime", server.url,
                       "--as", "oscar")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in sync" in proc.stdout
    assert served["config_sha256"] == desired_config(ws.gitops_dir).config_sha256


def test_api_serve_on_a_busy_port_is_one_line_error(ws: Workspace) -> None:
    import socket
    import subprocess

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(serve_cmd(ws, "--port", str(port)), capture_output=True,
                              text=True, timeout=60)
    assert_one_line_error(proc, "--port", f"127.0.0.1:{port}")


# ----------------------------------------------------------------------------- orders & TCA


def test_api_orders_filters_and_limit(ws: Workspace) -> None:
    plan = seed_runtime(ws)
    with client_for(ws) as (client, _):
        everything = client.get("/api/orders", params={"limit": 1000}).json()["orders"]
        aaa = client.get("/api/orders", params={"symbol": "AAA", "strategy": "tsmom",
                                                "session": "sess-a", "limit": 1000}).json()
        two = client.get("/api/orders", params={"limit": 2}).json()["orders"]
        assert client.get("/api/orders", params={"limit": 0}).status_code == 422
    ids = [o["id"] for o in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert [o["id"] for o in two] == ids[:2]
    expected = {f"o-{k}" for k, f in enumerate(plan)
                if f.symbol == "AAA" and f.strategy_id == "tsmom" and f.session_id == "sess-a"}
    assert {o["client_order_id"] for o in aaa["orders"]} == expected and expected
    assert all(o["strategy_ref"] == "tsmom@1.0.0" for o in aaa["orders"])


def test_api_tca_aggregates_match_the_recorded_fills(ws: Workspace) -> None:
    plan = seed_runtime(ws)
    with client_for(ws) as (client, _):
        by_symbol = client.get("/api/tca").json()["groups"]
        by_session = client.get("/api/tca", params={"by": "session"}).json()["groups"]
        one = client.get("/api/tca", params={"by": "strategy", "session": "sess-b"}).json()
        assert client.get("/api/tca", params={"by": "venue"}).status_code == 422
    assert [g["symbol"] for g in by_symbol] == sorted({f.symbol for f in plan})
    for group in by_symbol:
        mine = [f for f in plan if f.symbol == group["symbol"]]
        sign = [1.0 if f.side == "buy" else -1.0 for f in mine]
        paid = sum(s * (f.price - f.arrival_mid) * f.qty for s, f in zip(sign, mine,
                                                                         strict=True))
        notional = sum(f.qty * f.arrival_mid for f in mine)
        shortfall = paid + sum(f.commission for f in mine)  # every seeded order filled whole
        assert group["fills"] == len(mine) == group["orders"]
        assert group["shortfall"] == pytest.approx(shortfall)
        assert group["shortfall_bps"] == pytest.approx(shortfall / notional * 1e4)
        assert group["slippage_bps"] == pytest.approx(paid / notional * 1e4)  # notional weighted
        assert group["fill_ratio"] == pytest.approx(1.0)
    assert {g["session"]: g["fills"] for g in by_session} == {
        s: sum(f.session_id == s for f in plan) for s in ("sess-a", "sess-b")}
    assert sum(g["fills"] for g in one["groups"]) == sum(f.session_id == "sess-b" for f in plan)


def test_api_metrics_export_every_name_and_ledger_gauges(ws: Workspace) -> None:
    plan = seed_runtime(ws)
    with client_for(ws) as (client, host):
        host.telemetry.plugin_event("tsmom", 1e-4)
        host.telemetry.circuit_open("tsmom")
        response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    families = {(f.name + "_total" if f.type == "counter" else f.name)
                for f in text_string_to_metric_families(response.text)}
    assert families <= METRIC_NAMES
    assert {"torghut_kill_switch_state", "torghut_slippage_p95_bps",
            "torghut_cancel_replace_ratio", "torghut_circuits_open"} <= families
    samples = _samples(response.text)
    latest = [f for f in plan if f.session_id == "sess-b"]  # the newest session
    slips = [slippage_bps(f.side, f.price, f.arrival_mid) for f in latest]
    assert samples[("torghut_slippage_p50_bps", ())] == pytest.approx(
        quantile([s for s in slips if s is not None], 0.5))
    assert samples[("torghut_slippage_fills", ())] == len(latest)
    with open_ledger(ws) as ledger, ledger.read() as session:
        from sqlalchemy import select

        from torghut.ledger.models import OrderEvent

        events = list(session.scalars(select(OrderEvent.event)
                                      .where(OrderEvent.session_id == "sess-b")))
    churn = sum(e in CHURN_EVENTS for e in events)
    assert churn > 0  # the seeded kill-switch cancels count
    ratio = churn / sum(e in SUBMIT_EVENTS for e in events)
    assert samples[("torghut_cancel_replace_ratio", ())] == pytest.approx(ratio)
    assert samples[("torghut_circuits_open", ())] == 1
    assert samples[("torghut_kill_switch_state", (("scope", "firm"),))] == 0


def test_api_metrics_on_an_empty_ledger(ws: Workspace) -> None:
    with client_for(ws) as (client, _):
        samples = _samples(client.get("/metrics").text)
    assert math.isnan(samples[("torghut_slippage_p95_bps", ())])
    assert samples[("torghut_slippage_fills", ())] == 0
    assert samples[("torghut_cancel_replace_ratio", ())] == 0


def test_api_status_reports_the_last_session_and_kill_switch(ws: Workspace) -> None:
    seed_runtime(ws)
    with client_for(ws) as (client, _):
        status = client.get("/api/status").json()
    assert status["last_session"]["id"] == "sess-b"
    assert status["kill_switch"][0]["scope"] == "firm"
    assert status["kill_switch"][0]["state"] == "active"
    assert {"plugins", "circuits_open"} <= set(status["telemetry"])
