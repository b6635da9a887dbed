"""Regime labels for fold windows, from realised volatility and trend.

A window is labelled from its close prices, in this order (the first rule that holds):

1. ``high_vol`` — the window's realised volatility σ_w (sample std, ddof = 1, of its log
   returns) exceeds ``vol_ratio`` × σ_ref, where σ_ref is the *median* over the whole
   sample of the rolling std (ddof = 1) of ``vol_window`` consecutive log returns. A median
   of short-window vols is a typical-day level that a few spikes cannot move.
2. ``trend_up`` / ``trend_down`` — the drift t-statistic t = mean(r) / (σ_w / √n) of the
   window's n log returns exceeds ``trend_t`` in absolute value. Under a driftless random
   walk with i.i.d. returns t is approximately N(0, 1); the t-stat of a regression of log
   price on time is not used because it is spurious on random walks (Granger & Newbold,
   1974) and labels almost every window as trending.
3. ``range`` — otherwise.

Returns are taken only between *adjacent* positions, so a window with holes (a CPCV test
set) is never credited with the jump across a hole. Labels are deterministic functions of
the prices and thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from torghut.errors import TorghutError


class Regime(StrEnum):
    HIGH_VOL = "high_vol"
    TREND_UP = "trend_up"
    TREND_DOWN = "trend_down"
    RANGE = "range"


@dataclass(frozen=True)
class RegimeRule:
    """Thresholds of the labelling rule (see the module docstring)."""

    vol_window: int = 20
    vol_ratio: float = 1.5
    trend_t: float = 2.0

    def __post_init__(self) -> None:
        if self.vol_window < 2:
            raise TorghutError(f"must be >= 2, got {self.vol_window}", field="vol_window")
        if not self.vol_ratio > 0 or not self.trend_t > 0:
            raise TorghutError("vol_ratio and trend_t must be positive",
                               field="vol_ratio" if not self.vol_ratio > 0 else "trend_t")


def reference_vol(close: np.ndarray, vol_window: int = 20) -> float:
    """σ_ref: median rolling std (ddof = 1) of ``vol_window`` log returns over ``close``.

    A sample with fewer than ``vol_window`` returns uses one window of all of them.
    """
    r = np.diff(_log_close(close))
    width = min(vol_window, r.size)
    return float(np.median(sliding_window_view(r, width).std(axis=1, ddof=1)))


def label_regime(close: np.ndarray, *, reference: float | None = None,
                 rule: RegimeRule = RegimeRule()) -> Regime:
    """Label one contiguous window of closes; σ_ref defaults to the window's own."""
    log_close = _log_close(close)
    sigma_ref = reference_vol(close, rule.vol_window) if reference is None else reference
    return _label(np.diff(log_close), sigma_ref, rule)


def label_windows(close: np.ndarray, windows: Sequence[np.ndarray], *,
                  rule: RegimeRule = RegimeRule()) -> list[Regime]:
    """Label each window (sorted positions into ``close``, e.g. each fold's test set)
    against σ_ref of the *whole* ``close`` series."""
    log_close = _log_close(close)
    sigma_ref = reference_vol(close, rule.vol_window)
    labels = []
    for i, positions in enumerate(windows):
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= log_close.size):
            raise TorghutError(f"positions outside 0..{log_close.size - 1}",
                               field=f"windows[{i}]")
        adjacent = np.diff(pos) == 1
        labels.append(_label(log_close[pos[1:][adjacent]] - log_close[pos[:-1][adjacent]],
                             sigma_ref, rule, where=f"windows[{i}]"))
    return labels


def _label(r: np.ndarray, sigma_ref: float, rule: RegimeRule, where: str = "close") -> Regime:
    if r.size < 2:
        raise TorghutError(f"needs at least 2 returns between adjacent bars, has {r.size}",
                           field=where)
    sigma = float(r.std(ddof=1))
    if sigma > rule.vol_ratio * sigma_ref:
        return Regime.HIGH_VOL
    t = _drift_t(r, sigma)
    if t > rule.trend_t:
        return Regime.TREND_UP
    if t < -rule.trend_t:
        return Regime.TREND_DOWN
    return Regime.RANGE


def _drift_t(r: np.ndarray, sigma: float) -> float:
    """mean / (σ / √n); a noiseless drift is an infinitely significant trend."""
    mean = float(r.mean())
    if sigma == 0.0:
        return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean * math.sqrt(r.size) / sigma


def _log_close(close: np.ndarray) -> np.ndarray:
    try:
        c = np.asarray(close, dtype=float)
    except (TypeError, ValueError):
        raise TorghutError("must be numeric", field="close") from None
    if c.ndim != 1 or c.size < 3:
        raise TorghutError(f"needs a 1-D series of at least 3 closes, got shape {c.shape}",
                           field="close")
    bad = ~np.isfinite(c) | (c <= 0)
    if bad.any():
        raise TorghutError(f"non-finite or non-positive price at position "
                           f"{int(np.flatnonzero(bad)[0])}", field="close")
    log_c: np.ndarray = np.log(c)
    return log_c
