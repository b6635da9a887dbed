"""Importing CSV and Parquet bars: formats, long format, quotes, timestamp conventions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.data.bars import canonical_bars
from torghut.data.importers import import_file, read_bars_file
from torghut.data.snapshots import load_snapshot
from torghut.errors import TorghutError
from torghut.workspace import Workspace

BarsFactory = Callable[..., pd.DataFrame]

WIDE_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,10,11,9.5,10.5,10.4,1000
2020-01-03,10.5,10.8,10.1,10.2,10.1,1200
2020-01-06,10.2,10.9,10.0,10.7,10.6,900
"""


def _as_file_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars as a vendor would ship them: ISO text timestamps, capitalised headers."""
    out = bars.assign(ts=bars["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out.rename(columns={"ts": "Timestamp", "symbol": "Symbol", "close": "CLOSE"})


def test_single_symbol_csv(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "spy.csv"
    path.write_text(WIDE_CSV)
    manifest, created = import_file(ws, path, symbol="SPY")
    bars = load_snapshot(ws, manifest.dataset_id).bars()
    assert created and manifest.name == "spy-SPY-1d" and manifest.symbols == ("SPY",)
    assert list(bars["close"]) == [10.5, 10.2, 10.7]  # Close, not Adj Close
    assert list(bars["ts"].dt.strftime("%Y-%m-%d %H:%M %Z")) == [
        "2020-01-02 00:00 UTC", "2020-01-03 00:00 UTC", "2020-01-06 00:00 UTC"]
    assert not manifest.has_quotes
    assert manifest.source.file == "spy.csv"
    assert manifest.source.parameters["ignored_columns"] == ["adj close"]
    assert manifest.source.parameters["timestamp_column"] == "date"
    assert len(manifest.source.file_sha256 or "") == 64


def test_long_format_csv_and_parquet_give_the_same_snapshot(
        ws: Workspace, tmp_path: Path, make_bars: BarsFactory) -> None:
    original = make_bars(symbols=("AAA", "BBB", "CCC"), timeframe="5m", start="2020-03-02",
                         end="2020-03-03")
    vendor = _as_file_frame(original)
    csv_path, pq_path = tmp_path / "bars.csv", tmp_path / "bars.parquet"
    vendor.to_csv(csv_path, index=False)
    vendor.to_parquet(pq_path, index=False)
    from_csv, created_csv = import_file(ws, csv_path, timeframe="5m")
    from_pq, created_pq = import_file(ws, pq_path, timeframe="5m")
    assert created_csv and not created_pq  # same content ⇒ same id, whatever the format
    assert from_csv.dataset_id == from_pq.dataset_id
    assert from_csv.symbols == ("AAA", "BBB", "CCC")
    bars = load_snapshot(ws, from_csv.dataset_id).bars()
    pd.testing.assert_frame_equal(bars, canonical_bars(original))


def test_parquet_with_native_timestamps(ws: Workspace, tmp_path: Path,
                                        make_bars: BarsFactory) -> None:
    original = make_bars(timeframe="1h", start="2020-03-02", end="2020-03-04")
    path = tmp_path / "native.parquet"
    original.to_parquet(path, index=False)
    manifest, _ = import_file(ws, path, timeframe="1h")
    pd.testing.assert_frame_equal(load_snapshot(ws, manifest.dataset_id).bars(),
                                  canonical_bars(original))


def test_parquet_with_a_date_index_and_csv_with_a_bom(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5],
                          "Close": [1.5, 2.5], "Volume": [10, 20]},
                         index=pd.Index(pd.to_datetime(["2020-01-02", "2020-01-03"]),
                                        name="Date"))
    frame.to_parquet(tmp_path / "indexed.parquet")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + WIDE_CSV.encode())
    indexed = read_bars_file(tmp_path / "indexed.parquet", timeframe="1d", symbol="X").bars
    assert list(indexed["close"]) == [1.5, 2.5]
    assert len(read_bars_file(tmp_path / "bom.csv", timeframe="1d", symbol="X").bars) == 3


def test_symbol_filter_on_long_format(tmp_path: Path, make_bars: BarsFactory) -> None:
    path = tmp_path / "long.csv"
    _as_file_frame(make_bars(symbols=("AAA", "BBB"))).to_csv(path, index=False)
    only_b = read_bars_file(path, timeframe="1d", symbol="BBB").bars
    assert set(only_b["symbol"]) == {"BBB"} and len(only_b) == 21


@pytest.mark.parametrize("quotes", ["bid_ask", "spread_only", "all_three"])
def test_quote_variants(tmp_path: Path, quotes: str) -> None:
    header = "ts,open,high,low,close,volume"
    rows = ["2020-01-02,10,11,9,10.5,100", "2020-01-03,10.5,11,10,10.6,100"]
    extra = {"bid_ask": ("bid,ask", ["10.49,10.51", "10.58,10.62"]),
             "spread_only": ("spread", ["0.02", "0.04"]),
             "all_three": ("bid,ask,spread", ["10.49,10.51,0.02", "10.58,10.62,0.04"])}[quotes]
    text = "\n".join([f"{header},{extra[0]}", *(f"{r},{q}" for r, q in zip(rows, extra[1],
                                                                          strict=True))])
    path = tmp_path / "q.csv"
    path.write_text(text + "\n")
    bars = read_bars_file(path, timeframe="1d", symbol="X").bars
    assert np.allclose(bars["spread"], [0.02, 0.04])
    if quotes == "spread_only":
        assert bars[["bid", "ask"]].isna().all().all()
    else:
        assert list(bars["bid"]) == [10.49, 10.58] and list(bars["ask"]) == [10.51, 10.62]


def test_daily_dates_keep_the_local_calendar_date(tmp_path: Path) -> None:
    path = tmp_path / "offsets.csv"
    path.write_text("date,open,high,low,close,volume\n"
                    "2020-01-02T00:00:00-05:00,1,1,1,1,1\n"
                    "2020-07-06T00:00:00-04:00,1,1,1,1,1\n"
                    "2020-07-07T00:00:00+09:00,1,1,1,1,1\n")
    bars = read_bars_file(path, timeframe="1d", symbol="X").bars
    assert [t.isoformat() for t in bars["ts"]] == [
        "2020-01-02T00:00:00+00:00", "2020-07-06T00:00:00+00:00", "2020-07-07T00:00:00+00:00"]


def test_intraday_offsets_convert_and_naive_times_use_tz(tmp_path: Path) -> None:
    aware, naive = tmp_path / "aware.csv", tmp_path / "naive.csv"
    aware.write_text("ts,open,high,low,close,volume\n2020-07-06 09:30:00-04:00,1,1,1,1,1\n")
    naive.write_text("ts,open,high,low,close,volume\n2020-07-06 09:30:00,1,1,1,1,1\n")
    stamp = pd.Timestamp("2020-07-06 13:30", tz="UTC")
    assert read_bars_file(aware, timeframe="1m", symbol="X").bars["ts"][0] == stamp
    assert read_bars_file(naive, timeframe="1m", symbol="X", tz="America/New_York"
                          ).bars["ts"][0] == stamp
    assert read_bars_file(naive, timeframe="1m", symbol="X").bars["ts"][0] == stamp.replace(
        hour=9)  # naive intraday defaults to UTC


def test_blank_lines_keep_line_numbers_honest(tmp_path: Path) -> None:
    path = tmp_path / "gappy.csv"
    path.write_text("ts,open,high,low,close,volume\n2020-01-02,1,1,1,1,1\n\n"
                    "2020-01-03,1,1,1,1,-4\n")
    with pytest.raises(TorghutError, match="line 4: negative volume"):
        read_bars_file(path, timeframe="1d", symbol="X")


BAD_FILES: list[tuple[str, str, dict[str, str], str | None, str]] = [
    # (file name, content, extra kwargs, field, message fragment)
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1\n2020-01-03,1,2,1,1,1,9\n",
     {}, None, "malformed CSV"),
    ("x.csv", "date,open,high,low,volume\n2020-01-02,1,2,1,5\n", {}, "close",
     "missing required column"),
    ("x.csv", "open,high,low,close,volume\n1,2,1,1,5\n", {}, "ts", "missing timestamp column"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,5\n2020-01-03,1,2,1,abc,5\n",
     {}, "close", "line 3: not a number (value 'abc')"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,,5\n", {}, "close",
     "line 2: missing price (NaN)"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,NaN,5\n", {}, "close",
     "line 2: missing price (NaN)"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,-5\n", {}, "volume",
     "line 2: negative volume"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,3,5\n", {}, "high",
     "high is below max(open, close)"),
    ("x.csv", "date,open,high,low,close,volume,bid,ask\n2020-01-02,1,2,1,1,5,1.2,1.1\n", {},
     "bid", "bid is above ask"),
    ("x.csv", "date,open,high,low,close,volume,bid\n2020-01-02,1,2,1,1,5,1.2\n", {}, "ask",
     "bid without ask"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,5\n2020-01-02,1,2,1,1,5\n",
     {}, "ts", "line 3: duplicate bar"),
    ("x.csv", "date,open,high,low,close,volume\n2020-13-45,1,2,1,1,5\n", {}, "ts",
     "not an ISO 8601 timestamp"),
    ("x.csv", "ts,open,high,low,close,volume\n2020-01-02 10:00,1,2,1,1,5\n"
     "2020-01-02 10:01Z,1,2,1,1,5\n", {"timeframe": "1m"}, "ts", "mixes naive and"),
    ("x.csv", "date,Open,open,high,low,close,volume\n2020-01-02,1,1,2,1,1,5\n", {}, "open",
     "duplicate column"),
    ("x.csv", "", {}, None, "empty file"),
    ("x.csv", "date,open,high,low,close,volume\n", {}, None, "no bars"),
    ("x.xlsx", "whatever", {}, None, "unsupported file type"),
    ("x.parquet", "PAR1 this is not parquet", {}, None, "malformed Parquet"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,5\n", {"symbol": ""},
     "symbol", "invalid symbol"),
    ("x.csv", "date,symbol,open,high,low,close,volume\n2020-01-02,A,1,2,1,1,5\n",
     {"symbol": "B"}, "symbol", "symbol 'B' not in file"),
    ("x.csv", "date,symbol,open,high,low,close,volume\n2020-01-02,,1,2,1,1,5\n", {}, "symbol",
     "line 2: missing symbol"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,5\n", {"tz": "Mars/Base"},
     "tz", "unknown time zone"),
    ("x.csv", "date,open,high,low,close,volume\n2020-01-02,1,2,1,1,5\n", {"timeframe": "2d"},
     "timeframe", "unknown timeframe"),
]


@pytest.mark.parametrize(("name", "content", "kwargs", "field", "needle"), BAD_FILES)
def test_bad_files_raise_naming_file_and_field(ws: Workspace, tmp_path: Path, name: str,
                                               content: str, kwargs: dict[str, str],
                                               field: str | None, needle: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    before = tree_snapshot(ws.root)
    args = {"symbol": "X", **kwargs}
    with pytest.raises(TorghutError) as err:
        import_file(ws, path, **args)
    assert needle in err.value.message
    assert err.value.field == field
    option_error = needle in ("invalid symbol", "unknown time zone", "unknown timeframe")
    assert err.value.file == (None if option_error else str(path))
    assert tree_snapshot(ws.root) == before
    assert list(ws.datasets_dir.iterdir()) == []


def test_missing_file(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(TorghutError, match="file not found") as err:
        import_file(ws, tmp_path / "nope.csv", symbol="X")
    assert err.value.file == str(tmp_path / "nope.csv")


def test_no_symbol_anywhere(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "anon.csv"
    path.write_text(WIDE_CSV)
    with pytest.raises(TorghutError, match="pass --symbol") as err:
        import_file(ws, path)
    assert (err.value.file, err.value.field) == (str(path), "symbol")


@pytest.mark.parametrize(("name", "content", "kwargs", "field", "needle"), BAD_FILES)
def test_bad_files_via_the_real_cli(ws: Workspace, tmp_path: Path, torghut: CliRunner,
                                    name: str, content: str, kwargs: dict[str, str],
                                    field: str | None, needle: str) -> None:
    """Exit 2, exactly one stderr line naming file and field, workspace untouched."""
    path = tmp_path / name
    path.write_text(content)
    before = tree_snapshot(ws.root)
    options = [arg for key, value in {"symbol": "X", **kwargs}.items()
               for arg in (f"--{key}", value)]
    proc = torghut("-w", str(ws.root), "data", "import", str(path), *options)
    option_error = needle in ("invalid symbol", "unknown time zone", "unknown timeframe")
    assert_one_line_error(proc, needle, *([] if option_error else [str(path)]),
                          *([f": {field}: "] if field else []))
    assert tree_snapshot(ws.root) == before
    assert list(ws.datasets_dir.iterdir()) == []
