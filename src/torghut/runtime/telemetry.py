"""Runtime telemetry: Prometheus metrics the engine updates per event, rendered on scrape.

The engine calls these methods on its hot path (one call per bar per plugin), so each one is a
dictionary lookup of a cached label child plus one or two ``inc``/``observe`` calls — about a
microsecond. Nothing here does I/O. :meth:`Telemetry.render` produces the Prometheus text
exposition format; the service serves it at ``/metrics`` together with gauges derived at scrape
time (kill-switch state per scope, open circuits, cancel/replace ratio, slippage p50/p95).

The derived gauges read a :class:`ScrapeReadings`: the service passes one read from the ledger
(authoritative: the kill switch is latched there, fills are recorded there); without one they
come from this process's own observations. Every metric name starts with ``torghut_`` and
is listed in :data:`METRIC_NAMES`; the Grafana dashboard and the Prometheus alert rules in
``deploy/`` use only these names (a test scrapes ``/metrics`` to prove it).

# control: RTS-16 (kill-switch state, reconciliation breaks and feed staleness are exported the
# moment they change, so an alert rule can fire within 5 s of the triggering event)
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from torghut.contracts.orders import KillState

# ``*_created`` series double every counter and carry no information a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Numeric value of each kill-switch state in ``torghut_kill_switch_state`` (FIA-1 order).
KILL_STATE_VALUE: Mapping[str, int] = {KillState.ACTIVE.value: 0, KillState.REDUCING.value: 1,
                                       KillState.HALTED.value: 2}
#: Plugin decision latency buckets (seconds): the budget is p99 <= 1 ms per event.
LATENCY_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1)
#: Arrival-mid slippage buckets (bps; negative is price improvement). 25 bps is the default
#: Gate 3 band the p95 alert uses.
SLIPPAGE_BUCKETS = (-25.0, -10.0, -5.0, -2.0, 0.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)
#: How many recent slippage observations the in-process p50/p95 are computed over.
SLIPPAGE_WINDOW = 2048

# Metric names (without the _total/_bucket/... suffixes the exposition format adds).
PLUGIN_EVENTS = "torghut_plugin_events"
PLUGIN_LATENCY = "torghut_plugin_event_latency_seconds"
PLUGIN_INTENTS = "torghut_plugin_intents"
PLUGIN_ERRORS = "torghut_plugin_errors"
PLUGIN_CIRCUIT_OPEN = "torghut_plugin_circuit_open"
PLUGIN_CIRCUIT_OPENS = "torghut_plugin_circuit_opens"
PLUGIN_ENABLED = "torghut_plugin_enabled"
EXECUTION_SUBMITS = "torghut_execution_submits"
EXECUTION_ERRORS = "torghut_execution_errors"
SLIPPAGE = "torghut_slippage_bps"
ORDERS = "torghut_orders"
CANCELS_REPLACES = "torghut_order_cancels_replaces"
KILL_TRANSITIONS = "torghut_kill_switch_transitions"
RECON_BREAKS = "torghut_reconciliation_breaks"
RECON_LAST = "torghut_reconciliation_last_breaks"
FEED_STALENESS = "torghut_feed_staleness_seconds"
FEED_LAST_EVENT = "torghut_feed_last_event_timestamp_seconds"
RISK_DECISIONS = "torghut_risk_decisions"
CONFIG_INFO = "torghut_config_info"
# Derived at scrape time.
KILL_STATE = "torghut_kill_switch_state"
CIRCUITS_OPEN = "torghut_circuits_open"
CANCEL_REPLACE_RATIO = "torghut_cancel_replace_ratio"
SLIPPAGE_P50 = "torghut_slippage_p50_bps"
SLIPPAGE_P95 = "torghut_slippage_p95_bps"
SLIPPAGE_FILLS = "torghut_slippage_fills"

#: Every metric family this module exports, as a scrape shows them.
METRIC_NAMES: frozenset[str] = frozenset({
    f"{PLUGIN_EVENTS}_total", PLUGIN_LATENCY, f"{PLUGIN_INTENTS}_total", f"{PLUGIN_ERRORS}_total",
    PLUGIN_CIRCUIT_OPEN, f"{PLUGIN_CIRCUIT_OPENS}_total", PLUGIN_ENABLED,
    f"{EXECUTION_SUBMITS}_total", f"{EXECUTION_ERRORS}_total", SLIPPAGE, f"{ORDERS}_total",
    f"{CANCELS_REPLACES}_total", f"{KILL_TRANSITIONS}_total", f"{RECON_BREAKS}_total",
    RECON_LAST, FEED_STALENESS, FEED_LAST_EVENT, f"{RISK_DECISIONS}_total", CONFIG_INFO,
    KILL_STATE, CIRCUITS_OPEN, CANCEL_REPLACE_RATIO, SLIPPAGE_P50, SLIPPAGE_P95, SLIPPAGE_FILLS,
})


@dataclass(frozen=True)
class ScrapeReadings:
    """Values read from the ledger at scrape time; they take precedence over this process's.

    ``kill_switch`` maps scope (``firm``, ``strategy:<id>``, ``symbol:<sym>``) to its latched
    state; ``slippage_bps`` are recent per-fill arrival-mid slippages; ``orders`` and
    ``cancels_replaces`` count order submissions and cancel/replace events.
    """

    kill_switch: Mapping[str, str] = field(default_factory=dict)
    slippage_bps: Sequence[float] = ()
    orders: int = 0
    cancels_replaces: int = 0


@dataclass
class _Plugin:
    """One plugin's cached label children and plain counts (for :meth:`Telemetry.snapshot`)."""

    events: Any
    latency: Any
    intents: Any
    errors: Any
    circuit: Any
    opens: Any
    enabled_gauge: Any
    n_events: int = 0
    n_intents: int = 0
    n_errors: int = 0
    circuit_open: bool = False
    enabled: bool | None = None


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default "linear" method); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class Telemetry:
    """The runtime's metrics, in a registry of its own (tests and processes never collide).

    Methods are safe to call from several threads (prometheus children lock); the plain
    counts behind :meth:`snapshot` are best-effort under concurrent writers.
    """

    def __init__(self, *, slippage_window: int = SLIPPAGE_WINDOW) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        sid = ["strategy_id"]
        self._events = Counter(PLUGIN_EVENTS, "Bar events delivered to a plugin", sid,
                               registry=reg)
        self._latency = Histogram(PLUGIN_LATENCY, "Plugin event-to-decision latency", sid,
                                  buckets=LATENCY_BUCKETS, registry=reg)
        self._intents = Counter(PLUGIN_INTENTS, "Intents a plugin emitted", sid, registry=reg)
        self._errors = Counter(PLUGIN_ERRORS, "Errors a plugin raised", sid, registry=reg)
        self._circuit = Gauge(PLUGIN_CIRCUIT_OPEN, "1 while a plugin's circuit breaker is open",
                              sid, registry=reg)
        self._opens = Counter(PLUGIN_CIRCUIT_OPENS, "Times a plugin's circuit breaker opened",
                              sid, registry=reg)
        self._enabled = Gauge(PLUGIN_ENABLED, "1 if the catalog entry is enabled, 0 disabled",
                              sid, registry=reg)
        self._submits = Counter(EXECUTION_SUBMITS, "Adapter submit answers by code", ["code"],
                                registry=reg)
        self._exec_errors = Counter(EXECUTION_ERRORS, "Adapter errors by code", ["code"],
                                    registry=reg)
        self._slippage = Histogram(SLIPPAGE, "Arrival-mid slippage per fill (bps)",
                                   buckets=SLIPPAGE_BUCKETS, registry=reg)
        self._orders = Counter(ORDERS, "Orders submitted", registry=reg)
        self._churn = Counter(CANCELS_REPLACES, "Cancel and replace requests", registry=reg)
        self._kill_transitions = Counter(KILL_TRANSITIONS, "Kill-switch state changes",
                                         ["scope", "state"], registry=reg)
        self._recon_total = Counter(RECON_BREAKS, "Reconciliation breaks found", registry=reg)
        self._recon_last = Gauge(RECON_LAST, "Breaks found by the latest reconciliation",
                                 registry=reg)
        self._staleness = Gauge(FEED_STALENESS, "Age of the latest bar when it arrived",
                                ["symbol"], registry=reg)
        self._last_event = Gauge(FEED_LAST_EVENT, "Event time of the latest bar (unix s)",
                                 ["symbol"], registry=reg)
        self._risk = Counter(RISK_DECISIONS, "Pre-trade risk decisions by code", ["code"],
                             registry=reg)
        self._config = Gauge(CONFIG_INFO, "1 for the applied config (labels identify it)",
                             ["config_sha256", "commit", "mode"], registry=reg)
        self._plugins: dict[str, _Plugin] = {}
        self._by_code: dict[tuple[str, str], Any] = {}
        self._feed: dict[str, tuple[Any, Any]] = {}
        self._counts: dict[str, dict[str, int]] = {"submits": {}, "errors": {}, "risk": {}}
        self._kill: dict[str, str] = {}
        self._slips: deque[float] = deque(maxlen=slippage_window)
        self._n_orders = 0
        self._n_churn = 0
        self._recon_breaks = 0
        self._lock = threading.Lock()
        self._config_labels: tuple[str, str, str] | None = None

    # ------------------------------------------------------------------ plugins

    def _plugin(self, strategy_id: str) -> _Plugin:
        plugin = self._plugins.get(strategy_id)
        if plugin is None:
            with self._lock:
                plugin = self._plugins.get(strategy_id)
                if plugin is None:
                    plugin = _Plugin(
                        self._events.labels(strategy_id), self._latency.labels(strategy_id),
                        self._intents.labels(strategy_id), self._errors.labels(strategy_id),
                        self._circuit.labels(strategy_id), self._opens.labels(strategy_id),
                        self._enabled.labels(strategy_id))
                    self._plugins[strategy_id] = plugin
        return plugin

    def plugin_event(self, strategy_id: str, latency_s: float) -> None:
        """One bar event handled by a plugin, and how long its decision took."""
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        plugin.n_events += 1
        plugin.events.inc()
        plugin.latency.observe(latency_s)

    def plugin_intent(self, strategy_id: str) -> None:
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        plugin.n_intents += 1
        plugin.intents.inc()

    def plugin_error(self, strategy_id: str) -> None:
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        plugin.n_errors += 1
        plugin.errors.inc()

    def circuit_open(self, strategy_id: str) -> None:
        """The plugin's circuit breaker opened: it is disabled until re-enabled."""
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        if not plugin.circuit_open:
            plugin.opens.inc()
        plugin.circuit_open = True
        plugin.circuit.set(1)

    def circuit_closed(self, strategy_id: str) -> None:
        """The plugin was re-enabled (a new session, or an authorised re-enable)."""
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        plugin.circuit_open = False
        plugin.circuit.set(0)

    def plugin_loaded(self, strategy_id: str, enabled: bool) -> None:
        """A catalog entry was (re)loaded, enabled or disabled (with its reason elsewhere)."""
        plugin = self._plugins.get(strategy_id) or self._plugin(strategy_id)
        plugin.enabled = enabled
        plugin.enabled_gauge.set(1 if enabled else 0)

    # ------------------------------------------------------------------ execution

    def _coded(self, family: str, metric: Any, code: str) -> Any:
        key = (family, code)
        child = self._by_code.get(key)
        if child is None:
            child = self._by_code[key] = metric.labels(code)
        return child

    def _count(self, family: str, code: str) -> None:
        counts = self._counts[family]
        counts[code] = counts.get(code, 0) + 1

    def execution_submit(self, code: str) -> None:
        """An adapter answered a submit with ``code`` (an AdapterCode, ``OK`` on success)."""
        self._count("submits", code)
        self._coded("submits", self._submits, code).inc()

    def execution_error(self, code: str) -> None:
        self._count("errors", code)
        self._coded("errors", self._exec_errors, code).inc()

    def slippage_bps(self, value: float) -> None:
        """One fill's arrival-mid slippage in bps (positive: paid versus the mid)."""
        self._slips.append(value)
        self._slippage.observe(value)

    def order_churn(self, orders: int, cancels_replaces: int) -> None:
        """Add submitted orders and cancel/replace requests (the ratio is derived on scrape)."""
        self._n_orders += orders
        self._n_churn += cancels_replaces
        if orders:
            self._orders.inc(orders)
        if cancels_replaces:
            self._churn.inc(cancels_replaces)

    def risk_decision(self, code: str) -> None:
        """A pre-trade decision with its stable reason code (``ACCEPTED``, ``PRICE_COLLAR``…)."""
        self._count("risk", code)
        self._coded("risk", self._risk, code).inc()

    # ------------------------------------------------------------------ controls

    def kill_switch(self, scope: str, state: str) -> None:
        """A kill-switch scope moved to ``state`` (active | reducing | halted)."""
        if state not in KILL_STATE_VALUE:
            raise ValueError(f"unknown kill-switch state {state!r}")
        self._kill[scope] = state
        self._kill_transitions.labels(scope, state).inc()

    def reconciliation_break(self, count: int) -> None:
        """A reconciliation found ``count`` breaks (0: clean; the gauge shows the latest)."""
        self._recon_breaks += count
        if count:
            self._recon_total.inc(count)
        self._recon_last.set(count)

    def feed_bar(self, symbol: str, event_ts: datetime, now: datetime) -> None:
        """A bar arrived: staleness is ``now - event_ts`` (the FIA-2 heartbeat input)."""
        children = self._feed.get(symbol)
        if children is None:
            children = self._feed[symbol] = (self._staleness.labels(symbol),
                                             self._last_event.labels(symbol))
        stamp = event_ts.timestamp()
        children[0].set(now.timestamp() - stamp)
        children[1].set(stamp)

    def config_applied(self, config_sha256: str, commit: str, mode: str) -> None:
        """The runtime applied a config: exported as an info gauge (one series at a time)."""
        labels = (config_sha256, commit, mode)
        with self._lock:
            if self._config_labels is not None and self._config_labels != labels:
                self._config.remove(*self._config_labels)
            self._config.labels(*labels).set(1)
            self._config_labels = labels

    # ------------------------------------------------------------------ reading

    def own_readings(self) -> ScrapeReadings:
        """This process's observations as :class:`ScrapeReadings`."""
        return ScrapeReadings(kill_switch=dict(self._kill), slippage_bps=tuple(self._slips),
                              orders=self._n_orders, cancels_replaces=self._n_churn)

    def merged(self, readings: ScrapeReadings | None) -> ScrapeReadings:
        """Ledger readings over this process's: the ledger is the latched, recorded truth."""
        own = self.own_readings()
        if readings is None:
            return own
        kill = {**own.kill_switch, **readings.kill_switch}
        return ScrapeReadings(kill_switch=kill, slippage_bps=readings.slippage_bps,
                              orders=readings.orders, cancels_replaces=readings.cancels_replaces)

    def circuits_open(self) -> int:
        return sum(1 for p in list(self._plugins.values()) if p.circuit_open)

    def render(self, readings: ScrapeReadings | None = None) -> bytes:
        """Prometheus text exposition: the live metrics, then the scrape-time gauges."""
        derived = CollectorRegistry(auto_describe=False)
        derived.register(_Derived(self.merged(readings), self.circuits_open()))
        return generate_latest(self.registry) + generate_latest(derived)

    def snapshot(self) -> dict[str, Any]:
        """Plain counts for ``/api/status`` (no metric collection, no sorting of samples)."""
        plugins = {sid: {"events": p.n_events, "intents": p.n_intents, "errors": p.n_errors,
                         "circuit_open": p.circuit_open, "enabled": p.enabled}
                   for sid, p in sorted(self._plugins.items())}
        return {"plugins": plugins, "circuits_open": self.circuits_open(),
                "execution_submits": dict(sorted(self._counts["submits"].items())),
                "execution_errors": dict(sorted(self._counts["errors"].items())),
                "risk_decisions": dict(sorted(self._counts["risk"].items())),
                "orders": self._n_orders, "cancels_replaces": self._n_churn,
                "kill_switch": dict(sorted(self._kill.items())),
                "reconciliation_breaks": self._recon_breaks,
                "slippage_observations": len(self._slips)}


def cancel_replace_ratio(orders: int, cancels_replaces: int) -> float:
    """Cancel/replace requests per submitted order (0 when nothing was submitted)."""
    return cancels_replaces / orders if orders else 0.0


class _Derived(Collector):
    """Gauges computed once per scrape from merged readings."""

    def __init__(self, readings: ScrapeReadings, circuits_open: int) -> None:
        self.readings = readings
        self.open = circuits_open

    def collect(self) -> Iterator[GaugeMetricFamily]:
        r = self.readings
        kill = GaugeMetricFamily(KILL_STATE, "Kill-switch state per scope (0 active, "
                                 "1 reducing, 2 halted)", labels=["scope"])
        for scope, state in _with_firm(r.kill_switch):
            kill.add_metric([scope], KILL_STATE_VALUE.get(state, 2))  # unknown: fail closed
        yield kill
        yield GaugeMetricFamily(CIRCUITS_OPEN, "Plugins whose circuit breaker is open",
                                value=self.open)
        yield GaugeMetricFamily(CANCEL_REPLACE_RATIO, "Cancel/replace requests per order",
                                value=cancel_replace_ratio(r.orders, r.cancels_replaces))
        slips = list(r.slippage_bps)
        yield GaugeMetricFamily(SLIPPAGE_P50, "Median arrival-mid slippage of recent fills",
                                value=quantile(slips, 0.5))
        yield GaugeMetricFamily(SLIPPAGE_P95, "95th percentile arrival-mid slippage of "
                                "recent fills", value=quantile(slips, 0.95))
        yield GaugeMetricFamily(SLIPPAGE_FILLS, "Fills the slippage quantiles cover",
                                value=len(slips))


def _with_firm(states: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    """Every scope, with ``firm`` always present (active unless recorded otherwise)."""
    merged = {"firm": KillState.ACTIVE.value, **states}
    return sorted(merged.items())
