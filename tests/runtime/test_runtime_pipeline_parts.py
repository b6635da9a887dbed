"""Feed replay, the strategy runtime's circuit breaker, and the intent aggregator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runtime.runtime_helpers import T0, Flaky, bars_frame, resolve
from torghut.contracts import StrategyIntent
from torghut.data.features import StreamingFeatureMapper
from torghut.errors import TorghutError
from torghut.runtime.aggregator import ConflictPolicy, IntentAggregator, Target
from torghut.runtime.feed import ReplayFeed, window
from torghut.runtime.strategies import BreakerPolicy, StrategyRuntime
from torghut.runtime.telemetry import Telemetry
from torghut.strategies.registry import Registry


def test_replay_yields_steps_in_time_then_symbol_order() -> None:
    frame = bars_frame(("BBB", "AAA"), n=5).sample(frac=1.0, random_state=3)
    steps = list(ReplayFeed(frame, timeframe="1m", source="test").steps())
    assert len(steps) == 5
    assert [s.ts_ns for s in steps] == sorted(s.ts_ns for s in steps)
    assert all([b.symbol for b in s.bars] == ["AAA", "BBB"] for s in steps)
    assert steps[0].bars[0].close == pytest.approx(float(frame.sort_values(
        ["ts", "symbol"]).iloc[0]["close"]))


def test_replay_paces_at_n_times_real_time_without_drift() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    feed = ReplayFeed(bars_frame(("AAA",), n=4), timeframe="1m", source="t", speed=60.0,
                      sleep=sleep, clock=lambda: now[0])
    list(feed.steps())
    # one-minute bars at 60x: one second of wall time between steps
    assert slept == pytest.approx([1.0, 1.0, 1.0])


def test_replay_rejects_bad_speed_and_empty_window() -> None:
    with pytest.raises(TorghutError, match="positive"):
        ReplayFeed(bars_frame(n=2), timeframe="1m", source="t", speed=0.0)
    empty = window(bars_frame(n=2), start=T0 + timedelta(days=1), end=None, symbols=None)
    with pytest.raises(TorghutError, match="no bars"):
        ReplayFeed(empty, timeframe="1m", source="t")
    with pytest.raises(TorghutError, match="ZZZ"):
        window(bars_frame(n=2), start=None, end=None, symbols=["ZZZ"])


def _vectors(symbols: tuple[str, ...], n: int) -> list:
    frame = bars_frame(symbols, n=n)
    mappers = {s: StreamingFeatureMapper(s, "1m", source="t") for s in symbols}
    out = []
    for step in ReplayFeed(frame, timeframe="1m", source="t").steps():
        for b in step.bars:
            out.append(mappers[b.symbol].update(b.ts_ns, b.open, b.high, b.low, b.close,
                                                b.volume))
    return out


def test_failing_plugin_opens_its_breaker_and_never_stops_the_others() -> None:
    registry = Registry.from_entry_points()
    registry.register(Flaky, source="test")
    telemetry = Telemetry()
    runtime = StrategyRuntime([resolve(registry, "flaky", "flaky"),
                               resolve(registry, "tsmom", "tsmom", {"lookback": 5})],
                              breaker=BreakerPolicy(max_errors=3, window_events=50),
                              telemetry=telemetry)
    intents = [i for fv in _vectors(("AAA", "BBB"), 40) for i in runtime.on_vector(fv)]
    flaky, tsmom = runtime.slots if runtime.slots[0].strategy_id == "flaky" else \
        runtime.slots[::-1]
    assert flaky.errors == 3 and flaky.breaker.open and flaky.breaker.opens == 1
    assert flaky.breaker.reason is not None and "CIRCUIT_OPEN" in flaky.breaker.reason
    assert "cannot handle BBB" in flaky.breaker.reason
    # flaky kept nothing after opening; tsmom saw every event and kept emitting
    assert tsmom.events == 80 and tsmom.errors == 0
    assert any(i.strategy_id == "tsmom" for i in intents[-5:])
    assert {i.symbol for i in intents if i.strategy_id == "flaky"} == {"AAA"}
    assert runtime.circuit_opens == 1 and telemetry.circuits_open() == 1


def test_breaker_cooldown_closes_it_again() -> None:
    registry = Registry.from_entry_points()
    registry.register(Flaky, source="test")
    runtime = StrategyRuntime([resolve(registry, "flaky", "flaky")],
                              breaker=BreakerPolicy(max_errors=2, window_events=10,
                                                    cooldown_events=6))
    for fv in _vectors(("AAA", "BBB"), 20):
        runtime.on_vector(fv)
    slot = runtime.slots[0]
    assert slot.breaker.opens > 1  # it re-opened after each cooldown: BBB still fails


def _intent(sid: str, sym: str, x: float, seq: int = 1) -> StrategyIntent:
    return StrategyIntent(strategy_id=sid, strategy_type="tsmom", version="1.0.0", symbol=sym,
                          event_ts=T0, seq=seq, target_exposure=x, reason="TARGET_LONG",
                          feature_schema_version="3.1")


def _as_target(i: StrategyIntent) -> Target:
    return Target(i.strategy_id, i.symbol, i.target_exposure, i.seq, i.event_ts, i.reason)


def _target(sid: str, sym: str, x: float, seq: int = 1) -> Target:
    return _as_target(_intent(sid, sym, x, seq))


def test_aggregator_latest_event_wins_within_a_strategy() -> None:
    agg = IntentAggregator({"a": 1})
    agg.add(_target("a", "AAA", 0.5, seq=2))
    agg.add(_target("a", "AAA", -0.5, seq=1))  # older event arriving late: ignored
    (target,) = agg.flush()
    assert target.exposure == 0.5 and agg.superseded == 1
    assert agg.flush() == []


@pytest.mark.parametrize("policy,expected", [(ConflictPolicy.NET, {"a": 1.0, "b": -0.5}),
                                             (ConflictPolicy.PRIORITY, {"a": 1.0, "b": 0.0})])
def test_aggregator_counts_conflicts_and_resolves_by_policy(
        policy: ConflictPolicy, expected: dict[str, float]) -> None:
    agg = IntentAggregator({"a": 1, "b": 2}, policy)
    agg.add(_target("b", "AAA", -0.5))
    agg.add(_target("a", "AAA", 1.0))
    agg.add(_target("b", "BBB", 0.3))
    targets = agg.flush()
    assert agg.conflicts == 1
    got = {t.strategy_id: t.exposure for t in targets if t.symbol == "AAA"}
    assert got == expected
    assert [t.symbol for t in targets] == ["AAA", "AAA", "BBB"]
    assert [t.strategy_id for t in targets[:2]] == ["a", "b"]  # priority order


def _reference_flush(intents: list[StrategyIntent], priorities: dict[str, int],
                     policy: ConflictPolicy) -> tuple[list[Target], int, int]:
    """The aggregator's rules written plainly: (targets, conflicts, superseded)."""
    latest: dict[tuple[str, str], StrategyIntent] = {}
    superseded = 0
    for i in intents:
        held = latest.get((i.strategy_id, i.symbol))
        superseded += held is not None
        if held is None or held.seq <= i.seq:
            latest[(i.strategy_id, i.symbol)] = i
    out, conflicts = [], 0
    for symbol in sorted({s for _, s in latest}):
        ranked = sorted((i for i in latest.values() if i.symbol == symbol),
                        key=lambda i: (priorities.get(i.strategy_id, 1 << 30), i.strategy_id))
        xs = [i.target_exposure for i in ranked]
        conflict = any(x > 0 for x in xs) and any(x < 0 for x in xs)
        conflicts += conflict
        lead = next((x for x in xs if x), 0.0)
        for i in ranked:
            flat = conflict and policy is ConflictPolicy.PRIORITY and i.target_exposure * lead < 0
            out.append(Target(i.strategy_id, i.symbol, 0.0 if flat else i.target_exposure,
                              i.seq, i.event_ts, "CONFLICT_FLATTENED" if flat else i.reason))
    return out, conflicts, superseded


@settings(max_examples=80, deadline=None)
@given(policy=st.sampled_from(ConflictPolicy), steps=st.lists(st.lists(st.tuples(
    st.sampled_from(["a", "b", "c", "unranked"]), st.sampled_from(["AAA", "BBB", "CCC"]),
    st.sampled_from([-1.0, -0.5, 0.0, 0.25, 1.0]), st.integers(0, 5)), max_size=12),
    min_size=1, max_size=3))
def test_aggregator_matches_its_rules_written_plainly(
        policy: ConflictPolicy, steps: list[list[tuple[str, str, float, int]]]) -> None:
    priorities = {"a": 2, "b": 1, "c": 2}  # a tie (a, c) breaks by strategy id
    agg = IntentAggregator(priorities, policy)
    conflicts = superseded = 0
    for batch in steps:
        intents = [_intent(sid, sym, x, seq) for sid, sym, x, seq in batch]
        for intent in intents:
            agg.add(_as_target(intent))
        expected, c, s = _reference_flush(intents, priorities, policy)
        conflicts, superseded = conflicts + c, superseded + s
        got = agg.flush()
        assert got == expected
        assert [type(t) for t in got] == [Target] * len(got)
        assert (agg.conflicts, agg.superseded) == (conflicts, superseded)
