"""The canonical bar frame: validation, canonical form and content hash.

A canonical frame has exactly :data:`BAR_COLUMNS`, in that order: ``ts`` as
``datetime64[ns, UTC]``, ``symbol`` as strings, every other column ``float64``; rows sorted by
``(ts, symbol)`` with no duplicate key. ``bid``, ``ask`` and ``spread`` may be NaN; when only
bid and ask are given, ``spread = ask - bid``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numpy as np
import pandas as pd

from torghut.contracts import BAR_COLUMNS
from torghut.errors import TorghutError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
QUOTE_COLUMNS: tuple[str, ...] = ("bid", "ask", "spread")
NUMERIC_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume", *QUOTE_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = ("ts", "symbol", *PRICE_COLUMNS, "volume")
# Bumped whenever the canonical serialisation below changes (it would change every id).
_ID_DOMAIN = b"torghut.bars/1"
_SPREAD_RTOL = 1e-9


class RowLocator:
    """Names rows in error messages: ``line N`` (or ``row N``) of the source, else ``row N``."""

    def __init__(self, file: str, lines: Sequence[int] | np.ndarray | None = None,
                 unit: str = "line") -> None:
        self.file = file
        self.lines = lines
        self.unit = unit

    def label(self, pos: int) -> str:
        if self.lines is None:
            return f"row {pos + 1}"
        return f"{self.unit} {self.lines[pos]}"

    def fail_first(self, bad: np.ndarray, field: str, problem: str,
                   values: np.ndarray | pd.Series | None = None) -> None:
        """Raise for the first row flagged in ``bad`` (a boolean mask), if any."""
        hits = np.flatnonzero(bad)
        if hits.size == 0:
            return
        pos = int(hits[0])
        shown = ""
        if values is not None:
            value = values.iloc[pos] if isinstance(values, pd.Series) else values[pos]
            plain = value.item() if isinstance(value, np.generic) else value
            shown = f" (value {plain!r})"
        more = f" (and {hits.size - 1} more rows)" if hits.size > 1 else ""
        raise TorghutError(f"{self.label(pos)}: {problem}{shown}{more}", file=self.file,
                           field=field)


def canonical_bars(bars: pd.DataFrame, *, file: str = "<bars>",
                   lines: Sequence[int] | np.ndarray | None = None,
                   unit: str = "line") -> pd.DataFrame:
    """Validate ``bars`` and return its canonical form (a new frame).

    ``lines`` gives each row's ``unit`` number in the source file, for error messages. Every
    problem raises :class:`TorghutError` naming ``file``, the column and the first bad row.
    """
    rows = RowLocator(file, lines, unit)
    missing = [c for c in REQUIRED_COLUMNS if c not in bars.columns]
    if missing:
        raise TorghutError(f"missing required column(s) {', '.join(missing)}", file=file,
                           field=missing[0])
    if len(bars) == 0:
        raise TorghutError("no bars", file=file)
    ts = _timestamps(bars["ts"], rows)
    symbol = _symbols(bars["symbol"], rows)
    values = {c: _floats(bars, c, rows) for c in NUMERIC_COLUMNS}
    _check_prices(values, rows)
    _check_quotes(values, rows)
    if np.isnan(values["spread"]).all():
        values["spread"] = values["ask"] - values["bid"]
    return _sorted_unique(ts, symbol, values, rows)


def _timestamps(column: pd.Series, rows: RowLocator) -> np.ndarray:
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        raise TorghutError(f"must be timezone-aware timestamps (got dtype {column.dtype})",
                           file=rows.file, field="ts")
    rows.fail_first(column.isna().to_numpy(), "ts", "missing timestamp")
    try:
        utc = column.dt.tz_convert("UTC").dt.as_unit("ns")
    except (OverflowError, ValueError) as exc:
        raise TorghutError(f"timestamp out of range: {exc}", file=rows.file,
                           field="ts") from None
    return utc.to_numpy(dtype="datetime64[ns]")


def _symbols(column: pd.Series, rows: RowLocator) -> np.ndarray:
    if not isinstance(column.dtype, pd.StringDtype):
        values = column.to_numpy(dtype=object)
        not_str = np.array([not isinstance(v, str) for v in values], dtype=bool)
        rows.fail_first(not_str, "symbol", "symbol must be a string", values)
        column = column.astype("str")
    rows.fail_first(column.isna().to_numpy(dtype=bool), "symbol", "missing symbol")
    values = column.to_numpy(dtype=object)
    bad = ((column == "") | (column != column.str.strip())).to_numpy(dtype=bool)
    rows.fail_first(bad, "symbol", "symbol must be non-empty, without surrounding spaces",
                    values)
    return values


def _floats(bars: pd.DataFrame, column: str, rows: RowLocator) -> np.ndarray:
    if column not in bars.columns:  # only the optional quote columns can be absent
        return np.full(len(bars), np.nan)
    series = bars[column]
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype):
        raise TorghutError(f"must be numeric (got dtype {series.dtype})", file=rows.file,
                           field=column)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_prices(values: dict[str, np.ndarray], rows: RowLocator) -> None:
    for column in PRICE_COLUMNS:
        v = values[column]
        rows.fail_first(np.isnan(v), column, "missing price (NaN)")
        rows.fail_first(~np.isfinite(v), column, "non-finite price", v)
        rows.fail_first(v <= 0, column, "price must be positive", v)
    volume = values["volume"]
    rows.fail_first(np.isnan(volume), "volume", "missing volume (NaN)")
    rows.fail_first(~np.isfinite(volume), "volume", "non-finite volume", volume)
    rows.fail_first(volume < 0, "volume", "negative volume", volume)
    o, h, low, c = (values[k] for k in PRICE_COLUMNS)
    rows.fail_first(h < np.maximum(o, c), "high", "high is below max(open, close)", h)
    rows.fail_first(low > np.minimum(o, c), "low", "low is above min(open, close)", low)


def _check_quotes(values: dict[str, np.ndarray], rows: RowLocator) -> None:
    bid, ask, spread = (values[k] for k in QUOTE_COLUMNS)
    for column, v in (("bid", bid), ("ask", ask)):
        rows.fail_first(np.isinf(v) | (v <= 0), column, "quote must be positive and finite", v)
    rows.fail_first(np.isinf(spread) | (spread < 0), "spread",
                    "spread must be non-negative and finite", spread)
    with np.errstate(invalid="ignore"):
        rows.fail_first(bid > ask, "bid", "bid is above ask", bid)
        implied = ask - bid
        off = np.abs(spread - implied) > _SPREAD_RTOL * np.abs(ask) + 1e-12
    rows.fail_first(off & ~np.isnan(implied) & ~np.isnan(spread), "spread",
                    "spread differs from ask - bid", spread)


def _sorted_unique(ts: np.ndarray, symbol: np.ndarray, values: dict[str, np.ndarray],
                   rows: RowLocator) -> pd.DataFrame:
    codes, uniques = pd.factorize(symbol, sort=True)
    order = np.lexsort((codes, ts.view(np.int64)))  # stable: ties keep file order
    ts_sorted, codes_sorted = ts[order], codes[order]
    same = (ts_sorted[1:] == ts_sorted[:-1]) & (codes_sorted[1:] == codes_sorted[:-1])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        first, second = rows.label(int(order[k])), rows.label(int(order[k + 1]))
        raise TorghutError(
            f"{second}: duplicate bar for ({pd.Timestamp(ts_sorted[k], tz='UTC')}, "
            f"{symbol[order[k]]}), first seen at {first}", file=rows.file, field="ts")
    data: dict[str, object] = {
        "ts": pd.DatetimeIndex(ts_sorted, tz="UTC"),
        "symbol": pd.array(np.asarray(uniques, dtype=object)[codes_sorted], dtype="str"),
    }
    data.update({c: values[c][order] for c in NUMERIC_COLUMNS})
    return pd.DataFrame(data, columns=list(BAR_COLUMNS))


def content_id(bars: pd.DataFrame, timeframe: str) -> str:
    """sha256 of a canonical frame's content plus its timeframe: the dataset id.

    The serialisation is independent of any file format: a domain tag, the timeframe and
    row count, then per column its name and values — ``ts`` as little-endian int64 ns,
    ``symbol`` as a sorted table of length-prefixed UTF-8 names plus int32 codes into it,
    numbers as little-endian float64 with every NaN mapped to one bit pattern and -0.0 to 0.0.
    """
    h = hashlib.sha256()
    tf = timeframe.encode()
    h.update(_ID_DOMAIN + struct.pack("<I", len(tf)) + tf + struct.pack("<q", len(bars)))
    for column in BAR_COLUMNS:
        h.update(column.encode() + b"\0")
        series = bars[column]
        if column == "ts":
            h.update(pd.DatetimeIndex(series).as_unit("ns").asi8.astype("<i8").tobytes())
        elif column == "symbol":
            codes, uniques = pd.factorize(series.to_numpy(dtype=object), sort=True)
            for name in uniques:
                raw = str(name).encode("utf-8")
                h.update(struct.pack("<I", len(raw)) + raw)
            h.update(codes.astype("<i4").tobytes())
        else:
            v = series.to_numpy(dtype=np.float64, na_value=np.nan)
            v = np.where(np.isnan(v), np.nan, v + 0.0)  # one NaN pattern; -0.0 + 0.0 == 0.0
            h.update(v.astype("<f8").tobytes())
    return h.hexdigest()


def symbol_summary(bars: pd.DataFrame) -> list[dict[str, object]]:
    """Per symbol: rows, first and last bar time (ISO 8601)."""
    grouped = bars.groupby("symbol", sort=True)["ts"].agg(["count", "min", "max"])
    return [{"symbol": str(sym), "rows": int(row["count"]), "first": row["min"].isoformat(),
             "last": row["max"].isoformat()} for sym, row in grouped.iterrows()]
