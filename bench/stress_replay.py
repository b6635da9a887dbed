"""RTS-10 stress replay; prints one JSON object.

Measures the peak of a normal paper session (three built-in plugins, ``--symbols`` symbols of
1-minute random-walk bars, ``--steps`` steps), then replays ``--multiple`` (default 2) times
that peak message and trade volume through the real risk chain, order firewall and paper
adapter, with orders breaching every pre-trade control each step
(:mod:`torghut.runtime.stress`). ``all_controls_fired`` is true when every breach got its
control's code and none reached the adapter. Usage:
``python bench/stress_replay.py [--steps N] [--symbols S] [--multiple M] [--replay-steps R]``.
"""

from __future__ import annotations

import argparse
import json
import time

from runtime import bars
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.stress import normal_session, session_peak, stress_replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--multiple", type=float, default=2.0)
    parser.add_argument("--replay-steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    feed = ReplayFeed(bars(args.symbols, args.steps), timeframe="1m", source="bench")
    peak = session_peak(normal_session(feed))
    start = time.perf_counter()
    report = stress_replay(peak, multiple=args.multiple, steps=args.replay_steps,
                           seed=args.seed)
    elapsed = time.perf_counter() - start
    out = report.to_json()
    out["all_controls_fired"] = all(t.fired == t.offered > 0 and t.leaked == 0
                                    for t in report.controls.values())
    out["flow_all_passed"] = report.flow_passed == report.flow_offered
    out["replay_seconds"] = round(elapsed, 3)
    print(json.dumps({"benchmark": "stress_replay", **out}, indent=2))


if __name__ == "__main__":
    main()
