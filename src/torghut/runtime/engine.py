"""The runtime pipeline, one clock step at a time (DESIGN.md ``runtime``).

feed → streaming feature mapper → strategy runtime → intent aggregator → allocator →
pre-trade risk chain → order firewall → execution adapter → TCA / ledger records, with the
kill switch and reconciliation around it. Per step the engine first lets the adapter act on
the new bar (orders decided at the previous close fill now, as in :mod:`torghut.sim`), then
marks every strategy to market, lets the trigger monitor look at equity and data, and only
then decides at this bar's close. Everything is deterministic for a given feed and config.
"""

from __future__ import annotations

import gc
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from torghut.contracts import TIMEFRAME_SECONDS
from torghut.contracts.orders import (
    OPEN_STATUSES,
    SIDE_SIGNS,
    AdapterAck,
    AdapterCode,
    Fill,
    KillState,
    Order,
    OrderRequest,
    RiskAction,
    RiskCode,
)
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.data.features import StreamingFeatureBook
from torghut.risk.allocator import Allocator
from torghut.risk.chain import RiskChain
from torghut.risk.kill_switch import (
    KillBoard,
    ReconciliationBreak,
    Trigger,
    TriggerMonitor,
    engage_on,
)
from torghut.runtime.adapters.base import AdapterEvent, AdapterEventKind
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.adapters.shadow import ShadowAdapter
from torghut.runtime.aggregator import ConflictPolicy, IntentAggregator
from torghut.runtime.config import AppliedConfig
from torghut.runtime.evidence import StrategyTrack
from torghut.runtime.feed import Feed, Step
from torghut.runtime.firewall import CancelReport, OrderFirewall
from torghut.runtime.reconcile import reconcile
from torghut.runtime.records import CANCEL_REJECTED_EVENT, CANCEL_REQUESTED_EVENT, RecordBuffer
from torghut.runtime.strategies import BreakerPolicy, StrategyRuntime
from torghut.runtime.telemetry import Telemetry
from torghut.sim.models import get_cost_model, get_execution_model

_EPS = 1e-9
SESSION_YOUNG_LIMIT = 5_000  # allocations net of frees per young collection (CPython: 700)
SESSION_SWEEP_EVERY = 1_000  # young collections per full sweep (~40 k steps of 10 bars)
# What gc.get_threshold() reports during a session; only the first drives SessionHeap.
SESSION_GC_THRESHOLDS: tuple[int, int, int] = (SESSION_YOUNG_LIMIT, 10, 10)


@dataclass(frozen=True)
class EngineOptions:
    session_id: str
    operator: str
    mode: str = "paper"  # paper | shadow
    execution: ExecutionModel = field(default_factory=lambda: get_execution_model("exec-v1"))
    costs: CostModel = field(default_factory=lambda: get_cost_model("costs-v1"))
    capital: float | None = None  # default: the firm's max_gross_notional
    conflict_policy: ConflictPolicy = ConflictPolicy.NET
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    reconcile_every: int = 50  # steps
    cancel_ack_delay_bars: int = 0
    session_tz: str = "America/New_York"


@dataclass
class EngineStats:
    steps: int = 0
    events: int = 0
    intents: int = 0
    requests: int = 0
    rejects: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    submitted: int = 0
    fills: int = 0
    triggers: list[Trigger] = field(default_factory=list)
    cancels: list[CancelReport] = field(default_factory=list)
    reconciliations: int = 0
    reconciliation_breaks: int = 0
    step_latency_ns: list[int] = field(default_factory=list)

    def latency_us(self, q: float) -> float | None:
        if not self.step_latency_ns:
            return None
        return float(np.percentile(np.asarray(self.step_latency_ns), q)) / 1e3


class Engine:
    """One session of the paper/shadow runtime over one feed."""

    def __init__(self, applied: AppliedConfig, feed: Feed, options: EngineOptions, *,
                 board: KillBoard | None = None, telemetry: Telemetry | None = None,
                 on_trigger: Callable[[Trigger], None] | None = None) -> None:
        self.applied, self.feed, self.options = applied, feed, options
        self.telemetry = telemetry
        self.board = _BoardView(board or KillBoard())
        self.on_trigger = on_trigger
        config = applied.runtime_config
        self.promoted = {e.definition.strategy_id: e.definition.ref for e in applied.runnable}
        capital = options.capital or config.firm_limits.max_gross_notional
        self.allocator = Allocator(config, self.promoted, session_id=options.session_id,
                                   operator=options.operator, capital=capital,
                                   lot_size=options.execution.lot_size or 1.0)
        bar_seconds = TIMEFRAME_SECONDS[feed.timeframe]
        self.chain = RiskChain(config, self.promoted, self.board, token_key=os.urandom(32),
                               reference_max_age=timedelta(seconds=bar_seconds))
        adapter_cls = ShadowAdapter if options.mode == "shadow" else PaperAdapter
        adapter = adapter_cls(options.execution, options.costs, capital=capital,
                              cancel_ack_delay_bars=options.cancel_ack_delay_bars)
        self.firewall = OrderFirewall(adapter, self.chain.verify_token,
                                      consume=self.chain.consume)
        self.universes = {sid: frozenset(config.limits[sid].instruments)
                          for sid in self.promoted}
        self.strategies = StrategyRuntime(applied.runnable, breaker=options.breaker,
                                          telemetry=telemetry)
        self.aggregator = IntentAggregator(
            {e.definition.strategy_id: e.definition.priority for e in applied.runnable},
            options.conflict_policy)
        self.monitor = TriggerMonitor(config.firm_limits, config.kill_switch, capital=capital,
                                      session_tz=options.session_tz, clock=self._now)
        self.features = StreamingFeatureBook(feed.symbols, feed.timeframe, source=feed.source,
                                             session_tz=options.session_tz)
        self.records = RecordBuffer(options.session_id, options.operator)
        self.tracks = {sid: StrategyTrack(sid, ref, self.allocator.budget(sid))
                       for sid, ref in self.promoted.items()}
        self.cash = {sid: t.capital for sid, t in self.tracks.items()}
        self.positions: dict[tuple[str, str], float] = defaultdict(float)
        self.orders: dict[str, Order] = {}  # order id → latest state
        self.open_orders: dict[str, Order] = {}  # the working subset
        self.fills: list[Fill] = []
        self.last_target: dict[tuple[str, str], float] = {}
        self.retry: set[tuple[str, str]] = set()
        self.closes: dict[str, float] = {}
        self.cost_total = {sid: 0.0 for sid in self.tracks}
        self.traded_total = {sid: 0.0 for sid in self.tracks}
        self.pending_cancels: list[CancelReport] = []
        self.cancel_reasons: dict[str, str] = {}  # order id → why the runtime cancelled it
        self.stats = EngineStats()
        self._clock_ts: datetime | None = None

    # ------------------------------------------------------------------ the loop

    def run(self) -> EngineStats:
        with steady_heap() as heap:
            for step in self.feed.steps():
                self.step(step)
                heap.idle()
        return self.stats

    def step(self, step: Step) -> None:
        start = time.perf_counter_ns()
        self._clock_ts = now = step.ts
        self.stats.steps += 1
        for event in self.firewall.on_bar(step):
            self._apply(event)
        self._progress_cancels()
        for bar in step.bars:
            self.closes[bar.symbol] = bar.close
        self._mark(now)
        self._check_triggers(step)
        self._decide(step)
        # event-to-decision: the step's last order is decided; reconciliation runs after it
        self.stats.step_latency_ns.append(time.perf_counter_ns() - start)
        if self.stats.steps % self.options.reconcile_every == 0:
            self._reconcile()

    def _now(self) -> datetime:
        assert self._clock_ts is not None
        return self._clock_ts

    # ------------------------------------------------------------------ fills and orders

    def _apply(self, event: AdapterEvent) -> None:
        # Enum members as module constants, ``_value_`` for ``.value`` and membership in
        # OPEN_STATUSES for ``.open`` (each a property call or class lookup, ~70-100 ns,
        # paid per adapter event).
        order = event.order
        self._track_order(order)
        kind, code = event.kind, event.message or None
        if kind is _CANCEL_ACK:  # the row says why it was cancelled
            code = self.cancel_reasons.get(order.order_id, code)
        self.records.order(order, kind._value_, code=code, ts=event.ts)
        fill = event.fill
        if fill is not None:
            self._fill(fill)
        if order.status not in OPEN_STATUSES:
            left = order.qty - order.filled_qty
            remaining = left if left > 0.0 else 0.0  # max(0.0, left), NaN included
            self.chain.on_order_closed(order, remaining)
            if remaining > _EPS:
                self.retry.add((order.request.strategy_id, order.request.symbol))

    def _track_order(self, order: Order) -> None:
        order_id = order.order_id
        self.orders[order_id] = order
        if order.status in OPEN_STATUSES:
            self.open_orders[order_id] = order
        else:
            self.open_orders.pop(order_id, None)

    def _fill(self, fill: Fill) -> None:
        self.stats.fills += 1
        self.fills.append(fill)
        self.records.fill(fill)
        self.chain.on_fill(fill)
        sid, qty, price = fill.strategy_id, fill.qty, fill.price
        sign = SIDE_SIGNS[fill.side]
        signed = sign * qty
        self.positions[(sid, fill.symbol)] += signed
        commission, penalty = fill.commission, fill.penalty
        self.cash[sid] -= signed * price + commission + penalty
        self.cost_total[sid] += commission + fill.spread_cost + fill.impact_cost + penalty
        self.traded_total[sid] += qty * price
        self.tracks[sid].filled_qty += qty
        if fill.arrival_mid and self.telemetry is not None:
            self.telemetry.slippage_bps(
                sign * (price - fill.arrival_mid) / fill.arrival_mid * 1e4)

    def _mark(self, now: datetime) -> None:
        held = dict.fromkeys(self.tracks, 0.0)
        closes = self.closes
        for (sid, sym), qty in self.positions.items():  # one pass, not one per strategy
            if qty:
                held[sid] += qty * closes.get(sym, 0.0)
        firm = 0.0
        for sid, track in self.tracks.items():
            equity = self.cash[sid] + held[sid]
            track.equity.append(equity)
            track.costs.append(self.cost_total[sid])
            track.traded.append(self.traded_total[sid])
            firm += equity
        self._firm_equity = firm

    # ------------------------------------------------------------------ kill switch

    def _check_triggers(self, step: Step) -> None:
        now = self._now()  # step.ts, converted once per step
        fired = list(self.monitor.on_equity(now, self._firm_equity))
        for bar in step.bars:  # a bar of this step's time needs no second conversion
            bar_ts = now if bar.ts_ns == step.ts_ns else bar.ts
            fired += self.monitor.on_bar(bar.symbol, now, bar_ts)
        if getattr(self.feed, "live", False):  # a replay's clock is its data: no gaps
            fired += self.monitor.on_heartbeat("feed", now)
        for trip in self.chain.drain_trips():
            fired += self.monitor.on_trip(trip)
        if fired:
            self.engage(fired)

    def engage(self, triggers: list[Trigger]) -> None:
        """Engage on automatic triggers: latch, persist (callback), cancel the scope's orders."""
        moved = engage_on(self.board.board, triggers)
        self.stats.triggers.extend(triggers)
        for trigger in triggers:
            if self.on_trigger is not None:
                self.on_trigger(trigger)
        for done in moved:
            if self.telemetry is not None:
                self.telemetry.kill_switch(done.scope, done.state.value)
            self.cancel_scope(done.scope)

    def cancel_scope(self, scope: str) -> CancelReport:
        """Cancel every open order in ``scope`` (RTS-12: done only once acknowledged)."""
        reason = f"KILL_SWITCH:{scope.partition(':')[0]}"  # the row names strategy and symbol
        report = self.firewall.cancel_all(
            lambda o: _in_scope(o, scope),
            on_answer=lambda order, ack: self._cancel_answered(order, ack, reason))
        self.stats.cancels.append(report)
        if not report.done:
            self.pending_cancels.append(report)
        return report

    def _cancel_answered(self, order: Order, ack: AdapterAck, reason: str) -> None:
        """Record a cancel and the adapter's answer as order events, like every other
        order event: the request (the order as it stood, with ``reason``), then an
        acknowledgement applied now (ack delay 0) or later from the adapter's events, or a
        reject with the adapter's code."""
        # control: RTS-28 (every cancel request, acknowledgement and reject is an order event)
        now = self._now()
        self.chain.count_message(order.request.strategy_id, now)  # RTS-15a: one message
        self.cancel_reasons[order.order_id] = reason
        self.records.order(order, CANCEL_REQUESTED_EVENT, code=reason, ts=now)
        after = ack.order
        if not ack.ok:
            self.records.order(after or order, CANCEL_REJECTED_EVENT, code=ack.code.value,
                               ts=now)
        elif after is not None and not after.status.open:
            self._apply(AdapterEvent(kind=AdapterEventKind.CANCEL_ACK, ts=after.updated_at,
                                     order=after, message=ack.message))

    def _progress_cancels(self) -> None:
        still = []
        for report in self.pending_cancels:
            now = self.firewall.cancel_progress(report)
            if not now.done:
                still.append(now)
            else:
                self.stats.cancels.append(now)
        self.pending_cancels = still

    def refresh_board(self, board: KillBoard) -> None:
        """Adopt the latched board read from the ledger (an operator engaged or released)."""
        before = {latch.scope for latch in self.board.board.engaged()}
        self.board.board = board
        for latch in board.engaged():
            if latch.scope not in before:
                self.cancel_scope(latch.scope)

    # ------------------------------------------------------------------ decisions

    def _decide(self, step: Step) -> None:
        agg, stats, telemetry, on_vector = (self.aggregator, self.stats, self.telemetry,
                                            self.strategies.on_vector)
        universes, tracks = self.universes, self.tracks
        # One compiled call for the whole step's features (its bars share step.ts_ns).
        vectors = self.features.update_step(step.ts_ns, step.bars)
        for bar, fv in zip(step.bars, vectors, strict=True):
            symbol = bar.symbol
            stats.events += 1
            if telemetry is not None:
                telemetry.feed_bar(symbol, bar.ts, bar.ts)
            for target in on_vector(fv):
                sid = target.strategy_id
                if symbol not in universes.get(sid, ()):
                    continue
                stats.intents += 1
                tracks[sid].exposures[(bar.ts_ns, symbol)] = target.exposure
                agg.add(target)
        targets: dict[str, dict[str, float]] = defaultdict(dict)
        for t in agg.flush():
            key = (t.strategy_id, t.symbol)
            if self.last_target.get(key) != t.exposure or key in self.retry:
                targets[t.strategy_id][t.symbol] = t.exposure
                self.last_target[key] = t.exposure
                self.retry.discard(key)
        if targets:
            self._send(step, targets)

    def _send(self, step: Step, targets: Mapping[str, Mapping[str, float]]) -> None:
        bars = {b.symbol: b for b in step.bars}
        prices = {s: b.close for s, b in bars.items()}
        mids = {s: b.mid for s, b in bars.items()}  # the sim's arrival mid
        allocations = self.allocator.allocate(targets, prices=prices,
                                              positions=self._working_positions(),
                                              now=self._now(), reference_ts=self._now(),
                                              references=mids)
        for allocation in allocations:
            for request in allocation.orders:
                self._submit(request, step, halted=request.symbol not in bars)

    def _working_positions(self) -> dict[tuple[str, str], float]:
        out = dict(self.positions)
        for order in self.open_orders.values():
            r = order.request
            key = (r.strategy_id, r.symbol)
            out[key] = out.get(key, 0.0) + r.side.sign * (order.qty - order.filled_qty)
        return out

    def _submit(self, request: OrderRequest, step: Step, *, halted: bool) -> None:
        self.stats.requests += 1
        now = self._now()
        verdict = self.chain.check(request, now=now, halted=halted)
        decision = verdict.decision
        self.records.decision(decision)
        if self.telemetry is not None:
            self.telemetry.risk_decision(decision.code.value)
        track = self.tracks[request.strategy_id]
        if decision.action is _REJECT:
            self.stats.rejects[decision.code.value] += 1
            track.risk_rejects += 1
            if decision.code in _LIMIT_CODES:
                track.limit_breaches += 1
            return  # re-decided when the target changes, never retried blindly
        send = verdict.to_send()
        ack = self.firewall.submit(send, verdict.token)
        code, order = ack.code, ack.order
        if self.telemetry is not None:
            self.telemetry.execution_submit(code._value_)
        track.ordered_qty += send.qty
        if order is not None:
            self._track_order(order)
            self.records.order(order, "submitted", code=code._value_, ts=now)
        if code is _OK:  # ack.ok
            self.stats.submitted += 1
        else:
            self.chain.on_order_closed(send.client_order_id, send.qty)
            self.retry.add((request.strategy_id, request.symbol))

    # ------------------------------------------------------------------ reconciliation

    def _reconcile(self) -> None:
        net: dict[str, float] = defaultdict(float)
        by_strategy: dict[str, dict[str, float]] = defaultdict(dict)
        for (sid, sym), qty in self.positions.items():
            if abs(qty) > _EPS:
                net[sym] += qty
                by_strategy[sid][sym] = qty
        held = {s: q for s, q in net.items() if abs(q) > _EPS}
        report = reconcile(self.open_orders.values(), held, self.firewall,
                           strategy_positions=by_strategy)
        self.stats.reconciliations += 1
        self.stats.reconciliation_breaks += len(report.breaks)
        if report.breaks and self.telemetry is not None:
            self.telemetry.reconciliation_break(len(report.breaks))
        if report.halt:
            self.engage(self.monitor.on_reconciliation(
                [ReconciliationBreak(key=b.key, runtime_value=b.runtime_value,
                                     adapter_value=b.adapter_value) for b in report.beyond]))

    # ------------------------------------------------------------------ views

    def status(self) -> dict[str, object]:
        return {"session_id": self.options.session_id, "mode": self.options.mode,
                "steps": self.stats.steps, "strategies": self.strategies.status(),
                "kill_switch": [latch.model_dump(mode="json")
                                for latch in self.board.board.engaged()],
                "open_orders": len(self.open_orders),
                "rejects": dict(self.stats.rejects)}


class _BoardView:
    """The chain's view of the kill switch; the board behind it can be swapped on reload.
    ``state_for`` is the current board's own bound method (no forwarding call per check)."""

    __slots__ = ("_board", "state_for")

    def __init__(self, board: KillBoard) -> None:
        self.board = board

    @property
    def board(self) -> KillBoard:
        return self._board

    @board.setter
    def board(self, board: KillBoard) -> None:
        self._board = board
        self.state_for: Callable[[str, str], KillState] = board.state_for


# Read per order event (module constants: an enum member off its class is ~70 ns, a
# ``.open`` property ~100 ns).
_CANCEL_ACK, _REJECT, _OK = AdapterEventKind.CANCEL_ACK, RiskAction.REJECT, AdapterCode.OK
_LIMIT_CODES = frozenset({RiskCode.CREDIT_LIMIT, RiskCode.MAX_ORDER_NOTIONAL,
                          RiskCode.MAX_ORDER_QTY, RiskCode.NOTIONAL_RATE, RiskCode.RATE_LIMIT,
                          RiskCode.MAX_ORDERS_PER_DAY, RiskCode.MAX_OPEN_ORDERS})


class SessionHeap:
    """The cyclic collector's schedule for a session: run between steps, never inside one,
    and never over the same long-lived object twice.

    A session starts with a few hundred thousand long-lived objects (modules, compiled
    kernels, the config) and keeps adding more: every order leaves ~25 tracked objects in
    the session's records (order snapshots, token, decision, acks, their dicts and sets).
    CPython's generational collector rescans survivors in the middle generation — on the
    runtime benchmark ~75 k of them at ~0.3 µs each, 20-26 ms per collection, two thirds of
    all collector time — only to find them alive. So the start-up heap is frozen
    (``gc.freeze``) and the automatic collector switched off; :meth:`idle`, called after
    each step's last decision, runs a young collection once ``young_limit`` allocations
    (net of frees) have accumulated and then *tenures* the survivors: freezes them too, so
    no later collection looks at them. A step's transient objects are freed by reference
    counting or, if cyclic, by the young collection, so tenuring keeps only what is alive.

    What it gives up: a cycle that forms among tenured objects and dies later waits for the
    next sweep — every ``sweep_every`` young collections all objects are unfrozen, fully
    collected and frozen again — or for the session's end. The runtime benchmark makes 7
    cyclic-garbage objects in 3 000 steps (measured with ``gc.callbacks``), so the wait
    costs nothing measurable; the collector's own time falls from ~43 to ~15 µs a step.
    Between steps — the idle time a live feed's bar interval gives — the collections delay
    no decision (the throughput still pays for them). Low-latency Python services tune the
    collector this way (Instagram, "Dismissing Python Garbage Collection at Instagram", 2017;
    ``gc.freeze`` was added for them, CPython bpo-31558).
    """

    __slots__ = ("_young", "sweep_every", "young_limit")

    def __init__(self, young_limit: int = SESSION_YOUNG_LIMIT,
                 sweep_every: int = SESSION_SWEEP_EVERY) -> None:
        if young_limit < 1 or sweep_every < 1:
            raise ValueError("young_limit and sweep_every must be positive")
        self.young_limit = young_limit
        self.sweep_every = sweep_every
        self._young = 0  # young collections since the last sweep

    def idle(self) -> int | None:
        """Run the collection that is due, if any; returns its generation (0: young, then
        tenured; 2: a sweep of everything)."""
        if gc.get_count()[0] < self.young_limit:
            return None
        self._young += 1
        generation = 0
        if self._young >= self.sweep_every:
            self._young, generation = 0, 2
            gc.unfreeze()
        gc.collect(generation)
        gc.freeze()
        return generation


@contextmanager
def steady_heap() -> Iterator[SessionHeap]:
    """Freeze the start-up heap and hand the collector's schedule to the caller (who calls
    :meth:`SessionHeap.idle` between steps) for the session; both undone on exit
    (``gc.unfreeze`` hands every frozen object back to the collector, so nothing is leaked).
    A nested use is a no-op that shares the outer schedule."""
    heap = SessionHeap()
    if gc.get_freeze_count():
        yield heap
        return
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.freeze()
    gc.set_threshold(*SESSION_GC_THRESHOLDS)  # what a library reading it expects
    gc.disable()
    try:
        yield heap
    finally:
        if enabled:
            gc.enable()
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _in_scope(order: Order, scope: str) -> bool:
    kind, _, name = scope.partition(":")
    r = order.request
    return kind == "firm" or (kind == "strategy" and r.strategy_id == name) or \
        (kind == "symbol" and r.symbol == name)
