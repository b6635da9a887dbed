"""The canonical feature mapper: batch ≡ streaming, point in time, definitions, edge cases.

Real data: the S&P 500 and NASDAQ daily bars shipped with ``arch`` (1999–2018). Intraday
behaviour (sessions, quotes, the 5-minute VWAP) uses a seeded synthetic frame built here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import arch.data.nasdaq
import arch.data.sp500
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from torghut.contracts.features import FEATURE_FIELDS, FeatureVector, SignalQuality
from torghut.data.features import (
    FEATURE_FRAME_COLUMNS,
    StreamingFeatureBook,
    StreamingFeatureMapper,
    compute_features,
    feature_vector_from_row,
    iter_feature_vectors,
    window_bars,
)
from torghut.errors import TorghutError
from torghut.runtime.feed import Bar

_INPUTS = ("open", "high", "low", "close", "volume", "bid", "ask", "spread")


def _canonical(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """An ``arch`` OHLCV frame as canonical bars (daily, UTC midnight, no quotes)."""
    return pd.DataFrame({
        "ts": frame.index.tz_localize("UTC"), "symbol": symbol,
        "open": frame["Open"].to_numpy(), "high": frame["High"].to_numpy(),
        "low": frame["Low"].to_numpy(), "close": frame["Close"].to_numpy(),
        "volume": frame["Volume"].to_numpy(dtype=np.float64),
        "bid": np.nan, "ask": np.nan, "spread": np.nan,
    })


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return _canonical(arch.data.sp500.load(), "SPX")


@pytest.fixture(scope="module")
def ndx() -> pd.DataFrame:
    return _canonical(arch.data.nasdaq.load(), "NDX")


@pytest.fixture(scope="module")
def spx_features(spx: pd.DataFrame) -> pd.DataFrame:
    return compute_features(spx, "1d")


def intraday_bars(seed: int = 7) -> pd.DataFrame:
    """Two symbols of 1m bars every 7 minutes over 4 days across the 2024 DST change.

    AAA has bid/ask, BBB only a spread column on some rows; rows are thinned independently,
    a few bars are invalid and BBB opens one session with zero volume.
    """
    rng = np.random.default_rng(seed)
    grid = pd.date_range("2024-11-01 12:00", "2024-11-05 12:00", freq="7min", tz="UTC")
    frames = []
    for symbol, level in (("AAA", 50.0), ("BBB", 4000.0)):
        ts = grid[np.sort(rng.choice(len(grid), size=len(grid) * 4 // 5, replace=False))]
        n = len(ts)
        close = level * np.exp(np.cumsum(rng.normal(0.0, 2e-3, n)))
        high = close * (1 + np.abs(rng.normal(0.0, 1e-3, n)))
        low = close * (1 - np.abs(rng.normal(0.0, 1e-3, n)))
        volume = rng.integers(0, 500, n).astype(np.float64)
        bid = ask = spread = np.full(n, np.nan)
        if symbol == "AAA":
            bid, ask = close - 0.01, close + 0.01
        else:
            spread = np.where(rng.random(n) < 0.5, 0.25, np.nan)
            local = ts.tz_convert("America/New_York")
            opening = np.flatnonzero(local.normalize() == pd.Timestamp("2024-11-04",
                                                                       tz="America/New_York"))
            volume[opening[:3]] = 0.0  # the session starts without volume
        frames.append(pd.DataFrame({"ts": ts, "symbol": symbol, "open": close, "high": high,
                                    "low": low, "close": close, "volume": volume, "bid": bid,
                                    "ask": ask, "spread": spread}))
    bars = pd.concat(frames).sort_values(["ts", "symbol"], ignore_index=True)
    bad = rng.choice(len(bars), size=6, replace=False)
    bars.loc[bad[:2], "close"] = np.nan
    bars.loc[bad[2:4], "volume"] = -1.0
    bars.loc[bad[4], "high"] = np.inf
    bars.loc[bad[5], "low"] = 0.0
    return bars


def stream(bars: pd.DataFrame, timeframe: str, **kwargs: str) -> np.ndarray:
    """Feed each symbol's bars through its own StreamingFeatureMapper; rows in input order."""
    out = np.empty((len(bars), len(FEATURE_FIELDS)))
    mappers: dict[str, StreamingFeatureMapper] = {}
    ts_ns = pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8.tolist()
    inputs = zip(*(bars[c].tolist() for c in _INPUTS), strict=True)
    for r, (symbol, ts, row) in enumerate(zip(bars["symbol"], ts_ns, inputs, strict=True)):
        mapper = mappers.get(symbol) or mappers.setdefault(
            symbol, StreamingFeatureMapper(symbol, timeframe, source="test", **kwargs))
        out[r] = mapper.update_values(ts, *row)
    return out


def values(features: pd.DataFrame) -> np.ndarray:
    return features[list(FEATURE_FIELDS)].to_numpy()


# ------------------------------------------------------------------ batch ≡ streaming


@pytest.mark.parametrize("case", ["spx_1d", "intraday_1m", "intraday_utc_15m"])
def test_batch_equals_streaming_on_every_bar_and_field(case: str, spx: pd.DataFrame) -> None:
    bars, timeframe, kwargs = {
        "spx_1d": (spx, "1d", {}),
        "intraday_1m": (intraday_bars(), "1m", {}),
        "intraday_utc_15m": (intraday_bars(seed=11), "15m", {"session_tz": "UTC"}),
    }[case]
    batch = values(compute_features(bars, timeframe, **kwargs))
    streamed = stream(bars, timeframe, **kwargs)
    assert np.array_equal(np.isnan(batch), np.isnan(streamed))
    np.testing.assert_allclose(streamed, batch, rtol=1e-9, atol=0)
    # Both paths run one source, so they agree to the bit, not just within 1e-9.
    assert np.array_equal(batch, streamed, equal_nan=True)
    assert np.isfinite(batch).sum() > 10 * len(bars)


def test_streaming_update_builds_the_same_vectors_as_batch(spx: pd.DataFrame,
                                                           spx_features: pd.DataFrame) -> None:
    mapper = StreamingFeatureMapper("SPX", "1d", source="dataset:spx")
    head = spx.iloc[:60]
    streamed = [mapper.update(row.ts.to_pydatetime(), row.open, row.high, row.low, row.close,
                              row.volume, None, None, None) for row in head.itertuples()]
    batch = list(iter_feature_vectors(spx_features.iloc[:60], "1d", "dataset:spx"))
    assert streamed == batch
    assert mapper.quality is SignalQuality.OK
    assert [v.seq for v in streamed] == list(range(60))


def test_streaming_vectors_equal_batch_ones_with_quotes_gaps_and_bad_bars() -> None:
    """update() turns exactly the NaN fields into None (the kernel's NaN mask) and shares
    event_ts conversions across symbols: every pattern of warm-up, quotes and missing bars
    must give the batch path's vectors."""
    bars = intraday_bars()
    batch = iter_feature_vectors(compute_features(bars, "1m"), "1m", "test")
    mappers = {s: StreamingFeatureMapper(s, "1m", source="test") for s in ("AAA", "BBB")}
    ts_ns = pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8.tolist()
    inputs = zip(*(bars[c].tolist() for c in _INPUTS), strict=True)
    patterns = set()
    for symbol, ts, row, expected in zip(bars["symbol"], ts_ns, inputs, batch, strict=True):
        got = mappers[symbol].update(ts, *row)
        assert got == expected
        assert list(got.model_dump()) == list(expected.model_dump())
        assert got.model_fields_set == expected.model_fields_set
        patterns.add(tuple(getattr(got, name) is None for name in FEATURE_FIELDS))
    assert len(patterns) > 10


# ------------------------------------------------------------------ book ≡ mappers


def _steps(bars: pd.DataFrame) -> list[tuple[int, list[Bar]]]:
    """Bars grouped by timestamp, in order: the runtime's steps."""
    ts_ns = pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8.tolist()
    rows = zip(bars["symbol"], ts_ns, *(bars[c].tolist() for c in _INPUTS), strict=True)
    steps: dict[int, list[Bar]] = {}
    for symbol, ts, *row in rows:
        steps.setdefault(ts, []).append(Bar(symbol, ts, *row))
    return sorted(steps.items())


def _assert_book_equals_mappers(steps: list[tuple[int, list[Bar]]], timeframe: str,
                                **kwargs: str) -> int:
    """Feed the steps to one book and to one mapper per symbol: identical vectors, to the
    bit (repr tells -0.0 from 0.0), in the same field order with the same fields set.
    Returns how many None patterns occurred."""
    symbols = sorted({bar.symbol for _, step in steps for bar in step})
    book = StreamingFeatureBook(symbols, timeframe, source="test", **kwargs)
    mappers = {s: StreamingFeatureMapper(s, timeframe, source="test", **kwargs)
               for s in symbols}
    patterns = set()
    for ts, step in steps:
        got = book.update_step(ts, step)
        expected = [mappers[b.symbol].update(ts, b.open, b.high, b.low, b.close, b.volume,
                                             b.bid, b.ask, b.spread) for b in step]
        assert [v.symbol for v in got] == [b.symbol for b in step]
        for g, e in zip(got, expected, strict=True):
            assert repr(g.model_dump()) == repr(e.model_dump())
            assert g == e
            assert g.model_fields_set == e.model_fields_set
            patterns.add(tuple(getattr(g, name) is None for name in FEATURE_FIELDS))
    return len(patterns)


@pytest.mark.parametrize("case", ["spx_ndx_1d", "intraday_1m", "intraday_utc_15m"])
def test_book_equals_one_mapper_per_symbol(case: str, spx: pd.DataFrame,
                                           ndx: pd.DataFrame) -> None:
    """Symbols missing from steps, invalid bars, quotes and spread columns, DST, sessions."""
    bars, timeframe, kwargs = {
        "spx_ndx_1d": (pd.concat([spx.iloc[:600], ndx.iloc[100:700]]), "1d", {}),
        "intraday_1m": (intraday_bars(), "1m", {}),
        "intraday_utc_15m": (intraday_bars(seed=11), "15m", {"session_tz": "UTC"}),
    }[case]
    assert _assert_book_equals_mappers(_steps(bars), timeframe, **kwargs) > 5


_PRICE = st.one_of(st.floats(90.0, 110.0), st.sampled_from([math.nan, math.inf, 0.0, -1.0]))
_QUOTE = st.one_of(st.just(math.nan), st.floats(-1.0, 1.0), st.just(math.inf))


@st.composite
def _random_steps(draw: st.DrawFn) -> tuple[str, list[tuple[int, list[Bar]]]]:
    """Up to 60 steps over 1-4 symbols, each step a random subset in random order, some
    bars invalid, some with quotes, timestamps spread over several sessions."""
    timeframe = draw(st.sampled_from(["1m", "5m", "1d"]))
    symbols = [f"S{i}" for i in range(draw(st.integers(1, 4)))]
    ts = 1_700_000_000 * 10**9
    steps = []
    for _ in range(draw(st.integers(1, 60))):
        ts += draw(st.sampled_from([60, 300, 3_600, 86_400])) * 10**9
        present = draw(st.lists(st.sampled_from(symbols), unique=True))
        step = []
        for symbol in present:
            close = draw(_PRICE)
            high, low = (close * 1.001, close * 0.999) if draw(st.booleans()) else (
                draw(_PRICE), draw(_PRICE))
            volume = draw(st.sampled_from([0.0, 1.0, 500.0, -1.0, math.nan]))
            step.append(Bar(symbol, ts, close, high, low, close, volume, draw(_QUOTE),
                            draw(_QUOTE), draw(_QUOTE)))
        steps.append((ts, step))
    return timeframe, steps


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_steps())
def test_book_equals_mappers_on_random_steps(case: tuple[str, list[tuple[int, list[Bar]]]]
                                             ) -> None:
    timeframe, steps = case
    _assert_book_equals_mappers(steps, timeframe)


def test_book_accepts_datetimes_none_and_ints_like_the_mapper() -> None:
    book = StreamingFeatureBook(["A"], "1m", source="test")
    mapper = StreamingFeatureMapper("A", "1m", source="test")
    for i in range(40):
        ts = datetime(2024, 3, 4, 15, 0) + timedelta(minutes=i)
        bar = Bar("A", 0, 100, 101 + i % 3, 99, 100 + i % 5, 10, None, None,  # type: ignore[arg-type]
                  0.5 if i % 2 else None)  # type: ignore[arg-type]
        got, = book.update_step(ts, [bar])
        assert got == mapper.update(ts, *(getattr(bar, c) for c in _INPUTS))
    assert book.update_step(ts + timedelta(minutes=1), []) == []


def test_book_rejects_a_bad_step_without_advancing() -> None:
    bars = intraday_bars()
    steps = _steps(bars)
    book = StreamingFeatureBook(["AAA", "BBB"], "1m", source="test")
    twin = StreamingFeatureBook(["AAA", "BBB"], "1m", source="test")
    for ts, step in steps[:40]:
        book.update_step(ts, step)
        twin.update_step(ts, step)
    ts, step = steps[40]
    with pytest.raises(TorghutError, match="does not increase") as info:
        book.update_step(ts, [*step, step[0]])  # a symbol twice in one step
    assert info.value.field == "ts"
    with pytest.raises(TorghutError, match=f"timestamp {steps[39][0]} does not increase"):
        book.update_step(steps[39][0], step)
    _raises("symbol", book.update_step, ts, [Bar("ZZZ", ts, 1.0, 1.0, 1.0, 1.0, 1.0)])
    _raises("close", book.update_step, ts, [Bar("AAA", ts, 1.0, 1.0, 1.0, "x", 1.0)])  # type: ignore[arg-type]
    # Nothing advanced: the book still agrees with its twin on every later step.
    for ts, step in steps[40:]:
        assert book.update_step(ts, step) == twin.update_step(ts, step)


def test_bad_book_construction_names_the_field() -> None:
    _raises("symbol", StreamingFeatureBook, ["A", ""], "1m", source="s")
    _raises("symbols", StreamingFeatureBook, ["A", "A"], "1m", source="s")
    _raises("source", StreamingFeatureBook, ["A"], "1m", source="")
    _raises("timeframe", StreamingFeatureBook, ["A"], "7m", source="s")
    _raises("session_tz", StreamingFeatureBook, ["A"], "1m", source="s", session_tz="Nowhere")


# ------------------------------------------------------------------ point in time


@pytest.mark.parametrize("timeframe", ["1d", "1m"])
def test_altering_later_bars_never_changes_earlier_features(timeframe: str,
                                                           spx: pd.DataFrame) -> None:
    bars = spx.iloc[:1500] if timeframe == "1d" else intraday_bars()
    base = compute_features(bars, timeframe)
    rng = np.random.default_rng(2024)
    for _ in range(12):
        t = int(rng.integers(0, len(bars) - 1))
        later = bars.index[t + 1:]
        altered = bars.copy()
        for column in ("high", "low", "close", "volume", "bid", "ask", "spread"):
            factor = rng.uniform(0.5, 1.5, len(later))
            altered.loc[later, column] = altered.loc[later, column].to_numpy() * factor
        altered.loc[rng.choice(later, size=min(3, len(later))), "close"] = np.nan
        changed = compute_features(altered, timeframe)
        truncated = compute_features(bars.iloc[:t + 1], timeframe)
        for other in (changed.iloc[:t + 1], truncated):
            pd.testing.assert_frame_equal(other, base.iloc[:t + 1], check_exact=True)
        assert not np.array_equal(values(changed), values(base), equal_nan=True)


# ------------------------------------------------------------------ definitions


def _wilder(x: pd.Series, n: int = 14) -> pd.Series:
    """Wilder smoothing seeded with the simple mean of x[1..n] (x[0] is the NaN diff)."""
    seeded = x.copy()
    seeded.iloc[n] = x.iloc[1:n + 1].mean()
    return seeded.iloc[n:].ewm(alpha=1 / n, adjust=False).mean().reindex(x.index)


def pandas_reference(close: pd.Series) -> dict[str, pd.Series]:
    """Independent pandas definitions (ewm, rolling) of the close-only features."""
    pos = pd.Series(np.arange(len(close)), index=close.index)
    ema12 = close.ewm(span=12, adjust=False).mean()
    ema26 = close.ewm(span=26, adjust=False).mean()
    macd = (ema12 - ema26).where(pos >= 25)
    signal = macd.iloc[25:].ewm(span=9, adjust=False).mean().reindex(close.index)
    signal = signal.where(pos >= 33)
    change = close.diff()
    gain, loss = _wilder(change.clip(lower=0)), _wilder((-change).clip(lower=0))
    mid, std = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    ref = {"ema12": ema12.where(pos >= 11), "ema26": ema26.where(pos >= 25), "macd": macd,
           "macd_signal": signal, "macd_hist": macd - signal,
           "rsi14": 100 - 100 / (1 + gain / loss),
           "boll_mid": mid, "boll_upper": mid + 2 * std, "boll_lower": mid - 2 * std,
           "vol_realized_20": np.log(close / close.shift(1)).rolling(20).std(ddof=1)}
    for n in (1, 5, 20):
        ref[f"ret_{n}"] = close / close.shift(n) - 1
    return ref


@pytest.mark.parametrize("symbol", ["SPX", "NDX"])
def test_matches_independent_pandas_reference(symbol: str, spx: pd.DataFrame,
                                              ndx: pd.DataFrame) -> None:
    bars = spx if symbol == "SPX" else ndx
    ours = compute_features(bars, "1d")
    for name, expected in pandas_reference(bars["close"]).items():
        got = ours[name].to_numpy()
        assert np.array_equal(np.isnan(got), expected.isna().to_numpy()), name
        np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-8, atol=1e-9,
                                   err_msg=name)
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3
    for name in ("vwap_session", "vwap_w5m"):  # 1d: each bar is its own session and window
        np.testing.assert_allclose(ours[name], typical, rtol=1e-14, err_msg=name)
    np.testing.assert_array_equal(ours["price"], bars["close"])
    np.testing.assert_array_equal(ours["volume"], bars["volume"])


def test_rolling_moments_stay_exact_on_a_long_low_variance_series() -> None:
    """Sliding updates with periodic exact recomputation must not drift (level 1e4, sd 1e-3)."""
    rng = np.random.default_rng(5)
    close = 1e4 + np.cumsum(rng.normal(0.0, 1e-3, 200_000))
    close[50_000:50_100] = close[50_000]  # a flat stretch: the std must return to exactly 0
    bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=len(close), freq="1min",
                                             tz="UTC"),
                         "symbol": "X", "open": close, "high": close, "low": close,
                         "close": close, "volume": 1.0})
    ours = compute_features(bars, "1m")
    window = sliding_window_view(close, 20)
    np.testing.assert_allclose(ours["boll_mid"].to_numpy()[19:], window.mean(axis=1),
                               rtol=1e-14)
    width = (ours["boll_upper"] - ours["boll_mid"]).to_numpy()[19:] / 2
    std = window.std(axis=1)
    np.testing.assert_allclose(width, std, rtol=0, atol=1e-11)
    assert np.all(width[50_000 - 19 + 20:50_000 - 19 + 100] == 0.0)
    log_ret = np.log(close[1:] / close[:-1])
    vol = sliding_window_view(log_ret, 20).std(axis=1, ddof=1)
    got = ours["vol_realized_20"].to_numpy()[20:]
    moving = vol > 0
    np.testing.assert_allclose(got[moving], vol[moving], rtol=1e-8)
    assert np.all(got[~moving] == 0.0)


def test_rsi_limits_when_there_are_no_losses() -> None:
    rising = np.arange(1.0, 31.0)
    flat = np.full(30, 7.0)
    for close, expected in ((rising, 100.0), (flat, 50.0)):
        bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC"),
                             "symbol": "X", "open": close, "high": close, "low": close,
                             "close": close, "volume": 10.0})
        rsi = compute_features(bars, "1d")["rsi14"]
        assert rsi.iloc[:14].isna().all()
        assert (rsi.iloc[14:] == expected).all()


FIRST_WARM_1D = {
    "price": 0, "volume": 0, "ema12": 11, "ema26": 25, "macd": 25, "macd_signal": 33,
    "macd_hist": 33, "vwap_session": 0, "vwap_w5m": 0, "rsi14": 14, "boll_mid": 19,
    "boll_upper": 19, "boll_lower": 19, "vol_realized_w60s": None, "vol_realized_20": 20,
    "ret_1": 1, "ret_5": 5, "ret_20": 20, "imbalance_spread": None, "spread": None,
}


def _first_warm(series: pd.Series) -> int | None:
    valid = np.flatnonzero(series.notna().to_numpy())
    if len(valid) and not series.iloc[valid[0]:].notna().all():
        raise AssertionError(f"{series.name} goes cold again after warming up")
    return int(valid[0]) if len(valid) else None


def test_warmup_boundaries(spx_features: pd.DataFrame) -> None:
    assert {f: _first_warm(spx_features[f]) for f in FEATURE_FIELDS} == FIRST_WARM_1D
    quality = spx_features["signal_quality"].astype(str)
    assert (quality.iloc[:33] == "warmup").all()
    assert (quality.iloc[33:] == "ok").all()
    assert spx_features["seq"].tolist() == list(range(len(spx_features)))


def test_window_bars_follow_the_timeframe() -> None:
    assert [window_bars(300, tf) for tf in ("1m", "5m", "15m", "1h", "1d")] == [5, 1, 1, 1, 1]
    assert [window_bars(60, tf) for tf in ("1m", "1d")] == [1, 1]
    close = np.linspace(10.0, 20.0, 40)
    bars = pd.DataFrame({"ts": pd.date_range("2024-01-02 15:00", periods=40, freq="1min",
                                             tz="UTC"),
                         "symbol": "X", "open": close, "high": close, "low": close,
                         "close": close, "volume": np.arange(1.0, 41.0)})
    ours = compute_features(bars, "1m")
    assert _first_warm(ours["vwap_w5m"]) == 4
    pv = (close * bars["volume"]).rolling(5).sum() / bars["volume"].rolling(5).sum()
    np.testing.assert_allclose(ours["vwap_w5m"], pv, rtol=1e-14)
    assert ours["vol_realized_w60s"].isna().all()


# ------------------------------------------------------------------ sessions, quotes, symbols


def _valid(bars: pd.DataFrame) -> pd.Series:
    prices = bars[["high", "low", "close"]]
    return ((prices > 0) & np.isfinite(prices)).all(axis=1) & (bars["volume"] >= 0)


@pytest.mark.parametrize("session_tz", ["America/New_York", "UTC", "Asia/Tokyo"])
def test_session_vwap_resets_at_local_midnight(session_tz: str) -> None:
    bars = intraday_bars()
    ours = compute_features(bars, "1m", session_tz=session_tz)
    ok = bars[_valid(bars)]
    typical = (ok["high"] + ok["low"] + ok["close"]) / 3
    session = [ok["symbol"], ok["ts"].dt.tz_convert(session_tz).dt.date]
    cum_pv = (typical * ok["volume"]).groupby(session).cumsum()
    cum_v = ok["volume"].groupby(session).cumsum()
    expected = (cum_pv / cum_v).where(cum_v > 0, typical)
    np.testing.assert_allclose(ours.loc[ok.index, "vwap_session"], expected, rtol=1e-13)
    assert ours.loc[~_valid(bars), "vwap_session"].isna().all()
    if session_tz == "America/New_York":  # BBB opens Nov 4 with three zero-volume bars
        zero_start = ok[(ok["symbol"] == "BBB") & (cum_v == 0)].index
        assert len(zero_start) == 3
        np.testing.assert_array_equal(ours.loc[zero_start, "vwap_session"],
                                      typical[zero_start])


def test_session_boundaries_depend_on_the_time_zone() -> None:
    bars = intraday_bars()
    new_york = compute_features(bars, "1m")["vwap_session"]
    utc = compute_features(bars, "1m", session_tz="UTC")["vwap_session"]
    assert not np.allclose(new_york, utc, equal_nan=True)


def test_spread_prefers_bid_ask_then_the_spread_column() -> None:
    bars = intraday_bars()
    ours = compute_features(bars, "1m")
    ok = _valid(bars)
    aaa, bbb = ok & (bars["symbol"] == "AAA"), ok & (bars["symbol"] == "BBB")
    np.testing.assert_array_equal(ours.loc[aaa, "spread"], bars.loc[aaa, "ask"]
                                  - bars.loc[aaa, "bid"])
    np.testing.assert_array_equal(ours.loc[bbb, "spread"], bars.loc[bbb, "spread"])
    assert ours["imbalance_spread"].isna().all()
    no_quotes = compute_features(bars.drop(columns=["bid", "ask", "spread"]), "1m")
    assert no_quotes["spread"].isna().all()
    pd.testing.assert_frame_equal(no_quotes.drop(columns="spread"),
                                  ours.drop(columns="spread"))


def test_multi_symbol_frame_equals_each_symbol_alone(spx: pd.DataFrame,
                                                     ndx: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    thin_spx = spx.drop(index=rng.choice(len(spx), 300, replace=False))
    thin_ndx = ndx.drop(index=rng.choice(len(ndx), 300, replace=False))
    both = pd.concat([thin_spx, thin_ndx]).sort_values(["ts", "symbol"], ignore_index=True)
    together = compute_features(both, "1d")
    assert together["ts"].equals(both["ts"]) and together["symbol"].equals(both["symbol"])
    for alone in (thin_spx, thin_ndx):
        symbol = alone["symbol"].iloc[0]
        part = together[together["symbol"] == symbol].reset_index(drop=True)
        expected = compute_features(alone.reset_index(drop=True), "1d")
        pd.testing.assert_frame_equal(part, expected, check_exact=True,
                                      check_categorical=False)


# ------------------------------------------------------------------ missing bars


def test_missing_bars_are_flagged_and_do_not_advance_state(spx: pd.DataFrame) -> None:
    bars = spx.iloc[:400].copy()
    bad = [0, 5, 40, 41, 200, 399]
    bars.loc[[0, 40], "close"] = np.nan
    bars.loc[5, "volume"] = -1.0
    bars.loc[41, "low"] = -3.0
    bars.loc[200, "high"] = np.inf
    bars.loc[399, "close"] = 0.0
    ours = compute_features(bars, "1d")
    assert ours.loc[bad, list(FEATURE_FIELDS)].isna().all().all()
    assert (ours.loc[bad, "signal_quality"] == "missing").all()
    assert ours["seq"].tolist() == list(range(400))
    kept = ours.drop(index=bad)
    without = compute_features(bars.drop(index=bad), "1d")
    pd.testing.assert_frame_equal(kept.drop(columns="seq"), without.drop(columns="seq"),
                                  check_exact=True, check_categorical=False)
    streamed = stream(bars, "1d")
    assert np.array_equal(streamed, values(ours), equal_nan=True)

    mapper = StreamingFeatureMapper("SPX", "1d", source="test")
    vector = mapper.update(bars["ts"].iloc[0], 1.0, 1.0, 1.0, None, 5.0)
    assert vector.signal_quality_flag is SignalQuality.MISSING
    assert all(getattr(vector, f) is None for f in FEATURE_FIELDS)
    assert mapper.update(bars["ts"].iloc[1], 1, 2, 1, 2, 5).seq == 1


# ------------------------------------------------------------------ FeatureVector round trip


def test_feature_vector_round_trip(spx_features: pd.DataFrame) -> None:
    vectors = list(iter_feature_vectors(spx_features, "1d", "dataset:spx"))
    assert len(vectors) == len(spx_features)
    first, warm = vectors[0], vectors[40]
    assert first.ema12 is None and first.macd_signal is None and first.price is not None
    assert first.signal_quality_flag is SignalQuality.WARMUP
    assert warm.signal_quality_flag is SignalQuality.OK and warm.spread is None
    assert warm.event_ts == datetime(1999, 3, 3, tzinfo=warm.event_ts.tzinfo)
    assert warm.event_ts.utcoffset() == timedelta(0)
    row = spx_features.iloc[40]
    for name in FEATURE_FIELDS:
        value = getattr(warm, name)
        assert (value is None) == bool(np.isnan(row[name])), name
        assert value is None or value == row[name], name
    assert FeatureVector.model_validate_json(warm.model_dump_json()) == warm
    back = {"ts": pd.Timestamp(warm.event_ts), "symbol": warm.symbol, "seq": warm.seq,
            "signal_quality": warm.signal_quality_flag.value,
            **{f: math.nan if getattr(warm, f) is None else getattr(warm, f)
               for f in FEATURE_FIELDS}}
    assert feature_vector_from_row(back, timeframe="1d", source="dataset:spx") == warm
    assert tuple(spx_features.columns) == FEATURE_FRAME_COLUMNS


def test_empty_frame_gives_empty_features(spx: pd.DataFrame) -> None:
    ours = compute_features(spx.iloc[:0], "1d")
    assert tuple(ours.columns) == FEATURE_FRAME_COLUMNS and len(ours) == 0


# ------------------------------------------------------------------ bad input


def _raises(field: str, fn, *args, **kwargs) -> TorghutError:  # type: ignore[no-untyped-def]
    with pytest.raises(TorghutError) as info:
        fn(*args, **kwargs)
    assert info.value.field == field and field in str(info.value)
    return info.value


def test_bad_batch_input_names_the_field(spx: pd.DataFrame) -> None:
    bars = spx.iloc[:50]
    _raises("bars.close", compute_features, bars.drop(columns="close"), "1d")
    _raises("timeframe", compute_features, bars, "2h")
    _raises("session_tz", compute_features, bars, "1m", session_tz="Mars/Olympus")
    _raises("bars.ts", compute_features, bars.assign(ts=bars["ts"].astype(str)), "1d")
    _raises("bars.volume", compute_features, bars.assign(volume="lots"), "1d")
    nat = bars.copy()
    nat.loc[3, "ts"] = pd.NaT
    _raises("bars.ts", compute_features, nat, "1d")
    nulls = bars.assign(symbol=bars["symbol"].where(bars.index != 7, None))
    _raises("bars.symbol", compute_features, nulls, "1d")
    dup = pd.concat([bars.iloc[:10], bars.iloc[9:10]], ignore_index=True)
    err = _raises("bars.ts", compute_features, dup, "1d")
    assert "row 10" in str(err) and "SPX" in str(err)


def test_bad_streaming_input_names_the_field() -> None:
    _raises("timeframe", StreamingFeatureMapper, "X", "7m", source="s")
    _raises("source", StreamingFeatureMapper, "X", "1m", source="")
    _raises("session_tz", StreamingFeatureMapper, "X", "1m", source="s", session_tz="Nowhere")
    mapper = StreamingFeatureMapper("X", "1m", source="s")
    mapper.update(pd.Timestamp("2024-01-02 15:00", tz="UTC"), 1, 1, 1, 1, 1)
    _raises("ts", mapper.update, pd.Timestamp("2024-01-02 15:00", tz="UTC"), 1, 1, 1, 1, 1)
    _raises("ts", mapper.update, "not a time", 1, 1, 1, 1, 1)
    _raises("close", mapper.update, pd.Timestamp("2024-01-02 15:01", tz="UTC"), 1, 1, 1, "x", 1)
    _raises("features.rsi14", feature_vector_from_row, {c: 0 for c in FEATURE_FRAME_COLUMNS
                                                        if c != "rsi14"},
            timeframe="1d", source="s")
    _raises("features.signal_quality", next, iter_feature_vectors(
        pd.DataFrame([{**dict.fromkeys(FEATURE_FRAME_COLUMNS, 1.0),
                       "ts": pd.Timestamp("2024-01-02", tz="UTC"), "symbol": "X", "seq": 0,
                       "signal_quality": "great"}]), "1d", "s"))
