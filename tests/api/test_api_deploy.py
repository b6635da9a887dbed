"""deploy/: the Grafana dashboard and the Prometheus rules use only metrics the service
exports (scraped from a real /metrics), are valid PromQL (promtool), and the alerts behave
(promtool's rule unit tests). RTS-16: the kill-switch alert fires within 5 s."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.api_helpers import ROOT, client_for, seed_runtime
from torghut.runtime.telemetry import Telemetry
from torghut.workspace import Workspace
from torghut.yamlio import load_yaml_text

DEPLOY = ROOT / "deploy"
GRAFANA = DEPLOY / "grafana" / "torghut.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yaml"
SCRAPE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
METRIC = re.compile(r"\btorghut_[a-zA-Z0-9_]+")
RTS16_BUDGET = timedelta(seconds=5)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _promtool() -> str:
    path = shutil.which("promtool") or ("/usr/bin/promtool"
                                        if Path("/usr/bin/promtool").exists() else None)
    if path is None:
        if _in_ci():
            pytest.fail("promtool is required in CI (Debian package `prometheus`)")
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)


def _exercise(t: Telemetry) -> None:
    """Touch every method so every labelled family has at least one series."""
    now = datetime.now(UTC)
    t.plugin_loaded("tsmom", True)
    t.plugin_event("tsmom", 2e-4)
    t.plugin_intent("tsmom")
    t.plugin_error("tsmom")
    t.circuit_open("tsmom")
    t.execution_submit("OK")
    t.execution_error("VENUE_REJECT")
    t.slippage_bps(3.0)
    t.order_churn(3, 1)
    t.kill_switch("firm", "active")
    t.reconciliation_break(0)
    t.feed_bar("AAA", now - timedelta(seconds=1), now)
    t.risk_decision("ACCEPTED")


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name a real /metrics scrape shows (``_total``, ``_bucket``… included)."""
    from torghut.workspace import init_workspace

    ws: Workspace = init_workspace(tmp_path_factory.mktemp("deploy") / "ws")
    seed_runtime(ws)
    with client_for(ws) as (client, host):
        _exercise(host.telemetry)
        text = client.get("/metrics").text
    return {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}


def _grafana_exprs() -> list[str]:
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    assert exprs, "the dashboard has no queries"
    return exprs


def _rules() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    doc = load_yaml_text(ALERTS.read_text(encoding="utf-8"), file=ALERTS)
    return [(group, rule) for group in doc["groups"] for rule in group["rules"]]


def _seconds(duration: str | None) -> float:
    if duration is None:
        return 0.0
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", str(duration))
    assert match, duration
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# ----------------------------------------------------------------------------- Grafana


def test_api_deploy_grafana_uses_only_exported_metrics(scraped: set[str]) -> None:
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    used = {m for expr in _grafana_exprs() for m in METRIC.findall(expr)}
    assert used <= scraped, sorted(used - scraped)
    wanted = {"torghut_plugin_events_total", "torghut_plugin_errors_total",
              "torghut_plugin_event_latency_seconds_bucket", "torghut_execution_submits_total",
              "torghut_execution_errors_total", "torghut_slippage_p50_bps",
              "torghut_slippage_p95_bps", "torghut_cancel_replace_ratio",
              "torghut_kill_switch_state"}
    assert wanted <= used, sorted(wanted - used)


def test_api_deploy_grafana_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = _promtool()
    rules = {"groups": [{"name": "grafana", "rules": [
        {"record": f"torghut:grafana_query:{k}", "expr": expr}
        for k, expr in enumerate(_grafana_exprs())]}]}
    path = tmp_path / "grafana_queries.yaml"
    path.write_text(json.dumps(rules), encoding="utf-8")  # JSON is YAML
    proc = _run(promtool, "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ----------------------------------------------------------------------------- Prometheus


def test_api_deploy_alerts_use_only_exported_metrics(scraped: set[str]) -> None:
    rules = _rules()
    names = {rule["alert"] for _, rule in rules}
    assert {"TorghutKillSwitchEngaged", "TorghutSlippageP95AboveBand",
            "TorghutReconciliationBreak", "TorghutFeedStale"} <= names
    used = {m for _, rule in rules for m in METRIC.findall(rule["expr"])}
    assert used <= scraped, sorted(used - scraped)


def test_api_deploy_kill_switch_alert_meets_rts16() -> None:
    """RTS 6 Art 16(5): within 5 s — `for: 0s` in a group evaluated at most every 5 s."""
    group, rule = next((g, r) for g, r in _rules() if r["alert"] == "TorghutKillSwitchEngaged")
    assert _seconds(rule.get("for")) == 0
    assert _seconds(group.get("interval")) <= RTS16_BUDGET.total_seconds()
    scrape = load_yaml_text(SCRAPE_CONFIG.read_text(encoding="utf-8"), file=SCRAPE_CONFIG)
    job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "torghut")
    worst = _seconds(job["scrape_interval"]) + _seconds(group.get("interval"))
    assert worst < RTS16_BUDGET.total_seconds()
    assert "RTS-16" in ALERTS.read_text(encoding="utf-8")
    slippage = next(r for _, r in _rules() if r["alert"] == "TorghutSlippageP95AboveBand")
    assert "> 25" in slippage["expr"]


def test_api_deploy_promtool_checks_rules_and_config() -> None:
    promtool = _promtool()
    rules = _run(promtool, "check", "rules", str(ALERTS))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = _run(promtool, "check", "config", str(SCRAPE_CONFIG))
    assert config.returncode == 0, config.stdout + config.stderr


def test_api_deploy_alert_unit_tests_pass() -> None:
    """promtool evaluates the rules on synthetic series: the kill-switch alert fires on the
    first evaluation after the engage, and clears after the release."""
    proc = _run(_promtool(), "test", "rules", str(ALERT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
