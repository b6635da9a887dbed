"""Helpers for the strategy tests: user plugin sources on disk, synthetic data, vectors.

User plugins are real files: a module, optionally with a ``*.dist-info`` folder declaring a
``torghut.strategies`` entry point, so discovery goes through importlib.metadata exactly as
for an installed distribution.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from torghut.contracts import FeatureVector
from torghut.data.features import compute_features
from torghut.strategies.runner import FeatureSet

# A small but complete user plugin; {stype}/{version}/{prelude}/{extra} are filled in.
PLUGIN_SOURCE = '''\
"""A user plugin: long when EMA(12) is above EMA(26), short below."""
from __future__ import annotations
{prelude}
from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field

from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel


class TrendParams(StrategyParams):
    scale: float = Field(default=1.0, gt=0, le=1)


@kernel
def trend_rule(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    if x[0] > x[1]:
        return p[0]
    if x[0] < x[1]:
        return -p[0]
    return 0.0


class EmaTrend(RuleStrategy[TrendParams]):
    strategy_type: ClassVar[str] = "{stype}"
    version: ClassVar[str] = "{version}"
    Params = TrendParams
    features = ("ema12", "ema26")
    rule = staticmethod(trend_rule)

    def kernel_params(self, params: TrendParams) -> tuple[float, ...]:
        return (params.scale,)

    def initial_state(self, params: TrendParams) -> list[float]:
        return []

    def warmup_bars(self, params: TrendParams) -> int:
        return 3
{extra}'''

# Breaks parity: batch says flat while streaming follows the trend.
LYING_BATCH = '''

class LyingBatch(EmaTrend):
    def signals(self, frame, params):
        import numpy as np

        return np.zeros(len(frame))
'''

module_names = (f"user_plugin_{i}" for i in itertools.count())


def plugin_source(stype: str = "ema_trend", version: str = "1.0.0", *, prelude: str = "",
                  extra: str = "") -> str:
    return PLUGIN_SOURCE.format(stype=stype, version=version, prelude=prelude, extra=extra)


def write_distribution(site: Path, module: str, source: str,
                       entry_points: dict[str, str]) -> None:
    """An installed-looking distribution: module + dist-info with entry_points.txt."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n",
                                   encoding="utf-8")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[torghut.strategies]\n{lines}", encoding="utf-8")


def synthetic_bars(n: int, *, seed: int, symbols: tuple[str, ...] = ("AAA",),
                   timeframe_minutes: int = 1) -> pd.DataFrame:
    """Seeded random-walk bars, sorted by (ts, symbol)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2021-03-01", periods=n, freq=f"{timeframe_minutes}min", tz="UTC")
    parts = []
    for sym in symbols:
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
        spread = np.abs(rng.normal(0.0, 0.002, n))
        parts.append(pd.DataFrame({"ts": ts, "symbol": sym, "open": close,
                                   "high": close * (1 + spread), "low": close * (1 - spread),
                                   "close": close, "volume": rng.integers(1, 1000, n) * 1.0}))
    bars = pd.concat(parts, ignore_index=True)
    return bars.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)


def synthetic_set(n: int, *, seed: int, symbols: tuple[str, ...] = ("AAA",)) -> FeatureSet:
    frame = compute_features(synthetic_bars(n, seed=seed, symbols=symbols), "1m",
                             session_tz="UTC")
    return FeatureSet(f"synthetic-{seed}", "1m", f"synthetic:{seed}", frame)


def vector(seq: int = 0, symbol: str = "AAA", **features: Any) -> FeatureVector:
    """A hand-made feature vector (quality OK unless given)."""
    ts = datetime(2024, 1, 2, 15, 0, tzinfo=UTC) + timedelta(minutes=seq)
    return FeatureVector(event_ts=ts, symbol=symbol, timeframe="1m", seq=seq,
                         source="test", **features)
