"""Benchmark the built-in strategy plugins; prints one JSON object.

* batch: ``signals()`` throughput on a large seeded synthetic single-symbol feature frame
  (real mapper output over a GBM random walk), after a warm-up call that compiles the
  kernel; best of a few repeats. Target ≥ 2 M bars/s per plugin.
* streaming: per-event ``on_event`` latency over ~50 k events, timed with
  ``perf_counter_ns`` around the call only (FeatureVectors are built beforehand), both bare
  and inside the sandbox as the runner calls it. Target p99 ≤ 50 µs.

Usage: ``.venv/bin/python bench/plugins.py [--bars N] [--events N]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from torghut.data.features import compute_features
from torghut.strategies.registry import Registry
from torghut.strategies.runner import FeatureSet
from torghut.strategies.sandbox import sandboxed
from torghut.strategies.sdk import StrategyContext, StrategyPlugin, validate_params

BATCH_TARGET_BARS_PER_S = 2_000_000
STREAM_TARGET_P99_US = 50.0
SEED = 20240611


def synthetic_features(n: int, seed: int = SEED) -> pd.DataFrame:
    """Mapper features of ``n`` one-minute bars of a seeded geometric random walk."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    wiggle = np.abs(rng.normal(0.0, 0.0005, n))
    bars = pd.DataFrame({
        "ts": pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC"),
        "symbol": "SYN", "open": close, "high": close * (1 + wiggle),
        "low": close * (1 - wiggle), "close": close,
        "volume": rng.integers(100, 10_000, n).astype(float),
    })
    return compute_features(bars, "1m", session_tz="UTC")


def bench_batch(plugin: StrategyPlugin, frame: pd.DataFrame, repeats: int) -> dict[str, Any]:
    params = validate_params(plugin.Params, {})
    plugin.signals(frame.iloc[:1000], params)  # compile + warm caches
    best = min(_timed(lambda: plugin.signals(frame, params)) for _ in range(repeats))
    rate = len(frame) / best
    return {"bars": len(frame), "seconds": round(best, 4), "bars_per_s": round(rate),
            "target_bars_per_s": BATCH_TARGET_BARS_PER_S,
            "pass": rate >= BATCH_TARGET_BARS_PER_S}


def bench_stream(plugin: StrategyPlugin, features: FeatureSet) -> dict[str, Any]:
    params = validate_params(plugin.Params, {})
    plugin.prepare(params)
    vectors = features.vectors()
    ref = f"{plugin.strategy_type}@{plugin.version}"
    out: dict[str, Any] = {"events": len(vectors)}
    for label, sandbox in (("bare", False), ("sandboxed", True)):
        ctx = StrategyContext(strategy_id="bench", params=params)
        lat = np.empty(len(vectors), dtype=np.int64)
        clock, on_event = time.perf_counter_ns, plugin.on_event
        for i, fv in enumerate(vectors):
            if sandbox:
                start = clock()
                with sandboxed(ref):
                    on_event(fv, ctx)
                lat[i] = clock() - start
            else:
                start = clock()
                on_event(fv, ctx)
                lat[i] = clock() - start
        p50, p99 = (float(v) / 1000.0 for v in np.percentile(lat, [50, 99]))
        out[label] = {"p50_us": round(p50, 2), "p99_us": round(p99, 2),
                      "pass": p99 <= STREAM_TARGET_P99_US}
    out["target_p99_us"] = STREAM_TARGET_P99_US
    return out


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame = synthetic_features(args.bars)
    events = FeatureSet("synthetic", "1m", "bench:synthetic",
                        frame.iloc[:args.events].reset_index(drop=True))
    plugins: dict[str, Any] = {}
    verdicts: list[bool] = []
    for record in Registry.from_entry_points().records():
        if record.plugin is None:
            continue
        batch = bench_batch(record.plugin, frame, args.repeats)
        streaming = bench_stream(record.plugin, events)
        plugins[record.name] = {"batch": batch, "stream": streaming}
        verdicts += [batch["pass"], streaming["bare"]["pass"], streaming["sandboxed"]["pass"]]
    passed = bool(verdicts) and all(verdicts)
    print(json.dumps({"benchmark": "plugins", "seed": SEED, "bars": args.bars,
                      "events": args.events, "plugins": plugins, "pass": passed}, indent=2))


if __name__ == "__main__":
    main()
