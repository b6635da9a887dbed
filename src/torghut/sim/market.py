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

import math
import sys
from collections import deque
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import pandas as pd

from torghut.contracts.simulation import ExecutionModel
from torghut.data.bars import canonical_bars

Num = TypeVar("Num", float, np.ndarray)


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
    raw = Market(
        ts=pd.DatetimeIndex(ts), symbols=tuple(str(s) for s in symbols), open=pivot("open"),
        high=pivot("high"), low=pivot("low"), close=close, volume=pivot("volume"),
        mid=arrival_mid(bid, ask, close), data_spread=quoted_spread(bid, ask, spread),
        sigma=np.empty(0), half=np.empty(0), reject=np.zeros(shape, dtype=bool))
    return derive(raw, execution)


def derive(market: Market, execution: ExecutionModel) -> Market:
    """Recompute sigma and the half spread from the raw arrays (after a price transform)."""
    sigma = trailing_vol(market.close, execution.vol_window)
    half = half_spread(market.open, sigma, market.data_spread, execution)
    return replace(market, sigma=sigma, half=half)


# The per-bar rules below take arrays (the simulator) or scalars (the paper adapter, bar by
# bar, torghut.runtime.adapters.paper): one definition, so both see the same numbers. For
# scalars each spells the same IEEE operations in plain Python (numpy's scalar round trip
# costs 2-8 µs per call, per fill attempt); tests/sim/test_sim_market_scalar.py holds them
# bit-equal to the array rule, NaN and infinities included.


def arrival_mid(bid: Num, ask: Num, close: Num) -> Num:
    """(bid + ask) / 2 where both are quoted, else the close."""
    if isinstance(close, float):
        return float((bid + ask) / 2 if _quoted(bid, ask) else close)
    quoted = np.isfinite(bid) & np.isfinite(ask)
    return _same_kind(np.where(quoted, (bid + ask) / 2, close), close)


def quoted_spread(bid: Num, ask: Num, spread: Num) -> Num:
    """The data's spread: ask − bid where both are quoted, else the spread column (or NaN)."""
    if isinstance(spread, float):
        return float(ask - bid if _quoted(bid, ask) else spread)
    quoted = np.isfinite(bid) & np.isfinite(ask)
    return _same_kind(np.where(quoted, ask - bid, spread), spread)


def half_spread(open_: Num, sigma: Num, data_spread: Num, execution: ExecutionModel) -> Num:
    """Half the spread a fill on this bar pays: the data's spread (``spread_source="data"``,
    where known) or ``max(min_spread_bps, k × sigma × 1e4)`` bps of the bar's open."""
    if isinstance(open_, float):
        return _half_spread_scalar(open_, sigma, data_spread, execution)
    modelled_bps = np.maximum(execution.min_spread_bps,
                              execution.spread_vol_k * np.nan_to_num(sigma) * 1e4)
    modelled = modelled_bps / 1e4 * open_
    if execution.spread_source == "data":
        spread = np.where(np.isfinite(data_spread), data_spread, modelled)
    else:
        spread = modelled
    return _same_kind(spread / 2, open_)


def _half_spread_scalar(open_: float, sigma: float, data_spread: float,
                        execution: ExecutionModel) -> float:
    return SpreadModel.of(execution).half(open_, sigma, data_spread)


@dataclass(frozen=True, slots=True)
class SpreadModel:
    """An execution model's spread numbers as plain values, for the scalar rules one bar at
    a time (the paper adapter asks per fill attempt: reading three pydantic fields and
    dispatching on the argument type each time cost ~0.4 µs of ~1.2)."""

    min_spread_bps: float
    spread_vol_k: float
    from_data: bool  # spread_source == "data"

    @classmethod
    def of(cls, execution: ExecutionModel) -> SpreadModel:
        return cls(execution.min_spread_bps, execution.spread_vol_k,
                   execution.spread_source == "data")

    def half(self, open_: float, sigma: float, data_spread: float) -> float:
        """:func:`half_spread` for one bar, operation for operation (the modelled spread
        is computed only when it is used: the same number either way)."""
        if self.from_data and math.isfinite(data_spread):
            return float(data_spread / 2)
        modelled_bps = _maximum(self.min_spread_bps,
                                self.spread_vol_k * finite_scalar(sigma) * 1e4)
        modelled = modelled_bps / 1e4 * open_
        return float(modelled / 2)

    def bar_half(self, open_: float, sigma: float, bid: float, ask: float,
                 spread: float) -> float:
        """:meth:`half` of the bar's :func:`quoted_spread` (both scalar rules, one call)."""
        return self.half(open_, sigma, float(ask - bid if _quoted(bid, ask) else spread))


def _quoted(bid: float, ask: float) -> bool:
    return math.isfinite(bid) and math.isfinite(ask)


def _maximum(a: float, b: float) -> float:
    """``np.maximum`` for two floats: a NaN wins, and a tie (0.0 and -0.0) returns ``b``."""
    if a != a or b != b:
        return a if a != a else b
    return a if a > b else b


_MAX_FLOAT = sys.float_info.max


def finite_scalar(x: float) -> float:
    """``np.nan_to_num`` for one float, without numpy's array round trip (the paper
    adapter asks per fill attempt): NaN → 0.0, ±inf → ±largest float, else ``x``."""
    if x != x:
        return 0.0
    if x in (math.inf, -math.inf):
        return math.copysign(_MAX_FLOAT, x)
    return x


def _same_kind(value: np.ndarray, like: Num) -> Num:
    """A plain float when the inputs were scalars (np.where returns 0-d arrays)."""
    return value if isinstance(like, np.ndarray) else float(value)


# Module globals for TrailingVol.update (called per bar per symbol by the paper adapter):
# one global lookup instead of a module's attribute read each.
_log, _isfinite, _sqrt = np.log, math.isfinite, math.sqrt


class TrailingVol:
    """:func:`trailing_vol` for one symbol, one close at a time (point-in-time streaming).

    :attr:`value` is the volatility a fill on the *next* bar uses: the sample std of the last
    ``window`` log returns between available closes, NaN until two returns exist. It keeps
    the running sums exactly as :func:`_rolling_std` forms them (cumulative sums, differenced
    over the window), so the streamed value equals the batch one bit for bit.
    """

    __slots__ = ("_c1", "_c2", "_last_log", "_returns", "value", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self._c1: deque[float] = deque([0.0], maxlen=window + 1)
        self._c2: deque[float] = deque([0.0], maxlen=window + 1)
        self._last_log = math.nan
        self._returns = 0
        self.value = math.nan

    def update(self, close: float) -> float:
        """Take the close of the bar just finished; return the sigma for the next bar."""
        if not _isfinite(close):
            return self.value  # no bar: the last estimate carries (forward fill)
        log_close = float(_log(close))  # numpy's log, as trailing_vol (math.log may differ)
        last_log, self._last_log = self._last_log, log_close
        if last_log != last_log:  # the first close: no return yet
            return self.value
        # Called per bar by the paper adapter: locals instead of repeated attribute reads.
        r = log_close - last_log
        returns = self._returns = self._returns + 1
        c1, c2 = self._c1, self._c2
        s1, s2 = c1[-1] + r, c2[-1] + r * r  # the new cumulative sums
        c1.append(s1)
        c2.append(s2)
        if returns >= 2:
            n = returns if returns < self.window else self.window  # min() costs 0.1 µs more
            s1, s2 = s1 - c1[-1 - n], s2 - c2[-1 - n]
            var = (s2 - s1 * s1 / n) / (n - 1)  # _std_from_sums, scalar (n >= 2: no 0/0)
            self.value = _sqrt(var) if var > 0.0 else 0.0
        return self.value


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
    out: np.ndarray = _std_from_sums(c1[hi] - c1[lo], c2[hi] - c2[lo], n)
    return out


def _std_from_sums(s1: Num, s2: Num, n: Num) -> Num:
    """Sample std (ddof=1) of n values from their sum and sum of squares."""
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / n) / (n - 1)
    std: Num = np.sqrt(np.maximum(var, 0.0))
    return std
