"""The one implementation of the feature arithmetic, shared by batch and streaming.

:func:`advance` folds one bar into one symbol's state. It is plain Python registered with
numba (``register_jitable``) and runs compiled in both paths: :func:`batch_kernel` calls it
per row over a whole snapshot, :func:`stream_kernel` once per bar for the streaming mapper
(numba's dispatch costs < 1 µs; the same arithmetic interpreted costs ~5 µs). Batch and
streaming therefore perform the same floating-point operations in the same order and agree
bit for bit (numba runs without fastmath, so nothing is contracted into FMAs or
reassociated).

State for one symbol is three flat arrays (see :func:`new_state`; in the batch kernel they
are one row each of per-symbol 2-D arrays):

* ``fs`` — float state, indexed by the ``_S_*`` constants;
* ``ns`` — int state: valid bars seen so far and the current session's day number;
* ``ring`` — fixed-size ring buffers: the last 20 closes, the last 20 log returns, and the
  last ``vwap_bars`` values of typical-price × volume and of volume.

Everything is O(1) per bar except the exact re-summations documented in
:func:`_push_moments` (amortised O(1)) and the ≤ 5-slot VWAP window.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numba import njit
from numba.extending import register_jitable

from torghut.contracts.features import FEATURE_FIELDS

N_FIELDS = len(FEATURE_FIELDS)
_IX = {name: i for i, name in enumerate(FEATURE_FIELDS)}
_PRICE = _IX["price"]
_VOLUME = _IX["volume"]
_EMA12 = _IX["ema12"]
_EMA26 = _IX["ema26"]
_MACD = _IX["macd"]
_MACD_SIGNAL = _IX["macd_signal"]
_MACD_HIST = _IX["macd_hist"]
_VWAP_SESSION = _IX["vwap_session"]
_VWAP_W5M = _IX["vwap_w5m"]
_RSI14 = _IX["rsi14"]
_BOLL_MID = _IX["boll_mid"]
_BOLL_UPPER = _IX["boll_upper"]
_BOLL_LOWER = _IX["boll_lower"]
_VOL_W60S = _IX["vol_realized_w60s"]
_VOL_20 = _IX["vol_realized_20"]
_RET_1 = _IX["ret_1"]
_RET_5 = _IX["ret_5"]
_RET_20 = _IX["ret_20"]
_IMBALANCE = _IX["imbalance_spread"]
_SPREAD = _IX["spread"]

# Window lengths, in bars.
EMA_FAST, EMA_SLOW, MACD_SIGNAL = 12, 26, 9
RSI_BARS = 14
BOLL_BARS, BOLL_K = 20, 2.0
VOL_BARS = 20  # log returns in vol_realized_20
RET_BARS = (1, 5, 20)  # ret_1, ret_5, ret_20

_A_FAST = 2.0 / (EMA_FAST + 1)
_A_SLOW = 2.0 / (EMA_SLOW + 1)
_A_SIGNAL = 2.0 / (MACD_SIGNAL + 1)

# Signal quality codes (the frame maps them to SignalQuality values).
Q_OK, Q_WARMUP, Q_MISSING = 0, 1, 2

# Float state slots.
_S_EMA_FAST, _S_EMA_SLOW, _S_SIGNAL = 0, 1, 2
_S_GAIN, _S_LOSS = 3, 4  # Wilder averages (plain sums while seeding)
_S_BOLL = 5  # anchor, shifted mean, M2 of the close window (slots 5-7)
_S_VOL = 8  # the same for the log-return window (slots 8-10)
_S_SESS_PV, _S_SESS_V = 11, 12
N_FLOAT_STATE = 13

# Int state slots.
_N_COUNT, _N_DAY = 0, 1
N_INT_STATE = 2
_NO_DAY = -(2**62)  # before any session

# Ring layout: closes, log returns, then the VWAP window's pv and v (vwap_bars each).
_R_CLOSE = 0
_R_LOGRET = _R_CLOSE + BOLL_BARS
_R_VWAP = _R_LOGRET + VOL_BARS

# A flat buffer: a 1-D float64 (int64 for ``ns``) array.
Buf = Any

_INF = math.inf
_NAN = math.nan

assert max(RET_BARS) <= BOLL_BARS, "the close ring must reach back ret_20 bars"


# Valid bars after which every feature that can be warm is warm, VWAP window aside: 34,
# set by the MACD signal (26 + 9 - 1).
_WARMUP_FIXED = max(EMA_SLOW + MACD_SIGNAL - 1, RSI_BARS + 1, BOLL_BARS, VOL_BARS + 1,
                    max(RET_BARS) + 1)


@register_jitable
def warmup_bars(vwap_bars: int) -> int:
    """Valid bars needed before every feature that can be warm is warm."""
    return max(_WARMUP_FIXED, vwap_bars)


@register_jitable
def ring_size(vwap_bars: int) -> int:
    return _R_VWAP + 2 * vwap_bars


def new_state(vwap_bars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh (fs, ns, ring) arrays for one symbol (the streaming layout)."""
    ns = np.zeros(N_INT_STATE, dtype=np.int64)
    ns[_N_DAY] = _NO_DAY
    return np.zeros(N_FLOAT_STATE), ns, np.zeros(ring_size(vwap_bars))


@register_jitable
def _push_moments(fs: Buf, at: int, ring: Buf, off: int, size: int, count: int,
                  x: float) -> None:
    """Push ``x`` as value number ``count`` (from 0) into a ``size``-value sliding window.

    ``fs[at:at + 3]`` hold an anchor ``a`` (a recent value of the window), the mean of
    ``x - a`` over the window and its M2 (sum of squared deviations). Shifting by a nearby
    value keeps rounding relative to the window's spread instead of its level (the shifted
    data algorithm of Chan, Golub & LeVeque 1983); the mean and M2 follow Welford's update
    while the window fills and its add/remove form once it slides (Welford 1962). Each time
    the ring wraps, the anchor moves to the newest value and mean and M2 are recomputed
    exactly in two passes, so rounding cannot accumulate beyond one window.
    """
    slot = count % size
    if count == 0:
        fs[at] = x
    anchor = fs[at]
    mean = fs[at + 1]
    m2 = fs[at + 2]
    y = x - anchor
    if count < size:
        d = y - mean
        mean += d / (count + 1)
        m2 += d * (y - mean)
    else:
        y_old = ring[off + slot] - anchor
        prev_mean = mean
        d = y - y_old
        mean += d / size
        m2 += d * ((y - mean) + (y_old - prev_mean))
    ring[off + slot] = x
    if slot == size - 1:
        anchor = x
        s = 0.0
        for j in range(size):
            s += ring[off + j] - anchor
        mean = s / size
        m2 = 0.0
        for j in range(size):
            d = (ring[off + j] - anchor) - mean
            m2 += d * d
    fs[at] = anchor
    fs[at + 1] = mean
    fs[at + 2] = m2


@register_jitable
def advance(fs: Buf, ns: Buf, ring: Buf, out: Buf, close: float, high: float, low: float,
            volume: float, bid: float, ask: float, spread: float, day: int,
            vwap_bars: int) -> int:
    """Fold one bar into the state and write the FEATURE_FIELDS values into ``out``.

    Returns the quality code. An invalid bar (price not finite and positive, volume not
    finite and non-negative) leaves the state untouched and yields all-NaN features.
    ``day`` is the bar's session number: a larger value than the state's starts a new
    session. Not-yet-warm features are NaN.
    """
    if not (0.0 < close < _INF and 0.0 < high < _INF and 0.0 < low < _INF
            and 0.0 <= volume < _INF):
        for j in range(N_FIELDS):
            out[j] = _NAN
        return Q_MISSING
    k = ns[_N_COUNT]  # valid bars before this one
    out[_PRICE] = close
    out[_VOLUME] = volume

    # EMA(12), EMA(26) seeded with the first close; MACD and its EMA(9) signal (Appel).
    if k == 0:
        ema_fast = close
        ema_slow = close
    else:
        ema_fast = fs[_S_EMA_FAST]
        ema_slow = fs[_S_EMA_SLOW]
        ema_fast += _A_FAST * (close - ema_fast)
        ema_slow += _A_SLOW * (close - ema_slow)
    fs[_S_EMA_FAST] = ema_fast
    fs[_S_EMA_SLOW] = ema_slow
    out[_EMA12] = ema_fast if k >= EMA_FAST - 1 else _NAN
    out[_EMA26] = ema_slow if k >= EMA_SLOW - 1 else _NAN
    if k >= EMA_SLOW - 1:
        macd = ema_fast - ema_slow
        if k == EMA_SLOW - 1:
            signal = macd
        else:
            signal = fs[_S_SIGNAL]
            signal += _A_SIGNAL * (macd - signal)
        fs[_S_SIGNAL] = signal
        out[_MACD] = macd
        if k >= EMA_SLOW + MACD_SIGNAL - 2:
            out[_MACD_SIGNAL] = signal
            out[_MACD_HIST] = macd - signal
        else:
            out[_MACD_SIGNAL] = _NAN
            out[_MACD_HIST] = _NAN
    else:
        out[_MACD] = _NAN
        out[_MACD_SIGNAL] = _NAN
        out[_MACD_HIST] = _NAN

    # Returns, RSI and the log-return window look back at earlier closes, so they read the
    # close ring before the Bollinger update below overwrites its oldest slot.
    out[_RET_1] = close / ring[_R_CLOSE + (k - 1) % BOLL_BARS] - 1.0 if k >= 1 else _NAN
    out[_RET_5] = close / ring[_R_CLOSE + (k - 5) % BOLL_BARS] - 1.0 if k >= 5 else _NAN
    out[_RET_20] = close / ring[_R_CLOSE + (k - 20) % BOLL_BARS] - 1.0 if k >= 20 else _NAN
    if k >= 1:
        prev = ring[_R_CLOSE + (k - 1) % BOLL_BARS]
        # Wilder RSI: seed with the simple mean of the first 14 changes, then smooth.
        change = close - prev
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        if k <= RSI_BARS:
            avg_gain = fs[_S_GAIN] + gain
            avg_loss = fs[_S_LOSS] + loss
            if k == RSI_BARS:
                avg_gain /= RSI_BARS
                avg_loss /= RSI_BARS
        else:
            avg_gain = (fs[_S_GAIN] * (RSI_BARS - 1) + gain) / RSI_BARS
            avg_loss = (fs[_S_LOSS] * (RSI_BARS - 1) + loss) / RSI_BARS
        fs[_S_GAIN] = avg_gain
        fs[_S_LOSS] = avg_loss
        if k < RSI_BARS:
            out[_RSI14] = _NAN
        elif avg_loss == 0.0:
            out[_RSI14] = 50.0 if avg_gain == 0.0 else 100.0
        else:
            out[_RSI14] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        # Realised volatility: sample std (ddof=1) of the last 20 log returns.
        _push_moments(fs, _S_VOL, ring, _R_LOGRET, VOL_BARS, k - 1, math.log(close / prev))
        out[_VOL_20] = (math.sqrt(max(fs[_S_VOL + 2], 0.0) / (VOL_BARS - 1))
                        if k >= VOL_BARS else _NAN)
    else:
        out[_RSI14] = _NAN
        out[_VOL_20] = _NAN

    # Bollinger bands: SMA(20) ± 2 population std (ddof=0).
    _push_moments(fs, _S_BOLL, ring, _R_CLOSE, BOLL_BARS, k, close)
    if k >= BOLL_BARS - 1:
        mid = fs[_S_BOLL] + fs[_S_BOLL + 1]
        width = BOLL_K * math.sqrt(max(fs[_S_BOLL + 2], 0.0) / BOLL_BARS)
        out[_BOLL_MID] = mid
        out[_BOLL_UPPER] = mid + width
        out[_BOLL_LOWER] = mid - width
    else:
        out[_BOLL_MID] = _NAN
        out[_BOLL_UPPER] = _NAN
        out[_BOLL_LOWER] = _NAN

    # VWAPs of the typical price (H+L+C)/3; no volume yet -> the typical price itself.
    typical = (high + low + close) / 3.0
    pv = typical * volume
    if day > ns[_N_DAY]:
        ns[_N_DAY] = day
        sess_pv = pv
        sess_v = volume
    else:
        sess_pv = fs[_S_SESS_PV] + pv
        sess_v = fs[_S_SESS_V] + volume
    fs[_S_SESS_PV] = sess_pv
    fs[_S_SESS_V] = sess_v
    out[_VWAP_SESSION] = sess_pv / sess_v if sess_v > 0.0 else typical
    wslot = k % vwap_bars
    ring[_R_VWAP + wslot] = pv
    ring[_R_VWAP + vwap_bars + wslot] = volume
    if k >= vwap_bars - 1:
        # Exact sums: the window is at most 5 bars, so no running-sum drift is worth it.
        win_pv = 0.0
        win_v = 0.0
        for j in range(vwap_bars):
            win_pv += ring[_R_VWAP + j]
            win_v += ring[_R_VWAP + vwap_bars + j]
        out[_VWAP_W5M] = win_pv / win_v if win_v > 0.0 else typical
    else:
        out[_VWAP_W5M] = _NAN

    # Only bar data: no 60-second window fits two returns, no book sizes.
    out[_VOL_W60S] = _NAN
    out[_IMBALANCE] = _NAN
    if -_INF < bid < _INF and -_INF < ask < _INF:
        out[_SPREAD] = ask - bid
    elif -_INF < spread < _INF:
        out[_SPREAD] = spread
    else:
        out[_SPREAD] = _NAN

    ns[_N_COUNT] = k + 1
    return Q_OK if k + 1 >= warmup_bars(vwap_bars) else Q_WARMUP


@njit(cache=True)
def stream_kernel(fs: Buf, ns: Buf, ring: Buf, out: Buf, close: float, high: float,
                  low: float, volume: float, bid: float, ask: float, spread: float, day: int,
                  vwap_bars: int) -> tuple[int, int]:
    """:func:`advance` for one bar of one symbol; returns its quality code and a bit mask of
    the NaN outputs (bit j: ``out[j]``), so the caller can turn exactly those into None
    without testing twenty floats in Python (1.5 µs a bar)."""
    quality = advance(fs, ns, ring, out, close, high, low, volume, bid, ask, spread, day,
                      vwap_bars)
    nan_mask = 0
    for j in range(N_FIELDS):
        if out[j] != out[j]:
            nan_mask |= 1 << j
    return quality, nan_mask


# Columns of :func:`step_kernel`'s inputs and of its per-bar results.
STEP_INPUTS = ("close", "high", "low", "volume", "bid", "ask", "spread")
_X_CLOSE, _X_HIGH, _X_LOW, _X_VOLUME, _X_BID, _X_ASK, _X_SPREAD = range(len(STEP_INPUTS))
M_QUALITY, M_NAN_MASK, M_SEQ = 0, 1, 2
N_META = 3
# Per-symbol bookkeeping of the step kernel: the next bar's seq and the last timestamp.
B_SEQ, B_LAST_TS = 0, 1
N_BOOK = 2


def new_book(n_sym: int, vwap_bars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Fresh (fs, ns, ring, book) arrays for ``n_sym`` symbols, one row each."""
    fs = np.zeros((n_sym, N_FLOAT_STATE))
    ns = np.zeros((n_sym, N_INT_STATE), dtype=np.int64)
    ns[:, _N_DAY] = _NO_DAY
    book = np.zeros((n_sym, N_BOOK), dtype=np.int64)
    book[:, B_LAST_TS] = np.iinfo(np.int64).min
    return fs, ns, np.zeros((n_sym, ring_size(vwap_bars))), book


@njit(cache=True)
def step_kernel(fs: Buf, ns: Buf, ring: Buf, book: Buf, sym: Buf, x: Buf, ts: int, day: int,
                daily: bool, vwap_bars: int, out: Buf, meta: Buf) -> int:
    """:func:`advance` for every bar of one step (one timestamp ``ts``), in order.

    Bar ``i`` is symbol row ``sym[i]`` with inputs ``x[i]`` (columns :data:`STEP_INPUTS`);
    its features go to ``out[i]`` and its quality code, NaN mask (as in
    :func:`stream_kernel`) and seq to ``meta[i]``. ``day`` is the step's session day, or
    with ``daily`` each bar's seq (every daily bar is its own session). Returns -1, or the
    first bar whose symbol already has a bar at or after ``ts`` — then nothing is advanced.
    """
    n = sym.shape[0]
    last = np.empty(n, dtype=np.int64)
    for i in range(n):
        last[i] = book[sym[i], B_LAST_TS]
        if ts <= last[i]:
            for j in range(i - 1, -1, -1):  # undo in reverse: a repeated symbol restores last
                book[sym[j], B_LAST_TS] = last[j]
            return i
        book[sym[i], B_LAST_TS] = ts  # so a second bar of the symbol in this step fails
    for i in range(n):
        s = sym[i]
        seq = book[s, B_SEQ]
        book[s, B_SEQ] = seq + 1
        row = out[i]
        quality = advance(fs[s], ns[s], ring[s], row, x[i, _X_CLOSE], x[i, _X_HIGH],
                          x[i, _X_LOW], x[i, _X_VOLUME], x[i, _X_BID], x[i, _X_ASK],
                          x[i, _X_SPREAD], seq if daily else day, vwap_bars)
        nan_mask = 0
        for j in range(N_FIELDS):
            if row[j] != row[j]:
                nan_mask |= 1 << j
        meta[i, M_QUALITY] = quality
        meta[i, M_NAN_MASK] = nan_mask
        meta[i, M_SEQ] = seq
    return -1


@functools.cache
def load_stream_kernel() -> None:
    """Compile :func:`stream_kernel`, or load it from numba's disk cache, once per process.

    The streaming mapper calls this when it is built, so the first bar's latency does not
    carry the 0.6 s of loading (3 s of compiling without a cache).
    """
    fs, ns, ring = new_state(1)
    stream_kernel(fs, ns, ring, np.empty(N_FIELDS), 1.0, 1.0, 1.0, 0.0, _NAN, _NAN, _NAN, 0, 1)


@functools.cache
def load_step_kernel() -> None:
    """Compile :func:`step_kernel` or load it from the disk cache, once per process (as
    :func:`load_stream_kernel`)."""
    fs, ns, ring, book = new_book(1, 1)
    step_kernel(fs, ns, ring, book, np.zeros(1, dtype=np.int64),
                np.ones((1, len(STEP_INPUTS))), 0, 0, False, 1, np.empty((1, N_FIELDS)),
                np.empty((1, N_META), dtype=np.int64))


@njit(cache=True)
def batch_kernel(sym: Buf, ts: Buf, close: Buf, high: Buf, low: Buf, volume: Buf, bid: Buf,
                 ask: Buf, spread: Buf, day: Buf, n_sym: int, vwap_bars: int, out: Buf,
                 quality: Buf, seq: Buf) -> int:
    """Run :func:`advance` over rows in input order, one state per symbol code.

    ``out`` is (N_FIELDS, rows); ``quality`` and ``seq`` are filled per row. Returns -1, or
    the first row whose timestamp does not increase within its symbol (the caller raises).
    """
    fs = np.zeros((n_sym, N_FLOAT_STATE))
    ns = np.zeros((n_sym, N_INT_STATE), dtype=np.int64)
    ns[:, _N_DAY] = _NO_DAY
    ring = np.zeros((n_sym, ring_size(vwap_bars)))
    last_ts = np.full(n_sym, np.iinfo(np.int64).min, dtype=np.int64)
    count = np.zeros(n_sym, dtype=np.int64)
    for r in range(sym.shape[0]):
        s = sym[r]
        if ts[r] <= last_ts[s]:
            return r
        last_ts[s] = ts[r]
        seq[r] = count[s]
        count[s] += 1
        quality[r] = advance(fs[s], ns[s], ring[s], out[:, r], close[r], high[r], low[r],
                             volume[r], bid[r], ask[r], spread[r], day[r], vwap_bars)
    return -1
