"""Shared by the runtime tests: small bar frames, resolved catalog entries, a raising plugin."""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from torghut.contracts import FeatureVector, StrategyDefinition, StrategyIntent
from torghut.strategies.registry import Registry, ResolvedEntry
from torghut.strategies.sdk import RuleStrategy, StrategyContext, StrategyParams, kernel

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def bars_frame(symbols: Sequence[str] = ("AAA", "BBB"), n: int = 60, *, seed: int = 7,
               step: timedelta = timedelta(minutes=1)) -> pd.DataFrame:
    """A deterministic random-walk OHLCV frame, every symbol on every step."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, sym in enumerate(symbols):
        close = 100.0 * (1 + k) * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
        for i in range(n):
            o = close[i - 1] if i else close[0]
            rows.append({"ts": T0 + i * step, "symbol": sym, "open": o,
                         "high": max(o, close[i]) * 1.001, "low": min(o, close[i]) * 0.999,
                         "close": close[i], "volume": 10_000.0})
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def resolve(registry: Registry, strategy_id: str, strategy_type: str,
            params: dict[str, Any] | None = None, *, priority: int = 100) -> ResolvedEntry:
    entry = registry.resolve(StrategyDefinition(
        strategy_id=strategy_id, strategy_type=strategy_type, version="1.0.0",
        params=params or {}, enabled=True, priority=priority))
    assert entry.runnable, entry.reasons
    return entry


@kernel
def _long(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    return 1.0


class Flaky(RuleStrategy[StrategyParams]):
    """Always long, but raises on the symbols listed in ``fail_on``."""

    strategy_type: ClassVar[str] = "flaky"
    version: ClassVar[str] = "1.0.0"
    Params = StrategyParams
    features = ("price",)
    rule = staticmethod(_long)
    fail_on: ClassVar[frozenset[str]] = frozenset({"BBB"})

    def kernel_params(self, params: StrategyParams) -> tuple[float, ...]:
        return ()

    def initial_state(self, params: StrategyParams) -> list[float]:
        return []

    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        if fv.symbol in self.fail_on:
            raise ValueError(f"cannot handle {fv.symbol}")
        return super().on_event(fv, ctx)
