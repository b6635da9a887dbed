"""Benchmark the dataset pipeline; prints one JSON object.

Stages, timed separately on seeded synthetic bars (default 10 symbols × 100k 1-minute XNYS
bars, regimes and a planted edge): ``synth.generate`` (clock, regimes, numba recursion,
OHLCV, canonicalisation), ``content_id`` (the dataset id hash), ``write_snapshot`` into a
temporary workspace (Parquet + manifest, atomic), ``Snapshot.bars`` (read + hash + id
check), and the Gate 0 ``assess``. Numba is warmed on a tiny spec first. Target: the whole
pipeline in seconds. Usage: ``python bench/data.py [--symbols N] [--bars M] [--timeframe TF]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from torghut.contracts import DatasetSource, SourceKind
from torghut.data.bars import content_id
from torghut.data.quality import assess
from torghut.data.snapshots import load_snapshot, write_snapshot
from torghut.data.synth import SynthSpec, generate
from torghut.workspace import init_workspace

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--timeframe", default="1m")
    args = parser.parse_args()
    spec = SynthSpec(symbols=args.symbols, bars=args.bars, timeframe=args.timeframe, seed=7,
                     regimes=True, planted_edge=1.0)
    generate(SynthSpec(symbols=2, bars=50, timeframe=args.timeframe, seed=0))  # numba warm-up
    result, t_generate = timed(lambda: generate(spec))
    bars = result.bars
    _, t_id = timed(lambda: content_id(bars, spec.timeframe))
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        source = DatasetSource(kind=SourceKind.SYNTH, description="bench")
        (manifest, _), t_write = timed(lambda: write_snapshot(
            ws, bars, name="bench", timeframe=spec.timeframe, calendar="XNYS", source=source))
        loaded, t_read = timed(lambda: load_snapshot(ws, manifest.dataset_id).bars())
        parquet_mb = (ws.datasets_dir / manifest.dataset_id / "bars.parquet").stat().st_size
    report, t_check = timed(lambda: assess(loaded, dataset_id=manifest.dataset_id,
                                           timeframe=spec.timeframe, calendar="XNYS"))
    rows = len(bars)
    print(json.dumps({
        "benchmark": "data", "rows": rows, "symbols": spec.symbols, "bars": spec.bars,
        "timeframe": spec.timeframe,
        "seconds": {"generate": round(t_generate, 3), "content_id": round(t_id, 3),
                    "write_snapshot": round(t_write, 3), "read_verify": round(t_read, 3),
                    "gate0_assess": round(t_check, 3)},
        "rows_per_second_generate": round(rows / t_generate),
        "parquet_mb": round(parquet_mb / 1e6, 2), "gate0_passed": report.passed,
        "ideal_sharpe_realised": round(result.parameters["ideal_sharpe_realised"], 3),
        "python": platform.python_version(), "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
