"""Calendars: exchange sessions and minutes from exchange_calendars, 24x5/24x7 by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from torghut.data.calendars import (
    bar_clock,
    bars_per_session,
    bars_per_year,
    check_calendar,
    expected_index,
)
from torghut.errors import TorghutError


def test_xnys_daily_sessions_skip_weekends_and_holidays() -> None:
    days = expected_index("XNYS", "1d", "2020-06-29", "2020-07-07")
    assert [d.strftime("%m-%d") for d in days] == ["06-29", "06-30", "07-01", "07-02",
                                                   "07-06", "07-07"]  # 07-03 observed holiday
    assert str(days.dtype) == "datetime64[ns, UTC]" and (days == days.normalize()).all()


def test_xnys_intraday_labels_are_interval_starts_with_early_close() -> None:
    hours = expected_index("XNYS", "1h", "2019-11-29", "2019-11-30")  # close 13:00 New York
    assert [h.strftime("%H:%M") for h in hours] == ["14:30", "15:30", "16:30", "17:30"]
    minutes = expected_index("XNYS", "1m", "2020-07-06", "2020-07-07")
    assert len(minutes) == 390 and minutes[0] == pd.Timestamp("2020-07-06 13:30", tz="UTC")


def test_round_the_clock_calendars() -> None:
    fx = expected_index("24x5", "1d", "2024-01-05", "2024-01-08")  # Fri .. Mon
    assert [d.day_name() for d in fx] == ["Friday", "Monday"]
    crypto = expected_index("24x7", "1h", "2024-01-06", "2024-01-07 23:59")
    assert len(crypto) == 48
    assert bars_per_session("24x7", "15m") == 96 and bars_per_year("24x5", "1d") == 260


def test_annualisation_factors() -> None:
    assert bars_per_year("XNYS", "1d") == 252
    assert bars_per_year("XNYS", "1m") == 252 * 390
    assert bars_per_session("XNYS", "1h") == 7  # 6.5 h: the last bar is half an hour


def test_check_calendar() -> None:
    assert check_calendar("XNYS") == "XNYS" and check_calendar("NYSE") == "XNYS"
    for bad in ("MARS", "24/7", ""):
        with pytest.raises(TorghutError) as err:
            check_calendar(bad)
        assert err.value.field == "calendar"


def test_bar_clock_marks_session_starts_and_positions() -> None:
    clock = bar_clock("XNYS", "1h", "2019-11-29", 11)
    assert list(clock.session_start) == [True, False, False, False,
                                         True, False, False, False, False, False, False]
    # Early-close day: the 4 bars span the 3.5 h session; midpoints are symmetric.
    assert clock.session_frac[:4] == pytest.approx([1 / 7, 3 / 7, 5 / 7, 6.5 / 7], abs=1e-9)
    assert clock.session_frac.min() > 0 and clock.session_frac.max() < 1


def test_dates_outside_the_supported_range_are_rejected() -> None:
    with pytest.raises(TorghutError, match="outside the supported calendar range"):
        expected_index("XNYS", "1d", "1850-01-01", "1850-02-01")
    with pytest.raises(TorghutError) as err:
        bar_clock("XNYS", "1d", "2090-01-03", 5000)
    assert err.value.field == "bars"
