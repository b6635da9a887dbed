"""The strategy runtime: every runnable catalog entry, fed one feature vector at a time.

Each entry runs in its own slot — its own :class:`~torghut.strategies.sdk.StrategyContext`,
counters and :class:`CircuitBreaker` — so one plugin's failure never stops the others
(plan-details "Strategy plugins": failures degrade locally). Every call goes through the
plugin sandbox and the intent contract check, as in research (a ``RuleStrategy`` is asked
for its target alone, which is checked: :func:`~torghut.strategies.runner.decider`), and
each checked intent comes out as the aggregator's :class:`Target`. A breaker opens after
``max_errors`` errors within ``window_events`` events of that plugin, disabling it with a
recorded reason until the config is reloaded (a new runtime) or, when set, after a cooldown
of ``cooldown_events`` events.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from torghut.contracts import FeatureVector
from torghut.runtime.aggregator import Target, target_emitter
from torghut.runtime.telemetry import Telemetry
from torghut.strategies.registry import ResolvedEntry
from torghut.strategies.runner import Guard, PluginError, decider, prepare
from torghut.strategies.sdk import StrategyContext, StrategyPlugin


@dataclass(frozen=True)
class BreakerPolicy:
    max_errors: int = 3
    window_events: int = 100
    cooldown_events: int | None = None  # None: stays open until a config reload


@dataclass
class CircuitBreaker:
    """Counts a plugin's errors over its last ``window_events`` events."""

    policy: BreakerPolicy
    errors: deque[int] = field(default_factory=deque)
    opened_at: int | None = None  # event index
    reason: str | None = None
    opens: int = 0

    @property
    def open(self) -> bool:
        return self.opened_at is not None

    def allows(self, event: int) -> bool:
        cooldown = self.policy.cooldown_events
        if self.opened_at is not None and cooldown is not None \
                and event - self.opened_at >= cooldown:
            self.opened_at, self.reason = None, None
            self.errors.clear()
        return self.opened_at is None

    def record_error(self, event: int, message: str) -> bool:
        """Count one error; True when this error opened the breaker."""
        self.errors.append(event)
        while self.errors and self.errors[0] <= event - self.policy.window_events:
            self.errors.popleft()
        if len(self.errors) < self.policy.max_errors:
            return False
        self.opened_at, self.opens = event, self.opens + 1
        self.reason = (f"CIRCUIT_OPEN: {len(self.errors)} errors in "
                       f"{self.policy.window_events} events; last: {message}")
        return True


@dataclass
class Slot:
    """One running catalog entry."""

    strategy_id: str
    priority: int
    plugin: StrategyPlugin
    params: BaseModel
    context: StrategyContext
    breaker: CircuitBreaker
    guard: Guard  # the plugin's sandbox, built once
    decide: Callable[[FeatureVector], Target | None]  # checked, through the guard
    events: int = 0
    intents: int = 0
    errors: int = 0
    latency_ns: int = 0
    last_error: str | None = None

    @property
    def ref(self) -> str:
        return self.guard.ref

    def to_json(self) -> dict[str, Any]:
        return {"strategy_id": self.strategy_id, "ref": self.ref, "events": self.events,
                "intents": self.intents, "errors": self.errors,
                "circuit_open": self.breaker.open, "circuit_opens": self.breaker.opens,
                "reason": self.breaker.reason, "last_error": self.last_error,
                "mean_latency_us": self.latency_ns / self.events / 1e3 if self.events else None}


class StrategyRuntime:
    """Feeds every slot each feature vector; returns the checked intents they emit, as
    targets, in slot order."""

    def __init__(self, runnable: Sequence[ResolvedEntry], *,
                 breaker: BreakerPolicy = BreakerPolicy(),
                 telemetry: Telemetry | None = None) -> None:
        self.telemetry = telemetry
        self.slots: list[Slot] = []
        for entry in sorted(runnable, key=lambda e: (e.definition.priority,
                                                     e.definition.strategy_id)):
            assert entry.plugin is not None and entry.params is not None, "not runnable"
            sid = entry.definition.strategy_id
            guard = Guard(prepare(entry.plugin, entry.params))
            context = StrategyContext(strategy_id=sid, params=entry.params)
            self.slots.append(Slot(sid, entry.definition.priority, entry.plugin, entry.params,
                                   context, CircuitBreaker(breaker), guard,
                                   decider(entry.plugin, context, guard,
                                           target_emitter(sid))))
            if telemetry is not None:
                telemetry.plugin_loaded(sid, True)

    def on_vector(self, fv: FeatureVector) -> list[Target]:
        out: list[Target] = []
        clock, telemetry = time.perf_counter_ns, self.telemetry
        for slot in self.slots:
            slot.events += 1
            if slot.breaker.opened_at is not None and not slot.breaker.allows(slot.events):
                continue
            start = clock()
            try:
                intent = slot.decide(fv)
            except PluginError as exc:
                self._failed(slot, fv, str(exc))
                continue
            finally:
                elapsed = clock() - start
                slot.latency_ns += elapsed
                if telemetry is not None:
                    telemetry.plugin_event(slot.strategy_id, elapsed / 1e9)
            if intent is not None:
                slot.intents += 1
                out.append(intent)
                if telemetry is not None:
                    telemetry.plugin_intent(slot.strategy_id)
        return out

    def _failed(self, slot: Slot, fv: FeatureVector, message: str) -> None:
        slot.errors += 1
        slot.last_error = f"{fv.symbol} seq {fv.seq}: {message}"
        if self.telemetry is not None:
            self.telemetry.plugin_error(slot.strategy_id)
        if slot.breaker.record_error(slot.events, slot.last_error) \
                and self.telemetry is not None:
            self.telemetry.circuit_open(slot.strategy_id)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.slots)

    @property
    def circuit_opens(self) -> int:
        return sum(s.breaker.opens for s in self.slots)

    def status(self) -> list[dict[str, Any]]:
        return [slot.to_json() for slot in self.slots]
