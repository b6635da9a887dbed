"""Benchmark a research sweep; prints one JSON object.

1,000 tsmom parameter combinations (lookback × target vol × allow_short) on 10,000 seeded
synthetic daily bars of one symbol, 6 expanding walk-forward folds, on the local process
pool — the issue's target is <= 15 s on 2 cores for trials + walk-forward selection and
fold metrics. Statistics (PBO, Reality Check/SPA with ``--reps`` resamples) and stress are
timed separately and reported, not counted against the target.
Usage: ``python bench/sweep.py [--workers N] [--reps R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from torghut.contracts.candidates import CandidateSpec
from torghut.data.synth import SynthSpec, build_synth
from torghut.research import evidence
from torghut.research.executors import get_executor
from torghut.research.grid import expand_grid
from torghut.research.run import fold_records, resolve, warmup_bars
from torghut.research.splits import split_folds
from torghut.workspace import init_workspace

TARGET_SECONDS = 15.0
LOOKBACKS = list(range(5, 255, 5))  # 50
TARGET_VOLS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]  # 10
SPLIT = {"kind": "expanding", "n_folds": 6, "test_bars": 1000, "min_train_bars": 2000,
         "purge_bars": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        build_synth(ws, SynthSpec(symbols=1, bars=10_000, seed=1, planted_edge=1.0),
                    name="bench")
        spec = CandidateSpec.model_validate({
            "name": "bench-sweep", "strategy_type": "tsmom", "version": "1.0.0",
            "param_grid": {"lookback": LOOKBACKS, "target_vol": TARGET_VOLS,
                           "allow_short": [True, False]},
            "dataset": "bench", "universe": ["SYN000"], "author": "bench",
            "hypothesis": "benchmark", "split": SPLIT, "stress": []})
        start = time.perf_counter()
        r = resolve(ws, spec)
        grid = expand_grid(spec, r.plugin)
        market = r.context.market
        warmup = warmup_bars(r.plugin, r.context, grid)
        folds = split_folds(market.shape[0], spec.split, timestamps=market.ts,
                            warmup_bars=warmup)
        setup = time.perf_counter() - start
        t0 = time.perf_counter()
        returns = get_executor("local", args.workers).map_trials(
            r.context, [p.params for p in grid.points])
        trials = time.perf_counter() - t0
        t0 = time.perf_counter()
        chosen, train = evidence.select_folds(returns, folds)
        fold_records(r, grid, folds, chosen, train)
        oos, paths = evidence.oos_record(returns, folds, chosen, spec.split, warmup)
        walk_forward = time.perf_counter() - t0
        sweep = time.perf_counter() - start
        t0 = time.perf_counter()
        evidence.trial_records(returns, grid, folds, warmup, r.periods_per_year, train)
        evidence.statistics(oos, returns[:, warmup:].T, grid, int(chosen[-1]),
                            n_trials=len(grid.points), periods_per_year=r.periods_per_year,
                            seed=0, reps=args.reps, path_sharpes=paths)
        stats = time.perf_counter() - t0
    print(json.dumps({
        "benchmark": "research_sweep", "combos": len(grid.points), "bars": market.shape[0],
        "folds": len(folds), "workers": args.workers, "cpus": os.cpu_count(),
        "python": platform.python_version(), "setup_seconds": round(setup, 3),
        "trials_seconds": round(trials, 3), "walk_forward_seconds": round(walk_forward, 3),
        "seconds": round(sweep, 3), "target": TARGET_SECONDS, "pass": sweep <= TARGET_SECONDS,
        "statistics_seconds": round(stats, 3), "bootstrap_reps": args.reps}))


if __name__ == "__main__":
    main()
