"""The runtime's per-event call of a plugin (runner.decider): a RuleStrategy is asked for its
target only and the intent built from trusted values, so that fast path must decide, skip,
record and fail exactly as ``on_event`` checked by ``check_intent`` does."""

from __future__ import annotations

import math
import socket
from collections.abc import MutableSequence, Sequence
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies.strategy_helpers import vector
from torghut.contracts import FeatureVector, SignalQuality, StrategyIntent
from torghut.strategies.runner import (
    Emit,
    Guard,
    PluginError,
    check_intent,
    decider,
    ref_of,
)
from torghut.strategies.sandbox import PluginSandboxViolation, active
from torghut.strategies.sdk import (
    RuleStrategy,
    SkipCode,
    StrategyContext,
    StrategyParams,
    StrategyPlugin,
    event_skip,
    kernel,
    rule_intent,
)


def intent_emitter(plugin: StrategyPlugin, ctx: StrategyContext) -> Emit[StrategyIntent]:
    """An ``emit`` that builds the StrategyIntent the SDK's on_event would have: the
    decider's output is then comparable with on_event's, intent for intent."""
    strategy_id, strategy_type, version = ctx.strategy_id, plugin.strategy_type, plugin.version

    def emit(fv: FeatureVector, target: float, reason: str) -> StrategyIntent:
        return rule_intent(strategy_id, strategy_type, version, fv, target, reason)

    return emit


@kernel
def _echo(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    """The first feature is the target; an rsi14 of 13 makes the rule raise."""
    if len(x) > 1 and x[1] == 13.0:
        raise ValueError(f"unlucky at {x[0]}")
    state[0] += 1.0
    return x[0]


class Echo(RuleStrategy[StrategyParams]):
    strategy_type: ClassVar[str] = "echo"
    version: ClassVar[str] = "1.0.0"
    Params = StrategyParams
    features: ClassVar[tuple[str, ...]] = ("price", "rsi14")
    rule = staticmethod(_echo)

    def kernel_params(self, params: StrategyParams) -> tuple[float, ...]:
        return ()

    def initial_state(self, params: StrategyParams) -> list[float]:
        return [0.0]

    def warmup_bars(self, params: StrategyParams) -> int:
        return 2


class EchoPrice(Echo):
    """One feature: the reader's single-name case."""

    strategy_type: ClassVar[str] = "echo_price"
    features: ClassVar[tuple[str, ...]] = ("price",)


def _reference(plugin: Any, ctx: StrategyContext, guard: Guard,
               fv: FeatureVector) -> StrategyIntent | None:
    """What the runtime did before the fast path: on_event, then the full intent check."""
    intent = guard("on_event", plugin.on_event, fv, ctx)
    if intent is not None:
        check_intent(intent, fv, plugin, ctx)
    return intent


def _outcome(call: Any, fv: FeatureVector) -> tuple[Any, ...]:
    try:
        intent = call(fv)
    except PluginError as exc:
        return ("error", exc.message, exc.field, type(exc.__cause__))
    if intent is None:
        return ("none",)
    return ("intent", intent.__dict__, intent.__pydantic_fields_set__)


_VALUES = st.sampled_from([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, math.nan, math.inf,
                           -math.inf, None])
_EVENTS = st.lists(st.tuples(
    st.sampled_from(["AAA", "BBB"]), _VALUES, st.sampled_from([50.0, 13.0, None, math.nan]),
    st.sampled_from(list(SignalQuality)), st.sampled_from([0, 500_000])), max_size=40)


@pytest.mark.parametrize("cls", [Echo, EchoPrice], ids=lambda c: c.strategy_type)
@settings(max_examples=150, deadline=None)
@given(events=_EVENTS)
def test_fast_path_equals_on_event_checked_in_full(cls: type[Echo], events: list[Any]) -> None:
    plugin = cls()
    guard = Guard(ref_of(plugin))
    fast_ctx, ref_ctx = (StrategyContext(strategy_id="s1", params=StrategyParams())
                         for _ in range(2))
    fast = decider(plugin, fast_ctx, guard, intent_emitter(plugin, fast_ctx))
    for seq, (symbol, price, rsi, flag, staleness) in enumerate(events):
        fv = vector(seq, symbol, price=price, rsi14=rsi, signal_quality_flag=flag,
                    staleness_ms=staleness)
        assert _outcome(fast, fv) == _outcome(
            lambda v: _reference(plugin, ref_ctx, guard, v), fv)
    assert fast_ctx.local == ref_ctx.local
    assert fast_ctx.skip_counts == ref_ctx.skip_counts
    assert fast_ctx.last_skip == ref_ctx.last_skip


def test_fast_intents_equal_validated_ones() -> None:
    plugin = EchoPrice()
    ctx = StrategyContext(strategy_id="s1", params=StrategyParams())
    decide = decider(plugin, ctx, Guard(ref_of(plugin)), intent_emitter(plugin, ctx))
    emitted = [decide(vector(seq, price=x)) for seq, x in enumerate([0.1, 0.2, 0.5, -1.0, 0.0])]
    assert emitted[:2] == [None, None]  # warm-up
    for intent in emitted[2:]:
        assert intent is not None and intent == StrategyIntent(**intent.model_dump())
    assert [i.reason for i in emitted[2:] if i] == ["TARGET_LONG", "TARGET_SHORT",
                                                    "TARGET_FLAT"]


class ForgesIntents(Echo):
    """Overrides on_event: its intents are its own, so they are checked in full."""

    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        intent = super().on_event(fv, ctx)
        return None if intent is None else intent.model_copy(update={"symbol": "ZZZ"})


class BadTarget(Echo):
    """Overrides target: whatever it returns is checked as a target."""

    def target(self, fv: FeatureVector, ctx: StrategyContext) -> Any:
        ctx.strategy_id = "hijacked"  # plugin code cannot re-label the intents
        return {0: 0.5, 1: "0.5", 2: 1.5}[fv.seq]


def test_a_plugin_that_builds_its_own_intents_is_checked_in_full() -> None:
    plugin = ForgesIntents()
    ctx = StrategyContext(strategy_id="s1", params=StrategyParams())
    decide = decider(plugin, ctx, Guard(ref_of(plugin)), intent_emitter(plugin, ctx))
    for seq in range(2):
        decide(vector(seq, price=0.5, rsi14=50.0))
    with pytest.raises(PluginError, match=r"has wrong \['symbol'\]"):
        decide(vector(2, price=0.5, rsi14=50.0))


def test_an_overridden_target_is_checked_and_cannot_change_the_identity() -> None:
    plugin = BadTarget()
    ctx = StrategyContext(strategy_id="s1", params=StrategyParams())
    decide = decider(plugin, ctx, Guard(ref_of(plugin)), intent_emitter(plugin, ctx))
    intent = decide(vector(0))
    assert intent is not None and intent.strategy_id == "s1"
    for seq, shown in ((1, "'0.5'"), (2, "1.5")):
        with pytest.raises(PluginError) as info:
            decide(vector(seq))
        assert info.value.message == (f"intent at AAA seq {seq}: target_exposure {shown} is "
                                      "not a float within [-1, 1]")
        assert info.value.field == "echo@1.0.0.on_event"


@kernel
def _dials_out(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    assert active()
    socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    return 0.0


class DialsOut(Echo):
    strategy_type: ClassVar[str] = "dials_out"
    rule = staticmethod(_dials_out)


def test_the_rule_runs_in_the_plugins_sandbox() -> None:
    plugin = DialsOut()
    ctx = StrategyContext(strategy_id="s1", params=StrategyParams())
    with pytest.raises(PluginError) as info:
        decide = decider(plugin, ctx, Guard(ref_of(plugin)), intent_emitter(plugin, ctx))
        decide(vector(0, price=0.5, rsi14=50.0))
    assert isinstance(info.value.__cause__, PluginSandboxViolation)
    assert info.value.__cause__.plugin_ref == "dials_out@1.0.0"
    assert info.value.field == "dials_out@1.0.0.on_event"
    assert not active()


_FEATURE = st.one_of(st.none(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308]),
                     st.floats(-1e6, 1e6).filter(lambda v: v != 13.0))  # 13: Echo raises


@settings(max_examples=300, deadline=None)
@given(price=_FEATURE, rsi=_FEATURE, flag=st.sampled_from(list(SignalQuality)),
       staleness=st.sampled_from([0, 120_000, 120_001]))
def test_the_eligibility_shortcut_agrees_with_event_skip(
        price: float | None, rsi: float | None, flag: SignalQuality, staleness: int) -> None:
    """target's few comparisons (a finite sum, TypeError over a None) decide as event_skip:
    the rule runs on an eligible event only, and a skip records event_skip's reason."""
    plugin = Echo()
    ctx = StrategyContext(strategy_id="s1", params=StrategyParams())
    fv = vector(0, price=price, rsi14=rsi, signal_quality_flag=flag, staleness_ms=staleness)
    skip = event_skip(fv, plugin.features, ctx.max_staleness_ms)
    assert plugin.target(fv, ctx) is None  # skipped, or the first of two warm-up bars
    assert ctx.local["AAA"].seen == (skip is None)
    assert ctx.last_skip["AAA"].code == (SkipCode.WARMUP if skip is None else skip[0])
