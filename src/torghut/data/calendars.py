"""Trading calendars: which bar timestamps a calendar expects.

Bar-stamping convention (every snapshot follows it):

* daily bars are stamped at the session date, 00:00 UTC;
* intraday bars are stamped at the *start* of their interval, in UTC (a 1h XNYS bar stamped
  14:30 UTC covers 09:30–10:30 New York time; the last bar of a session may be shorter).

Calendar codes: any exchange code known to ``exchange_calendars`` (``XNYS``, ``XLON``, …) or
one of two schedules implemented here, because FX and crypto have no exchange sessions:

* ``24x5`` — every UTC weekday, all day (a simplification of the FX week, which runs from
  Sunday 17:00 to Friday 17:00 New York time);
* ``24x7`` — every UTC day, all day.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import exchange_calendars as xc
import numpy as np
import pandas as pd

from torghut.contracts import TIMEFRAME_SECONDS
from torghut.errors import TorghutError

ROUND_THE_CLOCK: dict[str, int] = {"24x5": 5, "24x7": 7}  # code → trading days per week
# exchange_calendars ships its own 24/5 and 24/7 calendars; we use ours, so refuse the names.
_SHADOWED = {"24/5", "24/7"}
_PANDAS_PERIOD = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h"}
_FIRST_YEAR, _LAST_YEAR = 1900, 2100  # range exchange_calendars is asked to cover
TRADING_DAYS_PER_YEAR = 252  # exchange convention for annualising daily statistics


def check_calendar(code: str) -> str:
    """Return the canonical calendar code, or raise naming the ``calendar`` field."""
    if code in ROUND_THE_CLOCK:
        return code
    if code not in _SHADOWED and code in xc.get_calendar_names(include_aliases=True):
        return str(xc.calendar_utils.resolve_alias(code))
    raise TorghutError(f"unknown trading calendar {code!r}; use an exchange code such as "
                       "XNYS, or 24x5 (FX) or 24x7 (crypto)", field="calendar")


def check_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAME_SECONDS:
        raise TorghutError(f"unknown timeframe {timeframe!r}; expected one of "
                           f"{', '.join(TIMEFRAME_SECONDS)}", field="timeframe")
    return timeframe


@lru_cache(maxsize=32)
def session_tz(calendar: str) -> str:
    """Time zone whose local date delimits a session (UTC for round-the-clock schedules)."""
    code = check_calendar(calendar)
    if code in ROUND_THE_CLOCK:
        return "UTC"
    with warnings.catch_warnings():  # exchange_calendars trips pandas 3 deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        # The zone does not depend on the range; a short one keeps construction cheap.
        return str(xc.get_calendar(code, start="2020-01-01", end="2020-01-31").tz)


@lru_cache(maxsize=8)
def _exchange(code: str, first_year: int, last_year: int) -> xc.ExchangeCalendar:
    with warnings.catch_warnings():
        # exchange_calendars 4.x still reads Series.values on tz-aware data (pandas 3 warns).
        warnings.simplefilter("ignore", DeprecationWarning)
        return xc.get_calendar(code, start=f"{first_year}-01-01", end=f"{last_year}-12-31")


def _exchange_for(code: str, start: pd.Timestamp, end: pd.Timestamp) -> xc.ExchangeCalendar:
    # Cache per decade so neighbouring requests share one (slow-to-build) calendar.
    first = max(_FIRST_YEAR, (start.year - 1) // 10 * 10)
    last = min(_LAST_YEAR, (end.year + 1) // 10 * 10 + 9)
    if start.year < _FIRST_YEAR or end.year > _LAST_YEAR:
        raise TorghutError(f"dates {start.date()}..{end.date()} are outside the supported "
                           f"calendar range {_FIRST_YEAR}..{_LAST_YEAR}", field="ts")
    return _exchange(code, first, last)


def _utc(ts: pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def expected_index(calendar: str, timeframe: str, start: pd.Timestamp | str,
                   end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Every bar label the calendar expects in ``[start, end]`` (UTC, ns)."""
    lo, hi = _utc(start), _utc(end)
    if hi < lo:
        return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    if calendar in ROUND_THE_CLOCK:
        index = _round_the_clock(calendar, timeframe, lo, hi)
    elif timeframe == "1d":
        cal = _exchange_for(calendar, lo, hi)
        sessions = cal.sessions_in_range(lo.tz_localize(None).normalize(),
                                         hi.tz_localize(None).normalize())
        index = pd.DatetimeIndex(sessions).tz_localize("UTC")
    else:
        index = _exchange_minutes(calendar, timeframe, lo, hi)
    index = index.as_unit("ns")
    return index[(index >= lo) & (index <= hi)]


def _round_the_clock(calendar: str, timeframe: str, lo: pd.Timestamp,
                     hi: pd.Timestamp) -> pd.DatetimeIndex:
    freq = "D" if timeframe == "1d" else _PANDAS_PERIOD[timeframe]
    index = pd.date_range(lo.ceil(freq), hi, freq=freq)
    if ROUND_THE_CLOCK[calendar] == 5:
        index = index[index.day_of_week < 5]
    return index


def _exchange_minutes(calendar: str, timeframe: str, lo: pd.Timestamp,
                      hi: pd.Timestamp) -> pd.DatetimeIndex:
    cal = _exchange_for(calendar, lo, hi)
    first = cal.date_to_session(lo.tz_localize(None).normalize(), direction="next")
    last = cal.date_to_session(hi.tz_localize(None).normalize(), direction="previous")
    if last < first:
        return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    # closed="left": labels are interval starts, matching the stamping convention above.
    return cal.trading_index(first, last, _PANDAS_PERIOD[timeframe], intervals=False,
                             closed="left")


def bars_per_session(calendar: str, timeframe: str) -> int:
    """Bars in a regular (full-length) session; 1 for daily bars."""
    if timeframe == "1d":
        return 1
    if calendar in ROUND_THE_CLOCK:
        return 86400 // TIMEFRAME_SECONDS[timeframe]
    cal = _exchange_for(calendar, pd.Timestamp("2019-01-01"), pd.Timestamp("2019-12-31"))
    lengths = (cal.schedule["close"] - cal.schedule["open"]).dt.total_seconds()
    regular = float(lengths.mode().iloc[0])
    return int(np.ceil(regular / TIMEFRAME_SECONDS[timeframe]))


def bars_per_year(calendar: str, timeframe: str) -> int:
    """Annualisation factor: sessions per year times bars per regular session."""
    days = {"24x5": 260, "24x7": 365}.get(calendar, TRADING_DAYS_PER_YEAR)
    return days * bars_per_session(calendar, timeframe)


@dataclass(frozen=True)
class Clock:
    """Consecutive bar labels of a calendar, with where each bar sits in its session."""

    ts: pd.DatetimeIndex
    session_start: np.ndarray  # bool: first bar of its session
    session_frac: np.ndarray  # float in (0, 1): bar midpoint as a fraction of the session


def bar_clock(calendar: str, timeframe: str, start: pd.Timestamp | str, n: int) -> Clock:
    """The first ``n`` bar labels at or after ``start`` (for generating synthetic bars)."""
    lo = _utc(start)
    per_day = bars_per_session(calendar, timeframe)
    # Calendar days needed, padded for weekends, holidays and early closes.
    days = int(np.ceil(n / per_day * 7 / 5 * 1.1)) + 10
    last_day = pd.Timestamp(f"{_LAST_YEAR}-12-31T23:59:59", tz="UTC")
    index = expected_index(calendar, timeframe, lo, min(lo + pd.Timedelta(days=days), last_day))
    if len(index) < n:
        raise TorghutError(f"{n} {timeframe} bars from {lo.date()} run past the calendar's "
                           f"last supported year {_LAST_YEAR}", field="bars")
    index = index[:n]
    if timeframe == "1d":
        return Clock(index, np.ones(n, dtype=bool), np.full(n, 0.5))
    opens, closes = (b.asi8 for b in _session_bounds(calendar, index))
    starts = index.asi8  # int64 ns: tz-aware index arithmetic would go through objects
    # A session's last bar may be cut short by the close.
    ends = np.minimum(starts + TIMEFRAME_SECONDS[timeframe] * 10**9, closes)
    frac = ((starts + ends) / 2 - opens) / (closes - opens)
    return Clock(index, starts == opens, np.clip(frac, 1e-6, 1 - 1e-6))


def _session_bounds(calendar: str, index: pd.DatetimeIndex
                    ) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Open and close of the session holding each intraday label."""
    if calendar in ROUND_THE_CLOCK:
        opens = index.normalize()
        return opens, opens + pd.Timedelta(days=1)
    cal = _exchange_for(calendar, index[0], index[-1])
    schedule = cal.schedule
    session_opens = pd.DatetimeIndex(schedule["open"]).as_unit("ns")
    pos = session_opens.searchsorted(index, side="right") - 1
    closes = pd.DatetimeIndex(schedule["close"]).as_unit("ns")
    return session_opens[pos], closes[pos]
