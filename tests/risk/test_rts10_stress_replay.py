"""RTS-10: a stress replay at 2x the peak message and trade volume still fires every control.

The peak is measured on a normal paper session (three built-in plugins through the real
engine, on the runtime tests' random-walk bars); the replay then drives the real risk chain,
order firewall and paper adapter, bar after bar, with a flow at twice both peaks plus, every
step, orders breaching each pre-trade control (:mod:`torghut.runtime.stress`).
"""

# control: RTS-10

from __future__ import annotations

import pytest

from tests.runtime.runtime_helpers import bars_frame
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.stress import (
    MULTIPLE,
    Peak,
    StressReport,
    normal_session,
    session_peak,
    stress_replay,
)

CONTROLS = {"collar", "credit", "size_value", "size_qty", "rate", "duplicate_id",
            "duplicate_order", "halted", "restricted", "not_promoted", "repeated_execution",
            "kill_switch"}
STEPS = 30


@pytest.fixture(scope="module")
def peak() -> Peak:
    feed = ReplayFeed(bars_frame(("AAA", "BBB", "CCC", "DDD"), 300), timeframe="1m",
                      source="rts10")
    engine = normal_session(feed)
    measured = session_peak(engine)
    assert engine.stats.submitted > 0 and engine.stats.fills > 0  # a session that traded
    assert measured.steps == 300
    assert measured.messages > 0 and measured.fill_notional > 0
    return measured


@pytest.fixture(scope="module")
def report(peak: Peak) -> StressReport:
    return stress_replay(peak, steps=STEPS)


def test_the_replay_runs_at_twice_the_peak_messages_and_trade_volume(
        peak: Peak, report: StressReport) -> None:
    assert report.multiple == MULTIPLE == 2.0
    assert report.flow_messages_max >= 2 * peak.messages
    assert report.fill_notional_max >= 2 * peak.fill_notional
    breaches_per_step = sum(t.offered for t in report.controls.values()) / STEPS
    assert breaches_per_step > 0  # on top of the flow, every step


def test_every_control_fires_on_every_breach_and_none_passes(report: StressReport) -> None:
    assert set(report.controls) == CONTROLS
    for name, tally in report.controls.items():
        assert tally.offered > 0, name
        assert tally.fired == tally.offered, (name, dict(tally.codes))
        assert tally.leaked == 0, name


def test_stateful_controls_fire_from_the_first_breach_on(report: StressReport) -> None:
    # 5 orders over the 50/s strategy rate each step; the churn strategy is disabled on
    # its first step with more than 3 re-entries, then refused for the rest of the replay.
    assert report.controls["rate"].offered == 5 * STEPS
    assert report.controls["repeated_execution"].codes == {
        "STRATEGY_DISABLED": report.controls["repeated_execution"].offered}
    assert report.controls["repeated_execution"].offered >= 4 * (STEPS - 2)
    assert set(report.controls["credit"].codes) <= {"CREDIT_LIMIT", "CLIPPED_POSITION"}


def test_the_flow_within_limits_still_passes_so_the_chain_discriminates(
        report: StressReport) -> None:
    assert report.flow_offered >= STEPS * report.target_messages
    assert report.flow_passed == report.flow_offered, dict(report.flow_rejects)


def test_the_replay_is_deterministic(peak: Peak, report: StressReport) -> None:
    assert stress_replay(peak, steps=STEPS).to_json() == report.to_json()
