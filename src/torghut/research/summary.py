"""Summaries of per-bar return series (the conventions of :mod:`torghut.contracts.research`).

Sharpe ratios here are per period, mean / std with ddof=1, and undefined (``None`` /
NaN) for fewer than two returns or zero variance — a trial that never trades has no
Sharpe ratio, not a zero one.
"""

from __future__ import annotations

import math

import numpy as np

from torghut.contracts.research import ReturnSummary
from torghut.sim.metrics import drawdown


def row_sharpes(returns: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per-period Sharpe of each row of ``returns`` over ``positions`` (NaN if undefined)."""
    window = returns[:, positions]
    if window.shape[1] < 2:
        return np.full(returns.shape[0], np.nan)
    mean = window.mean(axis=1)
    std = window.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(std > 0, mean / std, np.nan)
    return out


def optional(value: float) -> float | None:
    """NaN/inf → None (JSON has neither)."""
    return float(value) if math.isfinite(value) else None


def summarise(r: np.ndarray, periods_per_year: float) -> ReturnSummary:
    """Count, moments, Sharpe (per period and annualised), compounded return, drawdown."""
    r = np.asarray(r, dtype=np.float64)
    path = np.cumprod(1.0 + r)
    n = int(r.size)
    mean = float(r.mean()) if n else math.nan
    std = float(r.std(ddof=1)) if n >= 2 else math.nan
    sharpe = mean / std if n >= 2 and std > 0 else math.nan
    return ReturnSummary(
        n_obs=n, mean=optional(mean), std=optional(std), sharpe=optional(sharpe),
        sharpe_annual=optional(sharpe * math.sqrt(periods_per_year)),
        total_return=float(path[-1] - 1.0) if n else 0.0,
        max_drawdown=min(0.0, float(drawdown(path, 1.0).min())) if n else 0.0)


def mean_t_test(r: np.ndarray) -> tuple[float | None, float]:
    """One-sided t-test of H0: mean <= 0 → (t statistic, p-value); no variance → (None, 1)."""
    n = r.size
    std = float(r.std(ddof=1)) if n >= 2 else 0.0
    if std == 0.0:
        return None, 1.0
    t = float(r.mean()) / (std / math.sqrt(n))
    from scipy import stats as sps  # scipy.stats loads in ~0.7 s: import on use

    return t, float(sps.t.sf(t, n - 1))
