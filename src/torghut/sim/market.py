"""Bars on one clock: T×S arrays the simulator reads, plus point-in-time volatility and spreads.

Canonical bars (long form, one row per (ts, symbol)) are pivoted onto the union of their
timestamps. A symbol without a bar at a timestamp has NaN prices there: it did not trade
(halted, not yet listed, delisted) and orders for it are rejected ``HALTED`` or carried, per
the execution model.

Point-in-time derived series, both using only bars strictly *before* bar t:

* ``sigma[t]`` — sample standard deviation (ddof=1) of the last ``vol_window`` close-to-close
  log returns ending at close t−1 (fewer at the start; NaN until two returns exist, and a
  NaN sigma means zero impact);
* ``half[t]`` — half the quoted spread, in price units. From the data when the bar has one
  (``ask − bid``, else the ``spread`` column), otherwise modelled from volatility as
  ``spread_bps = max(min_spread_bps, k × sigma × 1e4)`` of the bar's open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from torghut.contracts.simulation import ExecutionModel
from torghut.data.bars import canonical_bars


@dataclass(frozen=True)
class Market:
    """Raw bar arrays (T×S, NaN where a symbol has no bar) and derived sigma/half spread."""

    ts: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    mid: np.ndarray  # (bid + ask) / 2 where both are quoted, else close: the arrival mid
    data_spread: np.ndarray  # NaN where the data has no spread
    sigma: np.ndarray
    half: np.ndarray
    reject: np.ndarray  # bool: forced rejects (the rejection_burst scenario)

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.close.shape
        return rows, cols


def market_from_bars(bars: pd.DataFrame, execution: ExecutionModel, *,
                     file: str = "<bars>") -> Market:
    """Validate canonical bars (NaN prices, negative volume... raise) and pivot them."""
    frame = canonical_bars(bars, file=file)
    ts_codes, ts = pd.factorize(frame["ts"], sort=True)
    sym_codes, symbols = pd.factorize(frame["symbol"], sort=True)
    shape = (len(ts), len(symbols))

    def pivot(column: str) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[ts_codes, sym_codes] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    bid, ask, spread = pivot("bid"), pivot("ask"), pivot("spread")
    close = pivot("close")
    quoted = np.isfinite(bid) & np.isfinite(ask)
    raw = Market(
        ts=pd.DatetimeIndex(ts), symbols=tuple(str(s) for s in symbols), open=pivot("open"),
        high=pivot("high"), low=pivot("low"), close=close, volume=pivot("volume"),
        mid=np.where(quoted, (bid + ask) / 2, close),
        data_spread=np.where(quoted, ask - bid, spread),
        sigma=np.empty(0), half=np.empty(0), reject=np.zeros(shape, dtype=bool))
    return derive(raw, execution)


def derive(market: Market, execution: ExecutionModel) -> Market:
    """Recompute sigma and the half spread from the raw arrays (after a price transform)."""
    sigma = trailing_vol(market.close, execution.vol_window)
    modelled_bps = np.maximum(execution.min_spread_bps,
                              execution.spread_vol_k * np.nan_to_num(sigma) * 1e4)
    modelled = modelled_bps / 1e4 * market.open
    if execution.spread_source == "data":
        spread = np.where(np.isfinite(market.data_spread), market.data_spread, modelled)
    else:
        spread = modelled
    return replace(market, sigma=sigma, half=spread / 2)


def trailing_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Per column: std (ddof=1) of the last ``window`` log returns known before each bar.

    Returns are taken between consecutive *available* closes of a symbol, so a halt does not
    create a NaN hole; ``out[t]`` uses returns ending at or before the previous bar.
    """
    out = np.full(close.shape, np.nan)
    for s in range(close.shape[1]):
        rows = np.flatnonzero(np.isfinite(close[:, s]))
        if rows.size < 3:
            continue
        r = np.diff(np.log(close[rows, s]))
        std = _rolling_std(r, window)  # std[i]: returns r[..i], known at close rows[i + 1]
        # Known from the bar after rows[i + 1] on; forward-fill across halts.
        known_from = rows[2:] + 1
        keep = known_from < close.shape[0]
        out[known_from[keep], s] = std[1:][keep]
        out[:, s] = pd.Series(out[:, s]).ffill().to_numpy()
    return out


def _rolling_std(r: np.ndarray, window: int) -> np.ndarray:
    """Sample std of r[max(0, i-window+1)..i] for each i (NaN for a single value)."""
    n = np.minimum(np.arange(1, r.size + 1), window)
    c1 = np.concatenate([[0.0], np.cumsum(r)])
    c2 = np.concatenate([[0.0], np.cumsum(r * r)])
    hi = np.arange(1, r.size + 1)
    lo = hi - n
    s1, s2 = c1[hi] - c1[lo], c2[hi] - c2[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / n) / (n - 1)
    out: np.ndarray = np.sqrt(np.maximum(var, 0.0))
    return out
