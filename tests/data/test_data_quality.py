"""Gate 0 checks: a clean frame passes, and each check fires on a crafted bad frame."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from torghut import __version__
from torghut.contracts import FindingSeverity, QualityReport, QualityThresholds, canonical_json
from torghut.data.quality import assess

BarsFactory = Callable[..., pd.DataFrame]
ID = "0" * 64


def _assess(bars: pd.DataFrame, **kwargs) -> QualityReport:
    args = {"dataset_id": ID, "timeframe": "1d", "calendar": "XNYS", **kwargs}
    return assess(bars, **args)


def _codes(report: QualityReport, severity: FindingSeverity | None = None) -> set[str]:
    return {f.code for f in report.findings if severity is None or f.severity == severity}


FAIL, WARN = FindingSeverity.FAIL, FindingSeverity.WARN


@pytest.mark.parametrize(("timeframe", "calendar", "start", "end"), [
    ("1d", "XNYS", "2019-11-01", "2020-01-31"),
    ("1h", "XNYS", "2019-11-25", "2019-12-03"),  # includes Thanksgiving and an early close
    ("5m", "XNYS", "2020-03-06", "2020-03-10"),  # across the DST change
    ("1d", "24x5", "2024-01-01", "2024-02-01"),
    ("1h", "24x7", "2024-01-01", "2024-01-08"),
])
def test_clean_frames_pass(make_bars: BarsFactory, timeframe: str, calendar: str, start: str,
                           end: str) -> None:
    bars = make_bars(timeframe=timeframe, calendar=calendar, start=start, end=end)
    report = _assess(bars, timeframe=timeframe, calendar=calendar)
    assert report.passed, report.findings
    assert report.findings == ()
    assert report.metrics["gap_ratio"] == 0 and report.metrics["staleness_seconds"] == 0
    assert report.as_of == bars["ts"].max().to_pydatetime()
    assert report.universe == ("AAA", "BBB") and report.code_version == __version__
    canonical_json(report.model_dump(mode="json"))  # finite, JSON-safe evidence


def test_duplicates(make_bars: BarsFactory) -> None:
    bars = make_bars()
    bars = pd.concat([bars.iloc[:10], bars.iloc[[9]], bars.iloc[10:]], ignore_index=True)
    report = _assess(bars)
    assert not report.passed and "DUPLICATE_ROWS" in _codes(report, FAIL)
    assert report.metrics["duplicate_ratio"] == pytest.approx(1 / len(bars))
    relaxed = _assess(bars, thresholds=QualityThresholds(max_duplicate_ratio=0.05))
    assert "DUPLICATE_ROWS" in _codes(relaxed, WARN) and relaxed.passed


def test_non_monotonic(make_bars: BarsFactory) -> None:
    bars = make_bars()
    swapped = bars.iloc[[0, 1, 4, 3, 2, *range(5, len(bars))]].reset_index(drop=True)
    report = _assess(swapped)
    assert "NON_MONOTONIC" in _codes(report, FAIL)
    assert report.metrics["non_monotonic_rows"] == 2
    same_ts = bars.iloc[[1, 0, *range(2, len(bars))]].reset_index(drop=True)  # BBB before AAA
    assert "NON_MONOTONIC" in _codes(_assess(same_ts), FAIL)


def test_calendar_gaps_daily(make_bars: BarsFactory) -> None:
    bars = make_bars(start="2019-01-02", end="2019-12-31")
    holed = bars[~((bars["symbol"] == "AAA") & (bars["ts"] == "2019-07-03"))]
    report = _assess(holed)
    gaps = [f for f in report.findings if f.code == "CALENDAR_GAPS"]
    assert [(f.symbol, f.severity) for f in gaps] == [("AAA", WARN)]  # 1/252 < 1%
    assert "2019-07-03" in gaps[0].message and report.passed
    assert report.metrics["missing_bars"] == 1
    many = bars[~((bars["symbol"] == "BBB") & bars["ts"].dt.month.eq(7))]
    assert "CALENDAR_GAPS" in _codes(_assess(many), FAIL)


def test_calendar_gaps_intraday(make_bars: BarsFactory) -> None:
    bars = make_bars(timeframe="15m", start="2020-03-02", end="2020-03-03")
    holed = bars.drop(index=bars.index[10:20]).reset_index(drop=True)
    report = _assess(holed, timeframe="15m")
    assert "CALENDAR_GAPS" in _codes(report, FAIL)
    assert report.metrics["missing_bars"] == 10


def test_off_calendar_bars(make_bars: BarsFactory) -> None:
    bars = make_bars()
    weekend = bars.iloc[[-1]].assign(ts=pd.Timestamp("2020-02-01", tz="UTC"))  # a Saturday
    report = _assess(pd.concat([bars, weekend], ignore_index=True))
    off = [f for f in report.findings if f.code == "OFF_CALENDAR"]
    assert len(off) == 1 and off[0].symbol == "BBB" and off[0].severity == FAIL
    # The same bar is fine on a 7-day calendar... which then sees the weekday grid as gappy.
    seven = _assess(pd.concat([bars, weekend], ignore_index=True), calendar="24x7")
    assert "OFF_CALENDAR" not in _codes(seven) and "CALENDAR_GAPS" in _codes(seven)


def test_stale_against_calendar_and_explicit_threshold(make_bars: BarsFactory) -> None:
    bars = make_bars(end="2020-01-30")  # last session Thursday 2020-01-30
    fresh = _assess(bars, as_of=pd.Timestamp("2020-01-31T00:00:00Z"))
    assert fresh.passed  # Friday's bar is not complete yet
    stale = _assess(bars, as_of=pd.Timestamp("2020-02-01T00:00:00Z"))
    assert {f.symbol for f in stale.findings if f.code == "STALE_DATA"} == {"AAA", "BBB"}
    assert stale.metrics["staleness_seconds"] == 2 * 86400
    weekend = _assess(make_bars(end="2020-01-31"), as_of=pd.Timestamp("2020-02-03T00:00Z"))
    assert weekend.passed  # nothing was due over the weekend
    tight = QualityThresholds(max_staleness_seconds=3600)
    assert "STALE_DATA" in _codes(_assess(bars, as_of=pd.Timestamp("2020-01-30T02:00Z"),
                                          thresholds=tight), FAIL)


def test_one_symbol_lagging_is_stale(make_bars: BarsFactory) -> None:
    bars = make_bars()
    lagging = bars[~((bars["symbol"] == "BBB") & (bars["ts"] >= "2020-01-29"))]
    report = _assess(lagging)
    assert [f.symbol for f in report.findings if f.code == "STALE_DATA"] == ["BBB"]


def test_future_bars_are_look_ahead(make_bars: BarsFactory) -> None:
    report = _assess(make_bars(), as_of=pd.Timestamp("2020-01-15"))
    assert "FUTURE_DATA" in _codes(report, FAIL)


def test_null_rate_threshold(make_bars: BarsFactory) -> None:
    bars = make_bars(start="2019-01-02", end="2019-12-31")
    one = bars.copy()
    one.loc[5, "close"] = np.nan
    report = _assess(one)
    assert "NULL_RATE" in _codes(report, WARN) and report.passed  # 1/504 < 1%
    assert report.null_rate["close"] == pytest.approx(1 / len(bars))
    many = bars.copy()
    many.loc[::50, "volume"] = np.nan
    flagged = [f for f in _assess(many).findings if f.code == "NULL_RATE"]
    assert flagged[0].field == "volume" and flagged[0].severity == FAIL
    no_quotes = _assess(make_bars(quotes=False))
    assert no_quotes.passed and no_quotes.null_rate["bid"] == 1.0  # quotes are optional


def test_symbol_coverage(make_bars: BarsFactory) -> None:
    bars = make_bars()
    report = _assess(bars, universe=["AAA", "BBB", "CCC"])
    finding = next(f for f in report.findings if f.code == "SYMBOL_COVERAGE")
    assert finding.severity == FAIL and "CCC" in finding.message
    assert report.metrics["symbol_coverage"] == pytest.approx(2 / 3)
    lenient = _assess(bars, universe=["AAA", "CCC"],
                      thresholds=QualityThresholds(min_symbol_coverage=0.5))
    assert lenient.passed and "SYMBOL_COVERAGE" in _codes(lenient, WARN)
    narrowed = _assess(bars, universe=["AAA"])
    assert narrowed.passed and narrowed.metrics["rows"] == len(bars) / 2


@pytest.mark.parametrize(("column", "value", "code"), [
    ("high", 1.0, "OHLC_INCONSISTENT"),
    ("low", 1e4, "OHLC_INCONSISTENT"),
    ("close", -1.0, "NON_POSITIVE_PRICE"),
    ("volume", -1.0, "NEGATIVE_VOLUME"),
    ("bid", 1e4, "QUOTE_INCONSISTENT"),
    ("spread", -0.5, "QUOTE_INCONSISTENT"),
    ("volume", np.inf, "NON_FINITE_VALUE"),
])
def test_bar_sanity_findings_fail(make_bars: BarsFactory, column: str, value: float,
                                  code: str) -> None:
    bars = make_bars()
    bars.loc[7, column] = value
    report = _assess(bars)
    assert code in _codes(report, FAIL) and not report.passed


def test_zero_volume_is_a_warning_per_symbol(make_bars: BarsFactory) -> None:
    bars = make_bars()
    bars.loc[[4, 6], "volume"] = 0.0  # row 4 is AAA, row 6 is AAA
    report = _assess(bars)
    zero = [f for f in report.findings if f.code == "ZERO_VOLUME"]
    assert [(f.symbol, f.severity) for f in zero] == [("AAA", WARN)] and report.passed
    assert zero[0].observed == pytest.approx(2 / 21)


def test_schema_mismatch_fails_and_dependent_checks_do_not_pass_silently(
        make_bars: BarsFactory) -> None:
    bars = make_bars().drop(columns=["spread"]).assign(ts=lambda b: b["ts"].dt.tz_localize(None))
    report = _assess(bars)
    assert not report.passed
    mismatched = {f.field for f in report.findings if f.code == "SCHEMA_MISMATCH"}
    assert mismatched == {"ts", "spread"}
    not_run = {f.field for f in report.findings if f.code == "CHECK_NOT_RUN"}
    assert not_run == {"ts", "spread"}
    assert all(f.severity == FAIL for f in report.findings if f.code == "CHECK_NOT_RUN")


def test_integer_volume_is_compatible_but_flagged(make_bars: BarsFactory) -> None:
    bars = make_bars().assign(volume=lambda b: b["volume"].astype("int64"))
    report = _assess(bars)
    assert report.passed and _codes(report, WARN) == {"SCHEMA_MISMATCH"}


def test_empty_frame_fails(make_bars: BarsFactory) -> None:
    report = _assess(make_bars().iloc[:0])
    assert "EMPTY_DATASET" in _codes(report, FAIL) and not report.passed
