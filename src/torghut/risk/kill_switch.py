"""The kill-switch state machine and its automatic triggers (pure: no I/O, no clock of its own).

Two parts, both fed by the runtime and persisted by :mod:`torghut.ops.kill_switch`:

* :class:`KillBoard` — the latched state of every scope (``firm``, ``strategy:<id>``,
  ``symbol:<sym>``; RTS 6 Art 12, control RTS-12). A scope moves ACTIVE → REDUCING → HALTED
  (FIA-1; FIA "Recommendations for Risk Controls", 2010/2015): while REDUCING only
  exposure-reducing orders pass, while HALTED only cancels. Escalation is allowed while
  engaged, de-escalation is not: the only way back is :meth:`KillBoard.release`, to ACTIVE,
  with a reason, an incident id and an operations identity (FIA-3; RTS 6 Art 15(3)). This
  module checks that they are present; the ledger side checks who the identity is. Nothing
  resumes on its own.
* :class:`TriggerMonitor` — watches equity, bars, heartbeats, reconciliation and the
  repeated-execution throttle and returns :class:`Trigger` s: daily loss and drawdown halt
  the firm (RTS 6 Art 17, control RTS-17), a heartbeat gap halts the affected scope
  (cancel-on-disconnect, FIA-2), stale data halts the symbol's scope, a reconciliation break
  halts the firm (RTS-17), the repeated-execution throttle halts the strategy (RTS-15b). The
  risk function can engage on a trigger without a trader (RTS 6 Art 16(5), control RTS-16)
  and every trigger records when it was detected, so its alert latency — at most
  :data:`ALERT_BUDGET`, 5 s — is measurable.

The monitor never reads a clock by itself: the runtime passes ``clock`` (wall time live,
the replay clock in a replay), so a replay reproduces the same triggers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, Field

from torghut.contracts.base import SLUG_PATTERN, Contract
from torghut.contracts.orders import KillState, RiskCode
from torghut.contracts.runtime_config import SYMBOL_PATTERN, FirmLimits, KillSwitchTriggers
from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal

FIRM = "firm"
MANUAL = "MANUAL"
RISK_FUNCTION = "risk-function"
"""The actor the runtime's automatic risk function engages as (RTS-16: no trader needed)."""
ALERT_BUDGET = timedelta(seconds=5)
"""RTS 6 Art 16(5): an alert within 5 s of the triggering event."""

_SEVERITY: dict[KillState, int] = {KillState.ACTIVE: 0, KillState.REDUCING: 1,
                                   KillState.HALTED: 2}
_STRATEGY = re.compile(SLUG_PATTERN)
_SYMBOL = re.compile(SYMBOL_PATTERN)


def most_severe(states: Iterable[KillState]) -> KillState:
    """The strictest of ``states`` (ACTIVE when there are none)."""
    return max(states, key=_SEVERITY.__getitem__, default=KillState.ACTIVE)


def parse_scope(text: str) -> str:
    """``firm``, ``strategy:<id>`` or ``symbol:<sym>``; anything else is bad input (exit 2)."""
    kind, sep, name = text.partition(":")
    if text == FIRM:
        return text
    if sep and kind == "strategy" and _STRATEGY.match(name):
        return text
    if sep and kind == "symbol" and _SYMBOL.match(name):
        return text
    raise TorghutError(f"scope {text!r} is not firm, strategy:<strategy_id> or "
                       "symbol:<symbol>", field="scope")


def _require(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise TorghutError(f"{what} is required", field=what)
    return value.strip()


# ----------------------------------------------------------------------------- the board


_ACTIVE = KillState.ACTIVE  # a module constant: an enum member read costs ~70 ns

class ScopeLatch(Contract):
    """One scope's latched, engaged state and why (the newest engage of that scope)."""

    schema_version: Literal["1.0"] = "1.0"
    scope: str = Field(min_length=1)
    state: KillState
    reason: str
    actor: str
    trigger: str = Field(description="MANUAL or a TriggerCode")
    incident_id: str | None = None
    since: AwareDatetime


class KillTransition(Contract):
    """One change of one scope's state: what the ledger records as a kill_switch_events row."""

    schema_version: Literal["1.0"] = "1.0"
    action: Literal["engage", "release"]
    scope: str
    previous: KillState
    state: KillState
    reason: str
    actor: str
    trigger: str
    incident_id: str | None = None
    at: AwareDatetime


class KillBoard:
    """The state of every scope; a scope not on the board is ACTIVE."""

    def __init__(self, latches: Iterable[ScopeLatch] = ()) -> None:
        self._latches: dict[str, ScopeLatch] = {}
        for latch in latches:
            if latch.state is not KillState.ACTIVE:
                self._latches[latch.scope] = latch

    def state_of(self, scope: str) -> KillState:
        latch = self._latches.get(scope)
        return KillState.ACTIVE if latch is None else latch.state

    def latch(self, scope: str) -> ScopeLatch | None:
        return self._latches.get(scope)

    def engaged(self) -> tuple[ScopeLatch, ...]:
        """Every engaged scope, firm first, then by name."""
        return tuple(sorted(self._latches.values(), key=lambda x: (x.scope != FIRM, x.scope)))

    def state_for(self, strategy_id: str | None = None, symbol: str | None = None) -> KillState:
        """What governs an order of ``strategy_id`` in ``symbol``: the most severe of the
        firm, strategy and symbol scopes (RTS-12: the limit hierarchy applies to kills too)."""
        latches = self._latches
        if not latches:  # the common case, on the pre-trade chain's hot path
            return _ACTIVE
        found = [latches.get(FIRM)]
        if strategy_id is not None:
            found.append(latches.get(f"strategy:{strategy_id}"))
        if symbol is not None:
            found.append(latches.get(f"symbol:{symbol}"))
        return most_severe(latch.state for latch in found if latch is not None)

    def admits(self, strategy_id: str, symbol: str, *, reduces_exposure: bool) -> RiskCode | None:
        """``None`` if a new order may pass, else the reject code (cancels always pass)."""
        # control: FIA-1 (REDUCING: only exposure-reducing orders; HALTED: only cancels)
        state = self.state_for(strategy_id, symbol)
        if state is KillState.HALTED:
            return RiskCode.TRADING_HALTED
        if state is KillState.REDUCING and not reduces_exposure:
            return RiskCode.TRADING_REDUCING
        return None

    def engage(self, scope: str, state: KillState, *, reason: str, actor: str,
               trigger: str = MANUAL, incident_id: str | None = None,
               at: datetime) -> KillTransition | None:
        """Engage ``scope`` at ``state`` (REDUCING or HALTED); ``None`` if already there.

        Only escalation: HALTED → REDUCING is refused (``KILL_DEESCALATION``) — going back
        is a release, which needs an incident (FIA-3).
        """
        scope = parse_scope(scope)
        if state is KillState.ACTIVE:
            raise TorghutError("engage to reducing or halted; active is reached only by a "
                               "release", field="state")
        previous = self.state_of(scope)
        if previous is state:
            return None
        if _SEVERITY[state] < _SEVERITY[previous]:
            raise Refusal("KILL_DEESCALATION", f"{scope} is {previous.value}; it cannot go "
                          f"back to {state.value} without a release (reason + incident id)")
        done = KillTransition(action="engage", scope=scope, previous=previous, state=state,
                              reason=_require(reason, "reason"), actor=_require(actor, "actor"),
                              trigger=trigger, incident_id=incident_id, at=at)
        self.apply(done)
        return done

    def release(self, scope: str, *, reason: str | None, incident_id: str | None, actor: str,
                at: datetime) -> KillTransition:
        """Back to ACTIVE; needs a reason, an incident id and an actor (FIA-3)."""
        # control: FIA-3 (release needs a reason and an incident id; never automatic)
        scope = parse_scope(scope)
        why, incident = _require(reason, "reason"), _require(incident_id, "incident_id")
        who = _require(actor, "actor")
        previous = self.state_of(scope)
        if previous is KillState.ACTIVE:
            raise Refusal("KILL_NOT_ENGAGED", f"{scope} is not engaged; there is nothing to "
                          "release")
        done = KillTransition(action="release", scope=scope, previous=previous,
                              state=KillState.ACTIVE, reason=why, actor=who,
                              trigger=MANUAL, incident_id=incident, at=at)
        self.apply(done)
        return done

    def apply(self, done: KillTransition) -> None:
        """Apply a transition already decided (``engage``/``release`` or read back)."""
        if done.state is KillState.ACTIVE:
            self._latches.pop(done.scope, None)
            return
        self._latches[done.scope] = ScopeLatch(
            scope=done.scope, state=done.state, reason=done.reason, actor=done.actor,
            trigger=done.trigger, incident_id=done.incident_id, since=done.at)


# ----------------------------------------------------------------------------- triggers


class TriggerCode(StrEnum):
    """Why the risk function engaged the kill switch on its own (RTS-16)."""

    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"  # RTS-17
    DRAWDOWN_LIMIT = "DRAWDOWN_LIMIT"  # firm drawdown limit
    DATA_STALE = "DATA_STALE"  # plan: kill on severe data staleness
    RECONCILIATION_BREAK = "RECONCILIATION_BREAK"  # RTS-17
    REPEATED_EXECUTION = "REPEATED_EXECUTION"  # RTS-15b
    HEARTBEAT_GAP = "HEARTBEAT_GAP"  # FIA-2 cancel-on-disconnect


_CONTROL: dict[TriggerCode, str] = {
    TriggerCode.DAILY_LOSS_LIMIT: "RTS-17", TriggerCode.DRAWDOWN_LIMIT: "RTS-17",
    TriggerCode.DATA_STALE: "plan", TriggerCode.RECONCILIATION_BREAK: "RTS-17",
    TriggerCode.REPEATED_EXECUTION: "RTS-15b", TriggerCode.HEARTBEAT_GAP: "FIA-2",
}


class Trigger(Contract):
    """An automatic kill: which limit, on which scope, the number that broke it and when.

    ``at`` is the triggering event (the equity mark, the stale bar's arrival, the moment a
    heartbeat gap passed its bound); ``detected_at`` is when the monitor raised it.
    """

    schema_version: Literal["1.0"] = "1.0"
    code: TriggerCode
    scope: str
    state: KillState = KillState.HALTED
    observed: float
    threshold: float
    at: AwareDatetime
    detected_at: AwareDatetime
    control: str
    message: str

    @property
    def alert_latency(self) -> timedelta:
        return self.detected_at - self.at

    @property
    def within_alert_budget(self) -> bool:
        """RTS-16: raised within 5 s of the triggering event."""
        return self.alert_latency <= ALERT_BUDGET


class ReconciliationBreak(Contract):
    """One quantity the runtime and the adapter disagree on (a position, an order's fill)."""

    schema_version: Literal["1.0"] = "1.0"
    key: str = Field(min_length=1, description="e.g. position:AAPL or order:<id>.filled_qty")
    runtime_value: float = Field(allow_inf_nan=False)
    adapter_value: float = Field(allow_inf_nan=False)

    @property
    def magnitude(self) -> float:
        return abs(self.runtime_value - self.adapter_value)


class TripLike(Protocol):
    """A trigger another control raised (``torghut.risk.chain.Trip``: the pre-trade chain's
    repeated-execution throttle, RTS-15b); the monitor turns it into a :class:`Trigger`."""

    @property
    def scope(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def reason(self) -> str: ...
    @property
    def observed(self) -> float | None: ...
    @property
    def threshold(self) -> float | None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Watch:
    scope: str
    last: datetime


@dataclass
class _Equity:
    capital: float | None
    day: date | None = None
    day_open: float = 0.0
    peak: float = 0.0


@dataclass
class TriggerMonitor:
    """Turns what the runtime observes into :class:`Trigger` s, each at most once per
    (code, scope) until :meth:`rearm` — nothing resumes, and nothing re-fires, by itself.

    ``capital`` is the denominator of the drawdown fraction (``FirmLimits.max_drawdown_fraction``
    is "a fraction of capital"); by default the first equity seen. ``session_tz`` delimits
    the trading day of the daily loss limit. ``reconciliation_tolerance`` is the bound a
    break must exceed to halt (RTS-17).
    """

    limits: FirmLimits
    triggers: KillSwitchTriggers
    clock: Callable[[], datetime] = _utc_now
    capital: float | None = None
    session_tz: str = "UTC"
    reconciliation_tolerance: float = 0.0
    _fired: set[tuple[TriggerCode, str]] = field(default_factory=set, init=False)
    _equity: _Equity = field(init=False)
    _tz: ZoneInfo = field(init=False)
    _beats: dict[str, _Watch] = field(default_factory=dict, init=False)
    _bars: dict[str, datetime] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._equity = _Equity(capital=self.capital)
        try:
            self._tz = ZoneInfo(self.session_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise TorghutError(f"unknown time zone {self.session_tz!r}",
                               field="session_tz") from None

    # -- observations

    def on_equity(self, ts: datetime, equity: float) -> list[Trigger]:
        """Account equity marked at ``ts``: daily loss and drawdown (both halt the firm)."""
        # control: RTS-17 (a daily loss limit halts)
        eq, day = self._equity, ts.astimezone(self._tz).date()
        if eq.capital is None:
            eq.capital = equity
        if eq.day != day:
            eq.day, eq.day_open = day, equity
        eq.peak = max(eq.peak, equity)
        out: list[Trigger] = []
        loss = eq.day_open - equity
        if loss >= self.limits.daily_loss_limit:
            out += self._fire(TriggerCode.DAILY_LOSS_LIMIT, FIRM, loss,
                              self.limits.daily_loss_limit, ts,
                              f"daily loss {loss:,.2f} reached the limit "
                              f"{self.limits.daily_loss_limit:,.2f}")
        drawdown = (eq.peak - equity) / eq.capital if eq.capital > 0 else 0.0
        if drawdown >= self.limits.max_drawdown_fraction:
            out += self._fire(TriggerCode.DRAWDOWN_LIMIT, FIRM, drawdown,
                              self.limits.max_drawdown_fraction, ts,
                              f"drawdown {drawdown:.2%} of capital reached the limit "
                              f"{self.limits.max_drawdown_fraction:.2%}")
        return out

    def on_bar(self, symbol: str, ts: datetime, event_ts: datetime) -> list[Trigger]:
        """A bar for ``symbol`` stamped ``event_ts`` arrived at ``ts``: stale data halts
        the strategies reading it (scope ``symbol:<sym>``)."""
        self._bars[symbol] = max(event_ts, self._bars.get(symbol, event_ts))
        age = (ts - event_ts).total_seconds()
        if age <= self.triggers.data_staleness_seconds:
            return []
        return self._stale(symbol, age, ts)

    def on_heartbeat(self, source: str, ts: datetime, *, scope: str | None = None) -> list[Trigger]:
        """A heartbeat from ``source`` (a feed, a venue session, a strategy) at ``ts``.

        ``scope`` is what a gap halts: by default ``source`` itself when it is a scope label
        (``strategy:tsmom``), else the firm. A heartbeat that arrives after a gap longer
        than the bound still trips (late: the runtime should :meth:`poll` to be on time).
        """
        watch = self._beats.get(source)
        if watch is None:
            watch = self._beats[source] = _Watch(_scope_of(source, scope), ts)
            return []
        out = self._gap(source, watch, ts)
        watch.last = max(watch.last, ts)
        return out

    def on_reconciliation(self, breaks: Sequence[ReconciliationBreak],
                          at: datetime | None = None) -> list[Trigger]:
        """A reconciliation pass: any break beyond the tolerance halts the firm (RTS-17)."""
        # control: RTS-17 (a reconciliation break beyond a bound halts)
        beyond = [b for b in breaks if b.magnitude > self.reconciliation_tolerance]
        if not beyond:
            return []
        worst = max(beyond, key=lambda b: b.magnitude)
        keys = ", ".join(b.key for b in beyond[:5]) + (" …" if len(beyond) > 5 else "")
        return self._fire(TriggerCode.RECONCILIATION_BREAK, FIRM, worst.magnitude,
                          self.reconciliation_tolerance, at or self.clock(),
                          f"{len(beyond)} reconciliation break(s) beyond "
                          f"{self.reconciliation_tolerance:g}: {keys}")

    def on_trip(self, trip: TripLike) -> list[Trigger]:
        """A trip raised by another control (the chain's repeated-execution throttle halts
        the strategy, RTS-15b); an unknown trigger code or scope is bad input."""
        try:
            code = TriggerCode(trip.trigger)
        except ValueError:
            raise TorghutError(f"unknown kill-switch trigger {trip.trigger!r}",
                               field="trigger") from None
        return self._fire(code, parse_scope(trip.scope), trip.observed or 0.0,
                          trip.threshold or 0.0, trip.at, trip.reason)

    def poll(self, now: datetime | None = None) -> list[Trigger]:
        """Check silence: heartbeat gaps and symbols whose newest bar is too old.

        The runtime calls this on a timer (at least once a second keeps every alert inside
        :data:`ALERT_BUDGET`); ``at`` is when the bound was crossed, not when it was noticed.
        """
        now = now or self.clock()
        out: list[Trigger] = []
        for source, watch in self._beats.items():
            out += self._gap(source, watch, now)
        bound = self.triggers.data_staleness_seconds
        for symbol, last in self._bars.items():
            age = (now - last).total_seconds()
            if age > bound:
                out += self._stale(symbol, age, last + timedelta(seconds=bound))
        return out

    def rearm(self, scope: str) -> None:
        """After a release of ``scope``: its triggers may fire again (and re-halt if the
        condition still holds — a release does not lift a breached limit)."""
        self._fired = {k for k in self._fired if k[1] != scope}

    # -- internals

    def _gap(self, source: str, watch: _Watch, now: datetime) -> list[Trigger]:
        # control: FIA-2 (a heartbeat gap beyond the bound halts: cancel-on-disconnect)
        bound = self.triggers.feed_heartbeat_gap_seconds
        gap = (now - watch.last).total_seconds()
        if gap <= bound:
            return []
        return self._fire(TriggerCode.HEARTBEAT_GAP, watch.scope, gap, bound,
                          watch.last + timedelta(seconds=bound),
                          f"no heartbeat from {source} for {gap:.1f} s (bound {bound:g} s): "
                          "cancel on disconnect")

    def _stale(self, symbol: str, age: float, at: datetime) -> list[Trigger]:
        bound = self.triggers.data_staleness_seconds
        return self._fire(TriggerCode.DATA_STALE, f"symbol:{symbol}", age, bound, at,
                          f"{symbol} data is {age:.1f} s old (bound {bound:g} s)")

    def _fire(self, code: TriggerCode, scope: str, observed: float, threshold: float,
              at: datetime, message: str) -> list[Trigger]:
        # control: RTS-16 (each trigger stamps its detection time: alert latency is measured)
        if (code, scope) in self._fired:
            return []
        self._fired.add((code, scope))
        return [Trigger(code=code, scope=scope, observed=observed, threshold=threshold, at=at,
                        detected_at=self.clock(), control=_CONTROL[code], message=message)]


def _scope_of(source: str, scope: str | None) -> str:
    if scope is not None:
        return parse_scope(scope)
    try:
        return parse_scope(source)
    except TorghutError:
        return FIRM


def engage_on(board: KillBoard, triggers: Iterable[Trigger], *,
              actor: str = RISK_FUNCTION) -> list[KillTransition]:
    """Engage the board on each trigger, as the risk function (RTS-16: no trader needed).

    A trigger for a scope already at that state (or stricter) changes nothing.
    """
    # control: RTS-16 (the risk function can trigger the kill switch without the trader)
    done: list[KillTransition] = []
    for t in triggers:
        if _SEVERITY[board.state_of(t.scope)] >= _SEVERITY[t.state]:
            continue
        moved = board.engage(t.scope, t.state, reason=t.message, actor=actor,
                             trigger=t.code.value, at=t.detected_at)
        if moved is not None:
            done.append(moved)
    return done
