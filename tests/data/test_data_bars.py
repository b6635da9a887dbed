"""The canonical bar frame: validation messages and the content hash behind dataset ids."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut.contracts import BAR_COLUMNS
from torghut.data.bars import canonical_bars, content_id, symbol_summary
from torghut.errors import TorghutError

BarsFactory = Callable[..., pd.DataFrame]


def test_canonical_form_has_fixed_columns_types_and_order(make_bars: BarsFactory) -> None:
    raw = make_bars()[["volume", "close", "symbol", "ts", "low", "high", "open"]]
    shuffled = raw.sample(frac=1.0, random_state=3)
    bars = canonical_bars(shuffled)
    assert tuple(bars.columns) == BAR_COLUMNS
    assert str(bars["ts"].dtype) == "datetime64[ns, UTC]"
    assert all(bars[c].dtype == np.float64 for c in BAR_COLUMNS[2:])
    keys = list(zip(bars["ts"], bars["symbol"], strict=True))
    assert keys == sorted(keys)
    assert bars[["bid", "ask", "spread"]].isna().all().all()  # absent quotes become NaN


def test_spread_is_derived_from_bid_and_ask(make_bars: BarsFactory) -> None:
    bars = make_bars().drop(columns=["spread"])
    out = canonical_bars(bars)
    assert np.allclose(out["spread"], out["ask"] - out["bid"])


@pytest.mark.parametrize(("column", "value", "needle"), [
    ("close", np.nan, "missing price"),
    ("open", -1.0, "price must be positive"),
    ("low", np.inf, "non-finite price"),
    ("volume", -5.0, "negative volume"),
    ("volume", np.nan, "missing volume"),
    ("high", 50.0, "high is below max(open, close)"),
    ("low", 500.0, "low is above min(open, close)"),
    ("bid", 1e6, "bid is above ask"),
    ("spread", 7.0, "spread differs from ask - bid"),
    ("ask", 0.0, "quote must be positive"),
])
def test_each_bad_value_names_column_and_row(make_bars: BarsFactory, column: str,
                                             value: float, needle: str) -> None:
    bars = make_bars()
    bars.loc[5, column] = value
    with pytest.raises(TorghutError) as err:
        canonical_bars(bars, file="prices.csv", lines=list(range(2, len(bars) + 2)))
    assert err.value.file == "prices.csv"
    assert err.value.field == column
    assert "line 7" in str(err.value) and needle in str(err.value)


def test_duplicate_key_is_rejected_naming_both_rows(make_bars: BarsFactory) -> None:
    bars = make_bars()
    bars = pd.concat([bars, bars.iloc[[3]]], ignore_index=True)
    with pytest.raises(TorghutError, match=r"row 43: duplicate bar .* first seen at row 4"):
        canonical_bars(bars)


@pytest.mark.parametrize(("mutate", "field", "needle"), [
    (lambda b: b.drop(columns=["volume"]), "volume", "missing required column"),
    (lambda b: b.assign(ts=b["ts"].dt.tz_localize(None)), "ts", "timezone-aware"),
    (lambda b: b.assign(close=b["close"].astype(str)), "close", "must be numeric"),
    (lambda b: b.assign(symbol=" AAA"), "symbol", "surrounding spaces"),
    (lambda b: b.assign(symbol=1), "symbol", "must be a string"),
    (lambda b: b.iloc[:0], None, "no bars"),
])
def test_schema_problems_are_named(make_bars: BarsFactory, mutate, field: str | None,
                                   needle: str) -> None:
    with pytest.raises(TorghutError) as err:
        canonical_bars(mutate(make_bars()))
    assert err.value.field == field
    assert needle in str(err.value)


def test_content_id_depends_on_content_and_timeframe_only(make_bars: BarsFactory) -> None:
    bars = canonical_bars(make_bars())
    base = content_id(bars, "1d")
    assert len(base) == 64
    assert content_id(canonical_bars(bars.iloc[::-1]), "1d") == base
    assert content_id(bars, "1h") != base
    nudged = bars.copy()
    nudged.loc[10, "close"] = np.nextafter(nudged.loc[10, "close"], np.inf)
    assert content_id(nudged, "1d") != base
    renamed = bars.assign(symbol=bars["symbol"].replace({"BBB": "BBC"}))
    assert content_id(renamed, "1d") != base


def test_content_id_canonicalises_nan_payloads_and_negative_zero(
        make_bars: BarsFactory) -> None:
    bars = canonical_bars(make_bars(quotes=False)).assign(volume=0.0)
    weird_nan = np.frombuffer(np.uint64(0x7FF8_0000_0000_0ABC).tobytes(), dtype=np.float64)[0]
    assert np.isnan(weird_nan)
    other = bars.assign(bid=weird_nan, volume=-0.0)
    assert content_id(other, "1d") == content_id(bars, "1d")


def test_symbol_lengths_are_framed() -> None:
    # ("AB", "C") and ("A", "BC") must not serialise alike.
    ts = pd.DatetimeIndex(["2020-01-02"], tz="UTC")
    def frame(a: str, b: str) -> pd.DataFrame:
        return canonical_bars(pd.DataFrame({
            "ts": ts.repeat(2), "symbol": [a, b], "open": 1.0, "high": 1.0, "low": 1.0,
            "close": 1.0, "volume": 1.0}))
    assert content_id(frame("AB", "C"), "1d") != content_id(frame("A", "BC"), "1d")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_content_id_is_invariant_to_input_row_order(make_bars: BarsFactory, seed: int) -> None:
    bars = make_bars(symbols=("X", "Y", "Z"), end="2020-02-28")
    shuffled = bars.sample(frac=1.0, random_state=seed)
    assert content_id(canonical_bars(shuffled), "1d") == content_id(canonical_bars(bars), "1d")


def test_symbol_summary(make_bars: BarsFactory) -> None:
    summary = symbol_summary(canonical_bars(make_bars()))
    assert [s["symbol"] for s in summary] == ["AAA", "BBB"]
    assert summary[0]["rows"] == 21  # January 2020 had 21 NYSE sessions
    assert summary[0]["first"] == "2020-01-02T00:00:00+00:00"
    assert summary[0]["last"] == "2020-01-31T00:00:00+00:00"
