"""The real sample (arch's S&P 500 and NASDAQ daily bars): facts, provenance, Gate 0."""

from __future__ import annotations

import arch
import arch.data.nasdaq
import arch.data.sp500
import numpy as np
import pandas as pd
import pytest

from tests.support import tree_snapshot
from torghut.contracts import FindingSeverity
from torghut.data.calendars import expected_index
from torghut.data.quality import assess, check_snapshot
from torghut.data.sample import SampleSpec, build_samples, sample_frames
from torghut.data.snapshots import load_snapshot
from torghut.workspace import Workspace


@pytest.fixture(scope="module")
def sample() -> tuple[SampleSpec, pd.DataFrame]:
    [(spec, bars)] = sample_frames()
    return spec, bars


def test_sample_is_both_indices_on_every_xnys_session(sample) -> None:
    spec, bars = sample
    assert (spec.name, spec.timeframe, spec.calendar) == ("sample-us-indices-1d", "1d", "XNYS")
    assert sorted(bars["symbol"].unique()) == ["IXIC", "SPX"]
    sessions = expected_index("XNYS", "1d", "1999-01-04", "2018-12-31")
    for _, group in bars.groupby("symbol"):
        assert group["ts"].reset_index(drop=True).equals(pd.Series(sessions, name="ts"))
    assert len(bars) == 2 * 5031


def test_sample_prices_match_arch_and_adj_close_is_close(sample) -> None:
    _, bars = sample
    for symbol, module in (("SPX", arch.data.sp500), ("IXIC", arch.data.nasdaq)):
        raw = module.load()
        ours = bars[bars["symbol"] == symbol]
        assert np.array_equal(ours["close"].to_numpy(), raw["Close"].to_numpy())
        assert np.array_equal(ours["volume"].to_numpy(), raw["Volume"].to_numpy(dtype=float))
        # The reason Adj Close may be dropped: price indices carry no adjustment.
        assert np.array_equal(raw["Close"].to_numpy(), raw["Adj Close"].to_numpy())


def test_zero_volume_days_are_kept_and_reported(sample) -> None:
    _, bars = sample
    zero = bars[bars["volume"] == 0]
    assert list(zip(zero["symbol"], zero["ts"].dt.strftime("%Y-%m-%d"), strict=True)) == [
        ("IXIC", "2015-05-12"), ("IXIC", "2018-01-09")]
    report = assess(bars, dataset_id="0" * 64, timeframe="1d", calendar="XNYS")
    assert report.passed
    assert [(f.code, f.severity, f.symbol) for f in report.findings] == [
        ("ZERO_VOLUME", FindingSeverity.WARN, "IXIC")]
    assert report.metrics["gap_ratio"] == 0 and report.metrics["off_calendar_bars"] == 0


def test_provenance(sample) -> None:
    spec, _ = sample
    assert spec.source.kind == "sample"
    assert spec.source.provider is not None and spec.source.provider.startswith(
        f"arch {arch.__version__} (arch.data.sp500")
    assert spec.source.licence == "NCSA (University of Illinois/NCSA Open Source License)"
    assert "zero volume" in spec.source.description


def test_build_samples_is_idempotent_and_passes_gate0(ws: Workspace) -> None:
    [(manifest, created)] = build_samples(ws)
    before = tree_snapshot(ws.root)
    [(again, created_again)] = build_samples(ws)
    assert created and not created_again and again.dataset_id == manifest.dataset_id
    assert tree_snapshot(ws.root) == before
    report = check_snapshot(load_snapshot(ws, "sample-us-indices-1d"))
    assert report.passed and report.dataset_id == manifest.dataset_id
    assert report.universe == ("IXIC", "SPX")
