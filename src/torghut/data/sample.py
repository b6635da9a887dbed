"""Real sample data: the S&P 500 and NASDAQ Composite daily bars shipped inside ``arch``.

``arch.data.sp500`` and ``arch.data.nasdaq`` hold Yahoo! Finance daily OHLCV for the two
indices (``^GSPC`` and ``^IXIC``), 1999-01-04 to 2018-12-31, 5,031 sessions each. Inspected
facts this module relies on and the tests re-check:

* both series have exactly the XNYS sessions of that span — no gaps, no extra days;
* ``Adj Close`` equals ``Close`` on every row (price indices carry no dividend or split
  adjustment), so ``Close`` is used and ``Adj Close`` dropped;
* NASDAQ reports zero volume on 2015-05-12 and 2018-01-09. These are vendor gaps, not
  zero-activity days; they are kept as published and Gate 0 reports them as ``ZERO_VOLUME``
  warnings rather than silently patching them;
* there are no bid/ask quotes, so those columns are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import arch
import arch.data.nasdaq
import arch.data.sp500
import pandas as pd

from torghut.contracts import DatasetManifest, DatasetSource, SourceKind
from torghut.data.bars import canonical_bars
from torghut.data.snapshots import write_snapshot
from torghut.workspace import Workspace

LICENCE = "NCSA (University of Illinois/NCSA Open Source License)"
# symbol → (arch loader module, Yahoo ticker it was downloaded as)
INDICES: dict[str, tuple[ModuleType, str]] = {
    "SPX": (arch.data.sp500, "^GSPC"),
    "IXIC": (arch.data.nasdaq, "^IXIC"),
}


@dataclass(frozen=True)
class SampleSpec:
    """One sample snapshot to build."""

    name: str
    timeframe: str
    calendar: str
    source: DatasetSource


def _index_bars(symbol: str, module: ModuleType) -> pd.DataFrame:
    raw = module.load()
    return pd.DataFrame({
        "ts": pd.DatetimeIndex(raw.index).tz_localize("UTC"),  # session date, 00:00 UTC
        "symbol": symbol,
        "open": raw["Open"].to_numpy(dtype=float),
        "high": raw["High"].to_numpy(dtype=float),
        "low": raw["Low"].to_numpy(dtype=float),
        "close": raw["Close"].to_numpy(dtype=float),
        "volume": raw["Volume"].to_numpy(dtype=float),
    })


def _us_indices_spec() -> SampleSpec:
    modules = ", ".join(m.__name__ for m, _ in INDICES.values())
    tickers = ", ".join(f"{sym}={ticker}" for sym, (_, ticker) in INDICES.items())
    return SampleSpec(
        name="sample-us-indices-1d", timeframe="1d", calendar="XNYS",
        source=DatasetSource(
            kind=SourceKind.SAMPLE, provider=f"arch {arch.__version__} ({modules})",
            licence=LICENCE,
            description=("S&P 500 and NASDAQ Composite daily OHLCV, 1999-01-04 to 2018-12-31, "
                         f"as shipped with the arch package (Yahoo! Finance: {tickers}). "
                         "Close is the unadjusted index level (equal to Adj Close); two "
                         "NASDAQ days report zero volume as published."),
            parameters={"symbols": list(INDICES), "close_column": "Close",
                        "dropped_columns": ["Adj Close"]}))


def sample_frames() -> list[tuple[SampleSpec, pd.DataFrame]]:
    """Every sample snapshot's spec and canonical bars, without touching a workspace."""
    bars = pd.concat([_index_bars(sym, module) for sym, (module, _) in INDICES.items()],
                     ignore_index=True)
    spec = _us_indices_spec()
    return [(spec, canonical_bars(bars, file=spec.name))]


def build_samples(ws: Workspace) -> list[tuple[DatasetManifest, bool]]:
    """Write the sample snapshots (idempotent: a second run returns created=False)."""
    return [write_snapshot(ws, bars, name=spec.name, timeframe=spec.timeframe,
                           calendar=spec.calendar, source=spec.source)
            for spec, bars in sample_frames()]
