"""Benchmark the canonical feature mapper; prints one JSON object.

Batch: ``compute_features`` on seeded synthetic 1-minute bars (default 1M bars × 10 symbols,
interleaved and sorted by (ts, symbol)), end to end including validation and building the
frame. Throughput is in bar-features per second: rows × len(FEATURE_FIELDS).
Streaming: ``StreamingFeatureMapper.update_values`` over 200k bars of one symbol.
Numba is warmed on a small frame first. Usage: ``python bench/features.py [--bars N]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numba
import numpy as np
import pandas as pd

from torghut.contracts.features import FEATURE_FIELDS
from torghut.data.features import StreamingFeatureMapper, compute_features

BATCH_TARGET = 5_000_000  # bar-features/s
STREAM_TARGET = 200_000  # bars/s, one symbol
SEED = 20240101


def synthetic_bars(bars_per_symbol: int, symbols: int, seed: int = SEED) -> pd.DataFrame:
    """Seeded GBM 1-minute bars with quotes, rows sorted by (ts, symbol)."""
    rng = np.random.default_rng(seed)
    shape = (bars_per_symbol, symbols)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, shape), axis=0))
    high = close * (1.0 + np.abs(rng.normal(0.0, 5e-4, shape)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 5e-4, shape)))
    half = close * 1e-4
    ts = pd.date_range("2024-01-02 14:30", periods=bars_per_symbol, freq="1min", tz="UTC")
    names = np.array([f"S{i:03d}" for i in range(symbols)])
    return pd.DataFrame({
        "ts": np.repeat(ts, symbols),
        "symbol": pd.array(np.tile(names, bars_per_symbol), dtype="str"),
        "open": np.roll(close, 1, axis=0).ravel(),
        "high": high.ravel(), "low": low.ravel(), "close": close.ravel(),
        "volume": rng.integers(100, 10_000, shape).astype(np.float64).ravel(),
        "bid": (close - half).ravel(), "ask": (close + half).ravel(),
        "spread": np.full(close.size, np.nan),
    })


def bench_batch(bars: pd.DataFrame, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        compute_features(bars, "1m")
        best = min(best, time.perf_counter() - start)
    return best


def bench_streaming(bars: pd.DataFrame) -> float:
    columns = ("open", "high", "low", "close", "volume", "bid", "ask", "spread")
    rows = list(zip(pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8.tolist(),
                    *(bars[c].tolist() for c in columns), strict=True))
    mapper = StreamingFeatureMapper("S000", "1m", source="bench")
    update = mapper.update_values
    start = time.perf_counter()
    for row in rows:
        update(*row)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars per symbol (batch)")
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--stream-bars", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    compute_features(synthetic_bars(100, 2), "1m")  # warm numba (loads the on-disk cache)
    bars = synthetic_bars(args.bars, args.symbols)
    batch_s = bench_batch(bars, args.repeats)
    batch_rate = len(bars) * len(FEATURE_FIELDS) / batch_s
    stream_s = bench_streaming(synthetic_bars(args.stream_bars, 1))
    stream_rate = args.stream_bars / stream_s
    print(json.dumps({
        "batch": {"rows": len(bars), "symbols": args.symbols, "fields": len(FEATURE_FIELDS),
                  "seconds": round(batch_s, 4), "bar_features_per_s": round(batch_rate),
                  "target": BATCH_TARGET, "pass": batch_rate >= BATCH_TARGET},
        "streaming": {"bars": args.stream_bars, "seconds": round(stream_s, 4),
                      "bars_per_s": round(stream_rate),
                      "us_per_update": round(stream_s / args.stream_bars * 1e6, 3),
                      "target": STREAM_TARGET, "pass": stream_rate >= STREAM_TARGET},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "numpy": np.__version__, "pandas": pd.__version__,
                    "numba": numba.__version__},
        "seed": SEED,
    }, indent=2))


if __name__ == "__main__":
    main()
