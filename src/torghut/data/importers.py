"""Import OHLCV bars from CSV or Parquet into a snapshot.

Accepted files: ``.csv`` (text, any column order) and ``.parquet``. Column names are matched
case-insensitively: a timestamp column (``ts``, ``timestamp``, ``datetime``, ``date`` or
``time``), ``open``, ``high``, ``low``, ``close``, ``volume``; optional ``bid``, ``ask``,
``spread`` and ``symbol``. Any other column (for example ``Adj Close``) is ignored and listed
in the snapshot's provenance. A ``symbol`` column makes the file long-format: every symbol in
it is imported, or only ``symbol`` when given.

Timestamps are ISO 8601 text (or a timestamp/date column in Parquet), stamped as described in
:mod:`torghut.data.calendars`:

* daily bars take the calendar date as written — in the timestamp's own offset if it has
  one — and are stamped at that date 00:00 UTC (so ``2020-01-02T00:00-05:00`` is the
  2020-01-02 session);
* intraday bars with an offset are converted to UTC; naive ones are read in ``tz``
  (default UTC). A file may not mix naive and offset timestamps.
"""

from __future__ import annotations

import hashlib
import io
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from torghut.contracts import DatasetManifest, DatasetSource, SourceKind
from torghut.data.bars import (
    NUMERIC_COLUMNS,
    QUOTE_COLUMNS,
    REQUIRED_COLUMNS,
    RowLocator,
    canonical_bars,
)
from torghut.data.calendars import check_calendar, check_timeframe
from torghut.data.snapshots import check_name, write_snapshot
from torghut.errors import TorghutError
from torghut.workspace import Workspace

TS_ALIASES: tuple[str, ...] = ("ts", "timestamp", "datetime", "date", "time")
KNOWN_COLUMNS: frozenset[str] = frozenset({*REQUIRED_COLUMNS, *QUOTE_COLUMNS})
# A UTC offset after a time of day: "...T09:30:00-05:00", "... 14:30Z" (not "2020-01-02").
_OFFSET = re.compile(r"^(.*[T ]\d{2}(?::?\d{2})*(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class ImportedBars:
    """A file's bars in canonical form, with what was learnt while reading it."""

    bars: pd.DataFrame
    file_sha256: str
    timestamp_column: str
    ignored_columns: tuple[str, ...]


@dataclass(frozen=True)
class _Table:
    """Raw columns (normalised names) and where each row sits in the source file."""

    frame: pd.DataFrame
    rows: RowLocator

    @property
    def file(self) -> str:
        return self.rows.file

    def subset(self, keep: np.ndarray) -> _Table:
        lines = np.asarray(self.rows.lines)[keep]
        return _Table(self.frame[keep].reset_index(drop=True),
                      RowLocator(self.file, lines, self.rows.unit))


def import_file(ws: Workspace, path: Path, *, timeframe: str = "1d", symbol: str | None = None,
                name: str | None = None, calendar: str = "XNYS",
                tz: str | None = None) -> tuple[DatasetManifest, bool]:
    """Read ``path`` and write it as a snapshot; returns (manifest, created)."""
    calendar = check_calendar(calendar)  # option errors first, before reading the file
    if name is not None:
        check_name(name)
    imported = read_bars_file(path, timeframe=timeframe, symbol=symbol, tz=tz)
    source = DatasetSource(
        kind=SourceKind.IMPORT, description=f"Imported from {path.name}", file=path.name,
        file_sha256=imported.file_sha256,
        parameters={"timestamp_column": imported.timestamp_column,
                    "ignored_columns": list(imported.ignored_columns),
                    "symbol_filter": symbol, "tz": tz or "UTC"})
    return write_snapshot(ws, imported.bars, name=name or default_name(path, symbol, timeframe),
                          timeframe=timeframe, calendar=calendar, source=source)


def default_name(path: Path, symbol: str | None, timeframe: str) -> str:
    stem = "-".join(p for p in (path.stem, symbol, timeframe) if p)
    return check_name(re.sub(r"[^A-Za-z0-9._\-]+", "-", stem).strip("-._") or "import")


def read_bars_file(path: Path, *, timeframe: str, symbol: str | None = None,
                   tz: str | None = None) -> ImportedBars:
    """Parse a CSV or Parquet bar file into canonical bars (no workspace I/O)."""
    check_timeframe(timeframe)
    zone = _check_tz(tz)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TorghutError("file not found", file=path) from None
    except OSError as exc:
        raise TorghutError(f"cannot read: {exc.strerror or exc}", file=path) from None
    table = _read_table(path, raw)
    table, ts_column, ignored = _normalise_columns(table)
    table = _select_symbol(table, symbol)
    frame = pd.DataFrame({"ts": _parse_timestamps(table, daily=timeframe == "1d", tz=zone),
                          "symbol": table.frame["symbol"]})
    for column in NUMERIC_COLUMNS:
        if column in table.frame.columns:
            frame[column] = _parse_numbers(table, column)
    bars = canonical_bars(frame.reset_index(drop=True), file=table.file,
                          lines=table.rows.lines, unit=table.rows.unit)
    return ImportedBars(bars, hashlib.sha256(raw).hexdigest(), ts_column, ignored)


def _check_tz(tz: str | None) -> str:
    if tz is None:
        return "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TorghutError(f"unknown time zone {tz!r}", field="tz") from None
    return tz


def _read_table(path: Path, raw: bytes) -> _Table:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(path, raw)
    if suffix in (".parquet", ".pq"):
        try:
            frame = pq.read_table(pa.BufferReader(raw)).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise TorghutError(f"malformed Parquet: {exc}", file=path) from None
        if any(n is not None for n in frame.index.names):  # e.g. a pandas "Date" index
            frame = frame.reset_index()
        return _Table(frame, RowLocator(str(path), np.arange(1, len(frame) + 1), "row"))
    raise TorghutError(f"unsupported file type {suffix or '(none)'!r}; expected .csv or "
                       ".parquet", file=path)


def _read_csv(path: Path, raw: bytes) -> _Table:
    try:
        # Everything as text: numbers are parsed below so a bad cell can be named. Parsing
        # the bytes already hashed keeps file_sha256 true to what was imported.
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, skip_blank_lines=False,
                            encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise TorghutError("empty file", file=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TorghutError(f"malformed CSV: {first}", file=path) from None
    lines = np.arange(len(frame)) + 2  # line 1 is the header
    keep = ~frame.isna().all(axis=1).to_numpy()  # blank lines
    return _Table(frame, RowLocator(str(path), lines, "line")).subset(keep)


def _normalise_columns(table: _Table) -> tuple[_Table, str, tuple[str, ...]]:
    """Canonical column names; returns (table, original timestamp column, ignored columns)."""
    names = [str(c).strip().lower() for c in table.frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TorghutError(f"duplicate column {dupes[0]!r} (names are case-insensitive)",
                           file=table.file, field=dupes[0])
    ts_found = [n for n in TS_ALIASES if n in names]
    if not ts_found:
        raise TorghutError(f"missing timestamp column (one of {', '.join(TS_ALIASES)})",
                           file=table.file, field="ts")
    if len(ts_found) > 1:
        raise TorghutError(f"several timestamp columns ({', '.join(ts_found)}); keep one",
                           file=table.file, field=ts_found[0])
    names = ["ts" if n == ts_found[0] else n for n in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in names and c != "symbol"]
    if missing:
        raise TorghutError(f"missing required column {missing[0]!r}", file=table.file,
                           field=missing[0])
    for have, need in (("bid", "ask"), ("ask", "bid")):
        if have in names and need not in names:
            raise TorghutError(f"{have} without {need}", file=table.file, field=need)
    ignored = tuple(n for n in names if n not in KNOWN_COLUMNS)
    frame = table.frame.set_axis(names, axis="columns")
    return _Table(frame, table.rows), ts_found[0], ignored


def _select_symbol(table: _Table, symbol: str | None) -> _Table:
    """Attach the symbol column (from the file or ``symbol``); keep only ``symbol`` if given."""
    if symbol is not None and (not symbol or symbol != symbol.strip()):
        raise TorghutError(f"invalid symbol {symbol!r}", field="symbol")
    if "symbol" not in table.frame.columns:
        if symbol is None:
            raise TorghutError("no symbol column; pass --symbol", file=table.file,
                               field="symbol")
        return _Table(table.frame.assign(symbol=symbol), table.rows)
    symbols = table.frame["symbol"].astype("str").str.strip()
    table.rows.fail_first((symbols.isna() | (symbols == "")).to_numpy(dtype=bool), "symbol",
                          "missing symbol")
    table = _Table(table.frame.assign(symbol=symbols), table.rows)
    if symbol is None:
        return table
    keep = (symbols == symbol).to_numpy(dtype=bool)
    if not keep.any():
        raise TorghutError(f"symbol {symbol!r} not in file", file=table.file, field="symbol")
    return table.subset(keep)


def _parse_numbers(table: _Table, column: str) -> pd.Series:
    raw = table.frame[column]
    if pd.api.types.is_bool_dtype(raw.dtype):
        raise TorghutError("must be numeric, got booleans", file=table.file, field=column)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    text = raw.astype("str").str.strip()
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    table.rows.fail_first((text.notna() & (text != "") & parsed.isna()).to_numpy(), column,
                     "not a number", text)
    return parsed


def _parse_timestamps(table: _Table, *, daily: bool, tz: str) -> pd.Series:
    raw = table.frame["ts"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        if daily:  # the date as written, in the column's own zone
            return raw.dt.tz_localize(None).dt.normalize().dt.tz_localize("UTC")
        return raw.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return _localise(table, raw, daily=daily, tz=tz)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        raise TorghutError("numeric timestamps are not supported; use ISO 8601 text",
                           file=table.file, field="ts")
    text = raw.astype("str").str.strip()
    table.rows.fail_first((text.isna() | (text == "")).to_numpy(), "ts", "missing timestamp")
    offset = text.str.match(_OFFSET).to_numpy(dtype=bool)
    if offset.any() and not offset.all():
        table.rows.fail_first(offset != offset[0], "ts",
                         "mixes naive and timezone-aware timestamps", text)
    if not offset.any():
        return _localise(table, _parse_iso(table, text, utc=False), daily=daily, tz=tz)
    if daily:  # keep the local calendar date: drop the offset rather than convert
        wall = text.str.replace(_OFFSET, r"\1", regex=True)
        return _localise(table, _parse_iso(table, wall, utc=False), daily=True, tz=tz)
    return _parse_iso(table, text, utc=True)


def _parse_iso(table: _Table, text: pd.Series, *, utc: bool) -> pd.Series:
    try:
        return pd.to_datetime(text, format="ISO8601", utc=utc)
    except (ValueError, OverflowError):
        coerced = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        table.rows.fail_first(coerced.isna().to_numpy(), "ts", "not an ISO 8601 timestamp", text)
        raise TorghutError("unparseable timestamps", file=table.file, field="ts") from None


def _localise(table: _Table, naive: pd.Series, *, daily: bool, tz: str) -> pd.Series:
    if daily:
        return naive.dt.normalize().dt.tz_localize("UTC")
    try:
        return naive.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise").dt.tz_convert(
            "UTC")
    except ValueError as exc:
        raise TorghutError(f"local time invalid in {tz}: {exc}", file=table.file,
                           field="ts") from None
