"""The pure kill switch: the board's states and scopes, and every automatic trigger.

Time is a fake clock the tests move (the monitor never reads one by itself), except in the
RTS-16 test that also checks the latency against the real wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from torghut.contracts.orders import KillState, RiskCode
from torghut.contracts.runtime_config import FirmLimits, KillSwitchTriggers
from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal
from torghut.risk.kill_switch import (
    ALERT_BUDGET,
    RISK_FUNCTION,
    KillBoard,
    ReconciliationBreak,
    Trigger,
    TriggerCode,
    TriggerMonitor,
    engage_on,
    most_severe,
    parse_scope,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
SEVERITY = [KillState.ACTIVE, KillState.REDUCING, KillState.HALTED]


@dataclass(frozen=True)
class Trip:
    """The shape of ``torghut.risk.chain.Trip`` (what the chain drains for the runtime)."""

    scope: str
    trigger: str
    at: datetime
    reason: str
    observed: float | None = None
    threshold: float | None = None


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def monitor(clock: FakeClock | None = None, *, limits: FirmLimits | None = None,
            triggers: KillSwitchTriggers | None = None, **kw: object) -> TriggerMonitor:
    return TriggerMonitor(limits or FirmLimits(), triggers or KillSwitchTriggers(),
                          clock=clock or FakeClock(), **kw)  # type: ignore[arg-type]


def engage(board: KillBoard, scope: str, state: KillState) -> object:
    return board.engage(scope, state, reason="drill", actor="oscar", at=T0)


# ----------------------------------------------------------------------------- FIA-1


def test_FIA_1_states_only_escalate_while_engaged_and_a_release_returns_to_active() -> None:
    board = KillBoard()
    assert board.state_of("firm") is KillState.ACTIVE and board.engaged() == ()
    first = board.engage("firm", KillState.REDUCING, reason="drill", actor="oscar", at=T0)
    assert first is not None and (first.previous, first.state) == (KillState.ACTIVE,
                                                                    KillState.REDUCING)
    second = board.engage("firm", KillState.HALTED, reason="worse", actor="oscar", at=T0)
    assert second is not None and second.previous is KillState.REDUCING
    assert board.engage("firm", KillState.HALTED, reason="again", actor="oscar", at=T0) is None
    with pytest.raises(Refusal) as info:
        board.engage("firm", KillState.REDUCING, reason="calmer", actor="oscar", at=T0)
    assert info.value.code == "KILL_DEESCALATION" and info.value.exit_code == 1
    assert board.state_of("firm") is KillState.HALTED
    latch = board.latch("firm")
    assert latch is not None and latch.reason == "worse" and latch.trigger == "MANUAL"
    with pytest.raises(TorghutError, match="active is reached only by a release"):
        board.engage("strategy:tsmom", KillState.ACTIVE, reason="x", actor="oscar", at=T0)
    done = board.release("firm", reason="resolved", incident_id="INC-7", actor="oscar",
                         at=T0 + timedelta(hours=1))
    assert (done.previous, done.state, done.incident_id) == (KillState.HALTED,
                                                             KillState.ACTIVE, "INC-7")
    assert board.state_of("firm") is KillState.ACTIVE and board.engaged() == ()


@pytest.mark.parametrize("firm,strategy,symbol", [
    (f, st, sy) for f in SEVERITY for st in SEVERITY for sy in SEVERITY])
def test_FIA_1_state_for_is_the_most_severe_scope_and_reducing_passes_only_reductions(
        firm: KillState, strategy: KillState, symbol: KillState) -> None:
    board = KillBoard()
    for scope, state in (("firm", firm), ("strategy:tsmom", strategy), ("symbol:AAA", symbol)):
        if state is not KillState.ACTIVE:
            engage(board, scope, state)
    governing = board.state_for("tsmom", "AAA")
    assert governing is max((firm, strategy, symbol), key=SEVERITY.index)
    # Another strategy in another symbol answers to the firm scope alone.
    assert board.state_for("other", "BBB") is firm
    grow = board.admits("tsmom", "AAA", reduces_exposure=False)
    shrink = board.admits("tsmom", "AAA", reduces_exposure=True)
    if governing is KillState.ACTIVE:
        assert grow is None and shrink is None
    elif governing is KillState.REDUCING:
        assert grow is RiskCode.TRADING_REDUCING and shrink is None
    else:
        assert grow is RiskCode.TRADING_HALTED and shrink is RiskCode.TRADING_HALTED


@settings(max_examples=60, deadline=None)
@given(engaged=hst.dictionaries(
    hst.sampled_from(["firm", "strategy:a", "strategy:b", "symbol:X", "symbol:Y"]),
    hst.sampled_from([KillState.REDUCING, KillState.HALTED]), max_size=5),
       orders=hst.lists(hst.tuples(hst.sampled_from(["a", "b", "c"]),
                                   hst.sampled_from(["X", "Y", "Z"]), hst.booleans()),
                        min_size=1, max_size=30))
def test_FIA_1_after_an_engage_no_new_order_in_scope_passes_unless_it_reduces(
        engaged: dict[str, KillState], orders: list[tuple[str, str, bool]]) -> None:
    board = KillBoard()
    for scope, state in engaged.items():
        engage(board, scope, state)
    for strategy, symbol, reduces in orders:
        scopes = {"firm", f"strategy:{strategy}", f"symbol:{symbol}"} & engaged.keys()
        code = board.admits(strategy, symbol, reduces_exposure=reduces)
        if any(engaged[s] is KillState.HALTED for s in scopes):
            assert code is RiskCode.TRADING_HALTED
        elif scopes and not reduces:
            assert code is RiskCode.TRADING_REDUCING
        else:
            assert code is None


@pytest.mark.parametrize("text", ["", "firm:", "strategy:", "strategy:Bad Id", "desk:x",
                                  "symbol:", "symbol:has space", "FIRM"])
def test_FIA_1_scope_labels_outside_firm_strategy_symbol_are_bad_input(text: str) -> None:
    with pytest.raises(TorghutError) as info:
        parse_scope(text)
    assert info.value.exit_code == 2 and info.value.field == "scope"
    with pytest.raises(TorghutError):
        KillBoard().engage(text, KillState.HALTED, reason="x", actor="oscar", at=T0)


def test_most_severe_orders_the_states() -> None:
    assert most_severe([]) is KillState.ACTIVE
    assert most_severe([KillState.REDUCING, KillState.ACTIVE]) is KillState.REDUCING
    assert most_severe([KillState.REDUCING, KillState.HALTED]) is KillState.HALTED


# ----------------------------------------------------------------------------- FIA-3


@pytest.mark.parametrize("reason,incident,missing", [
    (None, "INC-1", "reason"), ("  ", "INC-1", "reason"), ("fixed", None, "incident_id"),
    ("fixed", "", "incident_id")])
def test_FIA_3_release_needs_a_reason_and_an_incident_id(
        reason: str | None, incident: str | None, missing: str) -> None:
    board = KillBoard()
    engage(board, "strategy:tsmom", KillState.HALTED)
    with pytest.raises(TorghutError) as info:
        board.release("strategy:tsmom", reason=reason, incident_id=incident, actor="oscar",
                      at=T0)
    assert info.value.exit_code == 2 and info.value.field == missing
    assert board.state_of("strategy:tsmom") is KillState.HALTED


def test_FIA_3_releasing_what_is_not_engaged_is_refused() -> None:
    with pytest.raises(Refusal) as info:
        KillBoard().release("firm", reason="x", incident_id="INC-1", actor="oscar", at=T0)
    assert info.value.code == "KILL_NOT_ENGAGED"


# ----------------------------------------------------------------------------- FIA-2


def test_FIA_2_a_heartbeat_gap_beyond_the_bound_halts_the_affected_strategy() -> None:
    clock = FakeClock()
    mon = monitor(clock, triggers=KillSwitchTriggers(feed_heartbeat_gap_seconds=5.0))
    assert mon.on_heartbeat("strategy:tsmom", clock.now) == []
    assert mon.on_heartbeat("venue:paper", clock.now, scope="strategy:carry") == []
    clock.advance(4.9)
    assert mon.poll() == []
    assert mon.on_heartbeat("venue:paper", clock.now) == []  # carry's venue still beats
    clock.advance(0.6)  # tsmom silent for 5.5 s
    (trip,) = mon.poll()
    assert trip.code is TriggerCode.HEARTBEAT_GAP and trip.scope == "strategy:tsmom"
    assert trip.state is KillState.HALTED and trip.control == "FIA-2"
    assert trip.observed == pytest.approx(5.5) and trip.threshold == 5.0
    assert trip.at == T0 + timedelta(seconds=5)  # when the gap crossed the bound
    assert mon.poll() == []  # latched: one alert, not one per poll
    board = KillBoard()
    engage_on(board, [trip])
    assert board.state_for("tsmom", "AAA") is KillState.HALTED
    assert board.state_for("carry", "AAA") is KillState.ACTIVE


def test_FIA_2_a_feed_gap_halts_the_firm_and_a_late_heartbeat_still_trips() -> None:
    clock = FakeClock()
    mon = monitor(clock)
    mon.on_heartbeat("feed", clock.now)
    (late,) = mon.on_heartbeat("feed", clock.advance(9.0))  # no poll ran in between
    assert late.scope == "firm" and late.observed == pytest.approx(9.0)
    assert late.alert_latency == timedelta(seconds=4)  # detected 4 s after the bound
    assert mon.on_heartbeat("feed", clock.advance(20.0)) == []  # still latched


# ----------------------------------------------------------------------------- RTS-16


def test_RTS_16_alerts_within_5_seconds_of_the_triggering_event() -> None:
    # A runtime polling once a second catches every gap within a second of the bound.
    clock = FakeClock()
    mon = monitor(clock, triggers=KillSwitchTriggers(feed_heartbeat_gap_seconds=2.5,
                                                     data_staleness_seconds=30.0))
    sources = [f"strategy:s{i}" for i in range(5)]
    for i, source in enumerate(sources):
        mon.on_heartbeat(source, clock.now)
        mon.on_bar(f"SYM{i}", clock.now, clock.now)
    alerts: list[Trigger] = []
    for tick in range(1, 120):
        clock.advance(1.0)
        for i, source in enumerate(sources):  # source i goes silent after i * 7 s
            if tick < i * 7:
                mon.on_heartbeat(source, clock.now)
                mon.on_bar(f"SYM{i}", clock.now, clock.now)
        alerts += mon.poll()
    assert {(a.code, a.scope) for a in alerts} == (
        {(TriggerCode.HEARTBEAT_GAP, s) for s in sources}
        | {(TriggerCode.DATA_STALE, f"symbol:SYM{i}") for i in range(5)})
    assert all(timedelta(0) <= a.alert_latency <= timedelta(seconds=1) for a in alerts)
    assert all(a.within_alert_budget for a in alerts)
    # Event-driven triggers are raised on the call that sees the event: measured on the
    # real wall clock, well inside 5 s.
    real = TriggerMonitor(FirmLimits(daily_loss_limit=100.0), KillSwitchTriggers())
    now = datetime.now(UTC)
    real.on_equity(now, 10_000.0)
    (loss,) = real.on_equity(datetime.now(UTC), 9_850.0)
    assert timedelta(0) <= loss.alert_latency < ALERT_BUDGET and loss.within_alert_budget


def test_RTS_16_a_late_alert_is_reported_as_outside_the_budget() -> None:
    clock = FakeClock()
    mon = monitor(clock, limits=FirmLimits(daily_loss_limit=100.0))
    mon.on_equity(T0, 10_000.0)
    clock.advance(6.0)  # the runtime processed the mark 6 s after it was taken
    (loss,) = mon.on_equity(T0, 9_800.0)
    assert loss.alert_latency == timedelta(seconds=6) and not loss.within_alert_budget


def test_RTS_16_the_risk_function_engages_without_a_trader_and_nothing_resumes() -> None:
    clock = FakeClock()
    mon = monitor(clock, limits=FirmLimits(daily_loss_limit=500.0))
    board = KillBoard()
    mon.on_equity(clock.now, 50_000.0)
    triggers = mon.on_equity(clock.advance(60), 49_400.0)
    done = engage_on(board, triggers)
    assert [d.scope for d in done] == ["firm"] and done[0].trigger == "DAILY_LOSS_LIMIT"
    latch = board.latch("firm")
    assert latch is not None and latch.actor == RISK_FUNCTION and latch.incident_id is None
    assert latch.state is KillState.HALTED and "daily loss" in latch.reason
    # Equity recovers: no trigger un-halts anything, and the monitor does not re-fire.
    assert mon.on_equity(clock.advance(60), 51_000.0) == []
    assert engage_on(board, triggers) == []  # already halted: nothing to record
    assert board.state_for("tsmom", "AAA") is KillState.HALTED


# ----------------------------------------------------------------------------- RTS-17


def test_RTS_17_daily_loss_limit_halts_the_firm_and_the_day_resets_the_baseline() -> None:
    limits = FirmLimits(daily_loss_limit=1_000.0, max_drawdown_fraction=1.0)
    clock = FakeClock()
    mon = monitor(clock, limits=limits, session_tz="America/New_York")
    assert mon.on_equity(T0, 100_000.0) == []
    assert mon.on_equity(T0 + timedelta(hours=1), 99_000.5) == []  # 999.5 lost
    (trip,) = mon.on_equity(T0 + timedelta(hours=2), 98_900.0)
    assert (trip.code, trip.scope, trip.control) == (TriggerCode.DAILY_LOSS_LIMIT, "firm",
                                                     "RTS-17")
    assert trip.observed == pytest.approx(1_100.0) and trip.threshold == 1_000.0
    assert trip.at == T0 + timedelta(hours=2)
    mon.rearm("firm")
    # 04:00 UTC next calendar day is still the same New York trading day: still breached.
    same_ny_day = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)
    (again,) = mon.on_equity(same_ny_day, 98_950.0)
    assert again.observed == pytest.approx(1_050.0)
    mon.rearm("firm")
    next_day = datetime(2025, 3, 4, 14, 30, tzinfo=UTC)
    assert mon.on_equity(next_day, 98_000.0) == []  # a new day opens at 98 000
    (third,) = mon.on_equity(next_day + timedelta(hours=3), 96_900.0)
    assert third.observed == pytest.approx(1_100.0)


def test_RTS_17_drawdown_from_the_peak_as_a_fraction_of_capital_halts_the_firm() -> None:
    limits = FirmLimits(daily_loss_limit=1e9, max_drawdown_fraction=0.10)
    mon = monitor(limits=limits, capital=100_000.0)
    marks = [100_000.0, 110_000.0, 105_000.0, 100_000.5]
    assert [mon.on_equity(T0 + timedelta(days=i), e) for i, e in enumerate(marks)] == [[]] * 4
    (trip,) = mon.on_equity(T0 + timedelta(days=5), 99_000.0)
    assert trip.code is TriggerCode.DRAWDOWN_LIMIT and trip.scope == "firm"
    assert trip.observed == pytest.approx((110_000.0 - 99_000.0) / 100_000.0)
    # Without an explicit capital, the first equity seen is the capital.
    implicit = monitor(limits=limits)
    implicit.on_equity(T0, 50_000.0)
    assert implicit.on_equity(T0 + timedelta(days=1), 45_500.0) == []
    (dd,) = implicit.on_equity(T0 + timedelta(days=2), 45_000.0)
    assert dd.observed == pytest.approx(0.10)


def test_RTS_17_a_reconciliation_break_beyond_the_bound_halts_the_firm() -> None:
    mon = monitor(reconciliation_tolerance=0.5)
    small = ReconciliationBreak(key="position:AAA", runtime_value=100.0, adapter_value=100.4)
    assert mon.on_reconciliation([small], T0) == []
    big = ReconciliationBreak(key="position:BBB", runtime_value=10.0, adapter_value=0.0)
    (trip,) = mon.on_reconciliation([small, big], T0)
    assert (trip.code, trip.scope) == (TriggerCode.RECONCILIATION_BREAK, "firm")
    assert trip.observed == 10.0 and trip.threshold == 0.5
    assert "position:BBB" in trip.message and "position:AAA" not in trip.message


# ----------------------------------------------------------------------------- staleness


def test_stale_data_halts_the_symbol_scope_on_arrival_and_on_silence() -> None:
    clock = FakeClock()
    mon = monitor(clock, triggers=KillSwitchTriggers(data_staleness_seconds=120.0))
    assert mon.on_bar("AAA", T0, T0 - timedelta(seconds=120)) == []
    (late,) = mon.on_bar("BBB", T0, T0 - timedelta(seconds=300))
    assert (late.code, late.scope) == (TriggerCode.DATA_STALE, "symbol:BBB")
    assert late.observed == 300.0 and late.control == "plan"
    assert mon.poll() == []  # AAA's newest bar is exactly at the bound; BBB is latched
    clock.now = T0 + timedelta(seconds=30)
    (silent,) = mon.poll()
    assert silent.scope == "symbol:AAA" and silent.at == T0  # bar at T0-120 s + 120 s
    board = KillBoard()
    engage_on(board, [late, silent])
    assert board.state_for("tsmom", "AAA") is KillState.HALTED
    assert board.state_for("tsmom", "CCC") is KillState.ACTIVE


# ----------------------------------------------------------------------------- RTS-15b


def test_RTS_15b_the_chains_throttle_trip_halts_the_strategy() -> None:
    """The pre-trade chain counts fill-and-re-entry cycles (tests/risk/test_risk_controls.py);
    the monitor turns its trip into a strategy-scope halt, once."""
    mon = monitor()
    trip = Trip("strategy:carry", "REPEATED_EXECUTION", T0, "12 > 10", 12.0, 10.0)
    (trigger,) = mon.on_trip(trip)
    assert (trigger.code, trigger.scope, trigger.control, trigger.observed, trigger.message) \
        == (TriggerCode.REPEATED_EXECUTION, "strategy:carry", "RTS-15b", 12.0, "12 > 10")
    assert mon.on_trip(trip) == []  # fires once until rearmed
    board = KillBoard()
    engage_on(board, [trigger])
    assert board.state_for("carry", "AAA") is KillState.HALTED
    assert board.state_for("tsmom", "AAA") is KillState.ACTIVE
    with pytest.raises(TorghutError, match="unknown kill-switch trigger"):
        mon.on_trip(Trip("strategy:carry", "BAD_LUCK", T0, "x"))


def test_an_unknown_session_time_zone_is_bad_input() -> None:
    with pytest.raises(TorghutError) as info:
        monitor(session_tz="Mars/Olympus")
    assert info.value.field == "session_tz"
