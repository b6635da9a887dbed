"""Benchmark the execution simulator; prints one JSON object.

One symbol, 1 M seeded synthetic 1-minute bars (random-walk OHLCV with varying volume), a
target exposure that changes level every ~250 bars on average, and full realism: ``exec-v1``
(latency, participation cap, carried remainders, collar, whole shares, modelled spread) and
``costs-pessimistic`` (commission with minimum, spread crossing, square-root impact,
turnover penalty). Reported: the numba kernel alone and the whole ``simulate`` call (kernel
plus fills/orders tables), as bar-steps per second; best of ``--repeat`` runs after a
warm-up. Target (issue 3): >= 25 M bar-steps/s. Usage: ``python bench/sim.py [--bars N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import pandas as pd

from torghut.sim import _kernel
from torghut.sim.engine import kernel_params, simulate
from torghut.sim.market import market_from_bars
from torghut.sim.models import get_cost_model, get_execution_model

TARGET = 25e6


def synthetic_bars(n: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 1e-4, n))
    wick = np.abs(rng.normal(0, 3e-4, (2, n)))
    bars = pd.DataFrame({
        "ts": pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC"), "symbol": "SYN",
        "open": open_, "high": np.maximum(open_, close) * (1 + wick[0]),
        "low": np.minimum(open_, close) * (1 - wick[1]), "close": close,
        "volume": rng.integers(0, 50_000, n).astype(float)})
    # A new target about every 250 bars, so costs do not wipe the account out (a ruined
    # account rounds every target to zero shares and the bench would time idle bars).
    changes = np.cumsum(rng.random(n) < 0.004)
    levels = rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=changes[-1] + 1)
    exposure = levels[changes][:, None]
    return bars, exposure


def vectorbt_peer(bars: pd.DataFrame, exposure: np.ndarray) -> tuple[str, object] | None:
    """vectorbt's ``Portfolio.from_signals`` on the same bars and the same decisions.

    The exposure path becomes long/short entry and exit signals; vectorbt fills at the
    close with proportional fees and slippage (no latency, caps or spread model: it does
    less work per bar than our full-realism run, which only favours the peer).
    """
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    level = exposure[:, 0]
    prev = np.concatenate([[0.0], level[:-1]])
    signals = {"entries": (level > 0) & (prev <= 0), "exits": (level <= 0) & (prev > 0),
               "short_entries": (level < 0) & (prev >= 0),
               "short_exits": (level >= 0) & (prev < 0)}
    close = bars["close"].to_numpy()

    def run() -> object:
        return vbt.Portfolio.from_signals(close, **signals, fees=2e-4, slippage=1e-4,
                                          init_cash=1e6, freq="1min")

    run()  # compile
    return f"vectorbt {vbt.__version__} Portfolio.from_signals", run


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    return min(interleaved(repeat, fn)[0])


def interleaved(repeat: int, *fns) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Time the functions in turn, ``repeat`` rounds: load on the machine hits all alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    ex, costs = get_execution_model("exec-v1"), get_cost_model("costs-pessimistic")
    bars, exposure = synthetic_bars(args.bars)
    start = time.perf_counter()
    market = market_from_bars(bars, ex)
    t_market = time.perf_counter() - start
    params = kernel_params(ex, costs, 1e6)
    cap = 4 * int(np.count_nonzero(np.diff(exposure[:, 0]))) + 1024
    requests = np.zeros((0, 9))

    def kernel() -> None:
        _kernel.simulate_kernel(market.open, market.high, market.low, market.close,
                                market.mid, market.volume, market.half, market.sigma,
                                market.reject, exposure, requests, params, cap, 2 * cap)

    kernel()  # compile / load the cache
    result = simulate(market, exposure, ex, costs)
    t_kernel = best_of(args.repeat, kernel)
    n = args.bars
    ours = lambda: simulate(market, exposure, ex, costs)  # noqa: E731
    found = vectorbt_peer(bars, exposure)
    if found is None:
        t_sim = best_of(args.repeat, ours)
        peer: dict[str, object] = {"error": "vectorbt is not installed (make bench installs "
                                            "requirements-bench.lock)"}
        ratio = None
    else:
        name, peer_run = found
        ours_times, peer_times = interleaved(args.repeat, ours, peer_run)
        t_sim, t_peer = min(ours_times), min(peer_times)
        peer = {"engine": name, "seconds": round(t_peer, 4),
                "bar_steps_per_s": round(n / t_peer)}
        ratio = t_peer / t_sim
    print(json.dumps({
        "bench": "sim", "bars": n, "symbols": 1, "execution_model": ex.model_id,
        "cost_model": costs.model_id, "fills": len(result.fills),
        "orders": len(result.orders), "final_equity": round(float(result.equity[-1]), 2),
        "kernel_seconds": round(t_kernel, 4),
        "kernel_bar_steps_per_s": round(n / t_kernel),
        "simulate_seconds": round(t_sim, 4),
        "simulate_bar_steps_per_s": round(n / t_sim),
        "market_prep_seconds": round(t_market, 3),
        "target_bar_steps_per_s": TARGET,
        "meets_target": n / t_sim >= TARGET,
        "peer": peer,
        "speedup_vs_peer": None if ratio is None else round(float(ratio), 2),
        "target_speedup_vs_peer": 3.0,
        "meets_peer_target": ratio is not None and ratio >= 3.0,
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
