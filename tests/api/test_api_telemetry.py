"""Telemetry: metric names, derived scrape-time gauges, snapshot, and per-call cost."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from torghut.runtime.telemetry import (
    METRIC_NAMES,
    ScrapeReadings,
    Telemetry,
    cancel_replace_ratio,
    quantile,
)


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _families(text: bytes) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text.decode()):
        kind = family.type
        names.add(f"{family.name}_total" if kind == "counter" else family.name)
    return names


def _exercise(t: Telemetry) -> None:
    now = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
    t.plugin_loaded("tsmom", True)
    t.plugin_loaded("broken", False)
    for _ in range(3):
        t.plugin_event("tsmom", 0.0002)
    t.plugin_intent("tsmom")
    t.plugin_error("tsmom")
    t.circuit_open("mr")
    t.circuit_open("mr")
    t.execution_submit("OK")
    t.execution_submit("OK")
    t.execution_error("VENUE_REJECT")
    for v in (1.0, 2.0, 3.0, 4.0, 40.0):
        t.slippage_bps(v)
    t.order_churn(4, 1)
    t.kill_switch("strategy:tsmom", "halted")
    t.reconciliation_break(2)
    t.feed_bar("AAPL", now - timedelta(seconds=7), now)
    t.risk_decision("PRICE_COLLAR")
    t.config_applied("a" * 64, "b" * 40, "paper")


def test_api_telemetry_exports_every_declared_name() -> None:
    t = Telemetry()
    _exercise(t)
    assert _families(t.render()) == set(METRIC_NAMES)


def test_api_telemetry_values_and_derived_gauges() -> None:
    t = Telemetry()
    _exercise(t)
    s = _samples(t.render())
    assert s[("torghut_plugin_events_total", (("strategy_id", "tsmom"),))] == 3
    assert s[("torghut_plugin_event_latency_seconds_count", (("strategy_id", "tsmom"),))] == 3
    assert s[("torghut_plugin_circuit_opens_total", (("strategy_id", "mr"),))] == 1
    assert s[("torghut_plugin_enabled", (("strategy_id", "broken"),))] == 0
    assert s[("torghut_circuits_open", ())] == 1
    assert s[("torghut_execution_submits_total", (("code", "OK"),))] == 2
    assert s[("torghut_kill_switch_state", (("scope", "strategy:tsmom"),))] == 2
    assert s[("torghut_kill_switch_state", (("scope", "firm"),))] == 0
    assert s[("torghut_cancel_replace_ratio", ())] == 0.25
    assert s[("torghut_slippage_p50_bps", ())] == 3.0
    assert s[("torghut_slippage_p95_bps", ())] == quantile([1.0, 2.0, 3.0, 4.0, 40.0], 0.95)
    assert s[("torghut_feed_staleness_seconds", (("symbol", "AAPL"),))] == 7.0
    assert s[("torghut_reconciliation_last_breaks", ())] == 2
    snap = t.snapshot()
    assert snap["plugins"]["tsmom"] == {"events": 3, "intents": 1, "errors": 1,
                                        "circuit_open": False, "enabled": True}
    assert snap["circuits_open"] == 1 and snap["orders"] == 4
    assert snap["kill_switch"] == {"strategy:tsmom": "halted"}


def test_api_telemetry_ledger_readings_take_precedence() -> None:
    t = Telemetry()
    _exercise(t)
    readings = ScrapeReadings(kill_switch={"firm": "reducing", "strategy:tsmom": "active"},
                              slippage_bps=(10.0, 20.0), orders=10, cancels_replaces=5)
    s = _samples(t.render(readings))
    assert s[("torghut_kill_switch_state", (("scope", "firm"),))] == 1
    assert s[("torghut_kill_switch_state", (("scope", "strategy:tsmom"),))] == 0
    assert s[("torghut_slippage_p50_bps", ())] == 15.0
    assert s[("torghut_cancel_replace_ratio", ())] == 0.5


def test_api_telemetry_empty_is_well_formed() -> None:
    s = _samples(Telemetry().render())
    assert math.isnan(s[("torghut_slippage_p95_bps", ())])
    assert s[("torghut_cancel_replace_ratio", ())] == cancel_replace_ratio(0, 0) == 0.0
    assert s[("torghut_kill_switch_state", (("scope", "firm"),))] == 0


def test_api_telemetry_config_info_keeps_one_series() -> None:
    t = Telemetry()
    t.config_applied("a" * 64, "c1", "paper")
    t.config_applied("b" * 64, "c2", "paper")
    series = [k for k in _samples(t.render()) if k[0] == "torghut_config_info"]
    assert series == [("torghut_config_info",
                       (("commit", "c2"), ("config_sha256", "b" * 64), ("mode", "paper")))]


def test_api_telemetry_hot_path_is_cheap() -> None:
    """Per-event calls stay in the microsecond range (generous bound for shared CI cores)."""
    t = Telemetry()
    t.plugin_event("tsmom", 1e-4)
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        t.plugin_event("tsmom", 1e-4)
        t.plugin_intent("tsmom")
    per_call_us = (time.perf_counter() - start) / (2 * n) * 1e6
    assert per_call_us < 10.0, per_call_us
