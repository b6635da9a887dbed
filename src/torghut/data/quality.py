"""Gate 0 data-quality checks: pure functions from a bar frame to a :class:`QualityReport`.

The checks follow the batch-level quality gates of the governance plan (monotonic
``(ts, symbol)`` order, required-field null rate, staleness ceiling, duplicate ratio) and add
the ones a bar dataset needs: schema compatibility, symbol coverage of the universe, gaps
against the instrument's trading calendar, and bar sanity (OHLC consistency, positive
prices, volume, quotes). They work on *any* frame, not only canonical snapshots, so each
can be shown to fire on a crafted bad frame.

Severity: ``fail`` breaks Gate 0; ``warn`` is reported evidence that stays within the
thresholds (for example two zero-volume days, or gaps under ``max_gap_ratio``); ``info`` is
context. A check that cannot run (its columns are missing or mistyped) is a ``fail``: a
check that did not run never counts as passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import pandas as pd

from torghut import __version__
from torghut.contracts import (
    BAR_COLUMNS,
    TIMEFRAME_SECONDS,
    FindingSeverity,
    QualityFinding,
    QualityReport,
    QualityThresholds,
)
from torghut.data.bars import NUMERIC_COLUMNS, PRICE_COLUMNS, REQUIRED_COLUMNS
from torghut.data.calendars import check_calendar, check_timeframe, expected_index
from torghut.data.snapshots import Snapshot

FAIL, WARN, INFO = FindingSeverity.FAIL, FindingSeverity.WARN, FindingSeverity.INFO
_SHOWN = 3  # example timestamps quoted in a finding's message


class Code(StrEnum):
    """Stable finding codes (Gate 0 reason codes)."""

    SCHEMA_MISMATCH = "SCHEMA_MISMATCH"
    CHECK_NOT_RUN = "CHECK_NOT_RUN"
    EMPTY_DATASET = "EMPTY_DATASET"
    NULL_RATE = "NULL_RATE"
    STALE_DATA = "STALE_DATA"
    FUTURE_DATA = "FUTURE_DATA"
    DUPLICATE_ROWS = "DUPLICATE_ROWS"
    NON_MONOTONIC = "NON_MONOTONIC"
    SYMBOL_COVERAGE = "SYMBOL_COVERAGE"
    CALENDAR_GAPS = "CALENDAR_GAPS"
    OFF_CALENDAR = "OFF_CALENDAR"
    OHLC_INCONSISTENT = "OHLC_INCONSISTENT"
    NON_POSITIVE_PRICE = "NON_POSITIVE_PRICE"
    NON_FINITE_VALUE = "NON_FINITE_VALUE"
    NEGATIVE_VOLUME = "NEGATIVE_VOLUME"
    ZERO_VOLUME = "ZERO_VOLUME"
    QUOTE_INCONSISTENT = "QUOTE_INCONSISTENT"


@dataclass(frozen=True)
class Context:
    """What every check may read besides the bars."""

    timeframe: str
    calendar: str
    as_of: pd.Timestamp
    thresholds: QualityThresholds


@dataclass
class Outcome:
    """Findings and metrics produced by one check."""

    findings: list[QualityFinding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def add(self, code: Code, severity: FindingSeverity, message: str, **extra: object) -> None:
        self.findings.append(QualityFinding(code=code.value, severity=severity,
                                            message=message, **extra))


Check = Callable[[pd.DataFrame, Context], Outcome]


def assess(bars: pd.DataFrame, *, dataset_id: str, timeframe: str, calendar: str,
           universe: Iterable[str] | None = None, as_of: pd.Timestamp | None = None,
           thresholds: QualityThresholds | None = None) -> QualityReport:
    """Run every Gate 0 check on ``bars`` and return the report (pure; no I/O).

    ``universe`` defaults to the symbols present; when given, the other checks look only at
    its symbols. ``as_of`` defaults to the last bar time, so data fresh at its own end
    passes the staleness check.
    """
    check_timeframe(timeframe)
    calendar = check_calendar(calendar)
    thresholds = thresholds or QualityThresholds()
    schema, usable = check_schema(bars)
    symbols_ok = "symbol" in usable
    present = sorted(str(s) for s in bars["symbol"].dropna().unique()) if symbols_ok else []
    chosen = tuple(sorted(set(universe))) if universe is not None else tuple(present)
    coverage = check_coverage(present, chosen, thresholds)
    if universe is not None and symbols_ok:
        bars = bars[bars["symbol"].isin(chosen).to_numpy(dtype=bool)]
    ctx = Context(timeframe, calendar, _as_of(bars, usable, as_of), thresholds)
    outcomes = [schema, coverage, check_nulls(bars, thresholds)]
    if len(bars) == 0:
        empty = Outcome()
        empty.add(Code.EMPTY_DATASET, FAIL, "no bars to check", observed=0.0)
        outcomes.append(empty)
    else:
        outcomes += [_run(check, needs, bars, ctx, usable) for check, needs in _ROW_CHECKS]
    findings = [f for o in outcomes for f in o.findings]
    metrics = {"rows": float(len(bars)), "symbols": float(len(present))}
    for outcome in outcomes:
        metrics.update(outcome.metrics)
    return QualityReport(
        dataset_id=dataset_id, as_of=ctx.as_of.to_pydatetime(), universe=chosen,
        thresholds=thresholds, passed=not any(f.severity == FAIL for f in findings),
        metrics=metrics, null_rate=null_rates(bars), findings=tuple(findings),
        code_version=__version__)


def check_snapshot(snapshot: Snapshot, *, universe: Iterable[str] | None = None,
                   as_of: pd.Timestamp | None = None,
                   thresholds: QualityThresholds | None = None) -> QualityReport:
    """Gate 0 evidence for a stored snapshot; the universe defaults to its symbols."""
    m = snapshot.manifest
    return assess(snapshot.bars(), dataset_id=m.dataset_id, timeframe=m.timeframe,
                  calendar=m.calendar, universe=m.symbols if universe is None else universe,
                  as_of=as_of, thresholds=thresholds)


def _run(check: Check, needs: tuple[str, ...], bars: pd.DataFrame, ctx: Context,
         usable: set[str]) -> Outcome:
    missing = [c for c in needs if c not in usable]
    if not missing:
        return check(bars, ctx)
    skipped = Outcome()
    skipped.add(Code.CHECK_NOT_RUN, FAIL, f"{check.__name__} needs usable column(s) "
                f"{', '.join(missing)}", field=missing[0])
    return skipped


def _as_of(bars: pd.DataFrame, usable: set[str], as_of: pd.Timestamp | None) -> pd.Timestamp:
    if as_of is not None:
        stamp = pd.Timestamp(as_of)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if "ts" in usable and bars["ts"].notna().any():
        return pd.Timestamp(bars["ts"].max()).tz_convert("UTC")
    return pd.Timestamp(datetime(1970, 1, 1, tzinfo=UTC))  # nothing to anchor on; fails anyway


# -- schema, nulls, coverage ---------------------------------------------------------------

def _expected_kind(column: str) -> str:
    return {"ts": "datetime64[ns, UTC]", "symbol": "string"}.get(column, "float64")


def check_schema(bars: pd.DataFrame) -> tuple[Outcome, set[str]]:
    """Canonical columns and types; returns the outcome and the columns checks may use."""
    out, usable = Outcome(), set()
    for column in BAR_COLUMNS:
        if column not in bars.columns:
            out.add(Code.SCHEMA_MISMATCH, FAIL, f"missing column {column}", field=column,
                    threshold=_expected_kind(column))
            continue
        dtype = bars[column].dtype
        ok, compatible = _dtype_status(column, dtype)
        if compatible:
            usable.add(column)
        if not ok:
            out.add(Code.SCHEMA_MISMATCH, WARN if compatible else FAIL,
                    f"column {column} has dtype {dtype}", field=column, observed=str(dtype),
                    threshold=_expected_kind(column))
    extra = [str(c) for c in bars.columns if c not in BAR_COLUMNS]
    if extra:
        out.add(Code.SCHEMA_MISMATCH, INFO, f"extra columns ignored: {', '.join(extra)}")
    return out, usable


def _dtype_status(column: str, dtype: object) -> tuple[bool, bool]:
    """(exactly canonical, usable by the checks)."""
    if column == "ts":
        aware = isinstance(dtype, pd.DatetimeTZDtype)
        return aware and str(dtype.tz) == "UTC" and dtype.unit == "ns", aware
    if column == "symbol":
        ok = isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)
        return ok, ok
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    return dtype == np.float64, numeric


def null_rates(bars: pd.DataFrame) -> dict[str, float]:
    """Null share per canonical column present, over all rows (0 for an empty frame)."""
    n = len(bars)
    return {c: float(bars[c].isna().sum()) / n if n else 0.0
            for c in BAR_COLUMNS if c in bars.columns}


def check_nulls(bars: pd.DataFrame, thresholds: QualityThresholds) -> Outcome:
    """Required fields against ``max_null_rate``; optional quote fields are not judged."""
    out = Outcome()
    rates = null_rates(bars)
    limit = thresholds.max_null_rate
    for column in REQUIRED_COLUMNS:
        rate = rates.get(column)
        if rate is None or rate == 0:
            continue
        out.add(Code.NULL_RATE, FAIL if rate > limit else WARN,
                f"{column} is null in {rate:.4%} of rows", field=column, observed=rate,
                threshold=limit)
    out.metrics["max_required_null_rate"] = max(
        (rates.get(c, 0.0) for c in REQUIRED_COLUMNS), default=0.0)
    return out


def check_coverage(present: list[str], universe: tuple[str, ...],
                   thresholds: QualityThresholds) -> Outcome:
    out = Outcome()
    have = set(present)
    missing = [s for s in universe if s not in have]
    coverage = 1.0 - len(missing) / len(universe) if universe else 0.0
    out.metrics["symbol_coverage"] = coverage
    if not universe:
        out.add(Code.SYMBOL_COVERAGE, FAIL, "empty universe: no symbols to check",
                observed=0.0, threshold=thresholds.min_symbol_coverage)
    elif missing:
        severity = FAIL if coverage < thresholds.min_symbol_coverage else WARN
        out.add(Code.SYMBOL_COVERAGE, severity,
                f"{len(missing)} of {len(universe)} universe symbols have no bars: "
                f"{', '.join(missing[:10])}", observed=coverage,
                threshold=thresholds.min_symbol_coverage)
    return out


# -- row-level checks ---------------------------------------------------------------------

def _keys(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(ts as int64 ns, symbol codes in sorted-symbol order) for order and duplicate checks."""
    ts = pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8
    codes, _ = pd.factorize(bars["symbol"].astype(str).to_numpy(dtype=object), sort=True)
    return ts, codes


def check_duplicates(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Share of rows repeating an earlier ``(ts, symbol)`` key."""
    out = Outcome()
    ts, codes = _keys(bars)
    dupes = int(pd.DataFrame({"t": ts, "s": codes}).duplicated().sum())
    ratio = dupes / len(bars)
    out.metrics["duplicate_ratio"] = ratio
    if dupes:
        limit = ctx.thresholds.max_duplicate_ratio
        out.add(Code.DUPLICATE_ROWS, FAIL if ratio > limit else WARN,
                f"{dupes} rows repeat an earlier (ts, symbol)", observed=ratio, threshold=limit)
    return out


def check_monotonic(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Rows must be in non-decreasing ``(ts, symbol)`` order."""
    out = Outcome()
    ts, codes = _keys(bars)
    back = (ts[1:] < ts[:-1]) | ((ts[1:] == ts[:-1]) & (codes[1:] < codes[:-1]))
    count = int(back.sum())
    out.metrics["non_monotonic_rows"] = float(count)
    if count:
        first = int(np.flatnonzero(back)[0]) + 1
        out.add(Code.NON_MONOTONIC, FAIL, f"{count} rows go back in (ts, symbol) order, "
                f"first at row {first + 1}", observed=float(count), threshold=0.0)
    return out


def check_staleness(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Each symbol's last bar against ``as_of``; bars after ``as_of`` are look-ahead.

    With ``max_staleness_seconds`` unset, a symbol is stale when the calendar expects a bar
    after its last one that would have closed by ``as_of`` — one bar interval plus whatever
    the calendar is closed (nights, weekends, holidays).
    """
    out = Outcome()
    bar = pd.Timedelta(seconds=TIMEFRAME_SECONDS[ctx.timeframe])
    limit = ctx.thresholds.max_staleness_seconds
    last = bars.dropna(subset=["ts"]).groupby("symbol", sort=True)["ts"].max()
    worst = 0.0
    for symbol, stamp in last.items():
        age = (ctx.as_of - stamp).total_seconds()
        worst = max(worst, age)
        if limit is not None:
            stale, due, threshold = age > limit, None, limit
        else:
            expected = expected_index(ctx.calendar, ctx.timeframe, stamp + pd.Timedelta(1),
                                      ctx.as_of - bar)
            stale, due, threshold = len(expected) > 0, expected, "calendar"
        if stale:
            detail = f"; {len(due)} expected bars missing" if due is not None else ""
            out.add(Code.STALE_DATA, FAIL, f"last bar {stamp.isoformat()} is "
                    f"{age:.0f} s before as-of {ctx.as_of.isoformat()}{detail}",
                    symbol=str(symbol), field="ts", observed=age, threshold=threshold)
    future = int((bars["ts"] > ctx.as_of).sum())
    out.metrics.update(staleness_seconds=worst, future_bars=float(future))
    if future:
        out.add(Code.FUTURE_DATA, FAIL, f"{future} bars are stamped after as-of "
                f"{ctx.as_of.isoformat()} (look-ahead)", field="ts", observed=float(future),
                threshold=0.0)
    return out


def check_calendar_gaps(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Per symbol, between its first and last bar: missing sessions/bars and off-calendar bars.

    Severity is ``fail`` above ``max_gap_ratio`` (missing or off-calendar over expected),
    ``warn`` below it.
    """
    out = Outcome()
    stamps = bars.dropna(subset=["ts"])
    limit = ctx.thresholds.max_gap_ratio
    span = expected_index(ctx.calendar, ctx.timeframe, stamps["ts"].min(), stamps["ts"].max())
    grid = span.asi8
    total_expected = total_missing = total_off = 0
    for symbol, group in stamps.groupby("symbol", sort=True):
        have = np.unique(pd.DatetimeIndex(group["ts"]).as_unit("ns").asi8)
        expected = grid[np.searchsorted(grid, have[0]):np.searchsorted(grid, have[-1], "right")]
        missing = np.setdiff1d(expected, have, assume_unique=True)
        off = np.setdiff1d(have, expected, assume_unique=True)
        n_expected = max(len(expected), 1)
        total_expected += len(expected)
        total_missing += len(missing)
        total_off += len(off)
        for code, hits, what in ((Code.CALENDAR_GAPS, missing, "expected bars missing"),
                                 (Code.OFF_CALENDAR, off, "bars off the calendar")):
            if len(hits):
                ratio = len(hits) / n_expected
                out.add(code, FAIL if ratio > limit else WARN,
                        f"{len(hits)} {what} ({ctx.calendar} {ctx.timeframe}), e.g. "
                        f"{_examples(hits)}", symbol=str(symbol), field="ts", observed=ratio,
                        threshold=limit)
    out.metrics.update(gap_ratio=total_missing / max(total_expected, 1),
                       missing_bars=float(total_missing), off_calendar_bars=float(total_off))
    return out


def _examples(ns: np.ndarray) -> str:
    shown = ", ".join(pd.Timestamp(int(v), tz="UTC").isoformat() for v in ns[:_SHOWN])
    return shown + (", …" if len(ns) > _SHOWN else "")


def check_prices(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Positive, finite prices; high/low bracketing open and close."""
    out = Outcome()
    o, h, low, c = (bars[k].to_numpy(dtype=np.float64, na_value=np.nan) for k in PRICE_COLUMNS)
    prices = np.stack([o, h, low, c])
    non_positive = int(((prices <= 0) | np.isinf(prices)).any(axis=0).sum())
    with np.errstate(invalid="ignore"):
        bad_ohlc = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)
    inconsistent = int(bad_ohlc.sum())
    out.metrics.update(non_positive_prices=float(non_positive),
                       ohlc_inconsistent_rows=float(inconsistent))
    _flag_rows(out, Code.NON_POSITIVE_PRICE, non_positive, "rows with a price ≤ 0 or infinite")
    _flag_rows(out, Code.OHLC_INCONSISTENT, inconsistent,
               "rows where high/low do not bracket open and close")
    return out


def check_volume(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Negative volume fails; zero volume is a warning per symbol (a vendor gap, not a
    broken bar)."""
    out = Outcome()
    volume = bars["volume"].to_numpy(dtype=np.float64, na_value=np.nan)
    negative = int((volume < 0).sum())
    zero = volume == 0
    out.metrics.update(negative_volumes=float(negative),
                       zero_volume_ratio=float(zero.sum()) / len(volume))
    _flag_rows(out, Code.NEGATIVE_VOLUME, negative, "rows with negative volume")
    if zero.any():
        quiet = bars[zero]
        for symbol, group in quiet.groupby("symbol", sort=True):
            ratio = len(group) / int((bars["symbol"] == symbol).sum())
            out.add(Code.ZERO_VOLUME, WARN, f"{len(group)} bars report zero volume, e.g. "
                    f"{_examples(pd.DatetimeIndex(group['ts']).as_unit('ns').asi8)}",
                    symbol=str(symbol), field="volume", observed=ratio)
    return out


def check_quotes(bars: pd.DataFrame, ctx: Context) -> Outcome:
    """Where quotes exist: bid ≤ ask, spread ≥ 0."""
    out = Outcome()
    bid, ask, spread = (bars[k].to_numpy(dtype=np.float64, na_value=np.nan)
                        for k in ("bid", "ask", "spread"))
    with np.errstate(invalid="ignore"):
        bad = int(((bid > ask) | (spread < 0)).sum())
    out.metrics["quote_inconsistent_rows"] = float(bad)
    _flag_rows(out, Code.QUOTE_INCONSISTENT, bad, "rows with bid above ask or negative spread")
    return out


def check_finite(bars: pd.DataFrame, ctx: Context) -> Outcome:
    out = Outcome()
    values = np.stack([bars[c].to_numpy(dtype=np.float64, na_value=np.nan)
                       for c in NUMERIC_COLUMNS])
    count = int(np.isinf(values).any(axis=0).sum())
    out.metrics["non_finite_rows"] = float(count)
    _flag_rows(out, Code.NON_FINITE_VALUE, count, "rows with an infinite value")
    return out


def _flag_rows(out: Outcome, code: Code, count: int, what: str) -> None:
    if count:
        out.add(code, FAIL, f"{count} {what}", observed=float(count), threshold=0.0)


_ROW_CHECKS: tuple[tuple[Check, tuple[str, ...]], ...] = (
    (check_duplicates, ("ts", "symbol")),
    (check_monotonic, ("ts", "symbol")),
    (check_staleness, ("ts", "symbol")),
    (check_calendar_gaps, ("ts", "symbol")),
    (check_prices, PRICE_COLUMNS),
    (check_volume, ("volume",)),
    (check_quotes, ("bid", "ask", "spread")),
    (check_finite, NUMERIC_COLUMNS),
)
