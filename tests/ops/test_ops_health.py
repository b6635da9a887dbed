"""``torghut ops health``: the worst finding decides the exit code (0 ok, 1 warn,
3 critical). Each condition is produced by the real part that owns it: the kill switch
engaged by an operator, an incident opened through the incident module, a ledger row edited
behind the chain's back, a snapshot older than Gate 0's bound.

Every test runs on SQLite and (with ``$TORGHUT_TEST_POSTGRES_URL``) PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.api.api_helpers import real_server
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ledger.helpers import drop_guards
from tests.ops.ops_helpers import commit_on_main
from tests.support import run_torghut
from torghut.data.synth import SynthSpec, build_synth
from torghut.gates import default_policy
from torghut.gates.policy import POLICY_PATH, render_policy_yaml
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import RuntimeSession
from torghut.ops import incidents, kill_switch
from torghut.ops.health import EXIT_CODES, Status, check_health
from torghut.workspace import Workspace


def _statuses(ws: Workspace, **kw: object) -> dict[str, Status]:
    report = check_health(ws, **kw)  # type: ignore[arg-type]
    return {f.name: f.status for f in report.findings}


def test_clean_workspace_is_healthy_exit_0(ledger_ws: Workspace) -> None:  # noqa: F811
    proc = run_torghut("-w", str(ledger_ws.root), "ops", "health", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert [f["name"] for f in report["findings"]] == [
        "ledger", "chain", "runtime", "drift", "kill_switch", "incidents", "data"]
    assert {f["status"] for f in report["findings"]} == {"ok"}


def test_kill_switch_and_incidents_set_the_worst_finding(ledger_ws: Workspace  # noqa: F811
                                                         ) -> None:
    ws = ledger_ws
    with open_ledger(ws) as book:
        low = incidents.open_incident(ws, book, incident_class="C", severity="low",
                                      summary="scheduler restarted", as_identity="oscar")
    report = check_health(ws)
    assert report.worst is Status.WARN and report.exit_code == 1
    assert {f.name: f.status for f in report.findings}["incidents"] is Status.WARN
    with open_ledger(ws) as book:
        kill_switch.engage(ws, book, scope="strategy:tsmom", state="reducing",
                           reason="drift", as_identity="oscar")
    statuses = _statuses(ws)
    assert statuses["kill_switch"] is Status.WARN and statuses["incidents"] is Status.WARN
    with open_ledger(ws) as book:
        high = incidents.open_incident(ws, book, incident_class="B", severity="high",
                                       summary="reject burst", as_identity="oscar")
        kill_switch.engage(ws, book, scope="firm", state="halted", reason="reject burst",
                           incident_id=high.incident_id, as_identity="oscar")
    proc = run_torghut("-w", str(ws.root), "ops", "health")
    assert proc.returncode == 3, proc.stderr
    lines = {ln.split()[1]: ln for ln in proc.stdout.splitlines() if ln.startswith(
        ("ok", "WARN", "CRIT"))}
    assert lines["kill_switch"].startswith("CRIT") and "halted at firm" in lines["kill_switch"]
    assert lines["incidents"].startswith("CRIT")
    assert low.incident_id in lines["incidents"] and high.incident_id in lines["incidents"]
    assert lines["chain"].startswith("ok") and proc.stdout.strip().endswith("health: critical")


def test_broken_chain_is_critical(ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    with open_ledger(ws) as book:
        incidents.open_incident(ws, book, incident_class="A", severity="low",
                                summary="late bars", as_identity="oscar")
        drop_guards(book.engine, "incidents")
        with book.engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET severity = 'medium'"))
    report = check_health(ws)
    chain = next(f for f in report.findings if f.name == "chain")
    assert chain.status is Status.CRITICAL and "row_modified" in chain.detail
    assert report.exit_code == 3


def test_stale_heartbeat_and_stale_data_warn(ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    now = datetime.now(UTC)
    with open_ledger(ws) as book, book.write() as s:
        audit.record(s, RuntimeSession(id="sess-1", mode="paper", config_sha256="a" * 64,
                                       operator="oscar", summary={}, artifact_refs=[],
                                       created_at=now - timedelta(hours=30)),
                     actor="oscar", action="runtime.session", subject="runtime:sess-1")
    assert _statuses(ws, now=now)["runtime"] is Status.WARN
    assert _statuses(ws, now=now, max_heartbeat_age=timedelta(hours=31))["runtime"] is Status.OK
    manifest, _ = build_synth(ws, SynthSpec(symbols=1, bars=30, seed=1), name="tiny")
    # Without a staleness bound in the policy, Gate 0's calendar check decides: ok here.
    assert _statuses(ws, now=now)["data"] is Status.OK
    policy = default_policy()
    bounded = policy.model_copy(update={"gate0": policy.gate0.model_copy(
        update={"max_staleness_seconds": 3600.0})})
    commit_on_main(ws, {POLICY_PATH: render_policy_yaml(bounded)}, "Bound data staleness")
    report = check_health(ws, now=now)
    data = next(f for f in report.findings if f.name == "data")
    assert data.status is Status.WARN and "tiny" in data.detail and "3600 s" in data.detail
    assert _statuses(ws, now=manifest.end + timedelta(minutes=5))["data"] is Status.OK


def test_unreachable_runtime_url_is_critical(ledger_ws: Workspace) -> None:  # noqa: F811
    report = check_health(ledger_ws, runtime_url="http://127.0.0.1:9")
    runtime = next(f for f in report.findings if f.name == "runtime")
    assert runtime.status is Status.CRITICAL and "unreachable" in runtime.detail
    assert report.exit_code == 3


def test_runtime_url_reads_a_real_server(ledger_ws: Workspace) -> None:  # noqa: F811
    with real_server(ledger_ws) as server:
        proc = run_torghut("-w", str(ledger_ws.root), "ops", "health", "--runtime", server.url,
                           "--json")
    report = json.loads(proc.stdout)
    findings = {f["name"]: f for f in report["findings"]}
    assert findings["runtime"]["status"] == "ok", findings["runtime"]
    assert server.url in findings["runtime"]["detail"] and "paper mode" in \
        findings["runtime"]["detail"]
    assert findings["drift"]["status"] == "ok", findings["drift"]
    assert proc.returncode == EXIT_CODES[Status(report["status"])]
