"""Tiny hand-built markets for the simulator tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.sim.engine import SimResult, simulate
from torghut.sim.market import Market, market_from_bars

# No spread, no costs, no cap, fractional shares, no collar: the rule under test alone.
PLAIN_EXEC = ExecutionModel(model_id="test-plain", participation_rate=None, collar_pct=None,
                            lot_size=0.0, min_spread_bps=0.0, spread_vol_k=0.0)
NO_COSTS = CostModel(model_id="test-zero", spread_crossing=False)


def bars(ohlcv: Sequence[tuple[float, float, float, float, float]], symbol: str = "AAA",
         spread: Sequence[float] | None = None, start: str = "2021-01-04") -> pd.DataFrame:
    """One symbol's daily bars from (open, high, low, close, volume) rows."""
    arr = np.asarray(ohlcv, dtype=np.float64)
    frame = pd.DataFrame({
        "ts": pd.date_range(start, periods=len(arr), freq="D", tz="UTC"), "symbol": symbol,
        "open": arr[:, 0], "high": arr[:, 1], "low": arr[:, 2], "close": arr[:, 3],
        "volume": arr[:, 4]})
    if spread is not None:
        frame["spread"] = np.asarray(spread, dtype=np.float64)
    return frame


def flat(n: int, price: float = 100.0, volume: float = 1e6) -> list[tuple[float, ...]]:
    return [(price, price + 1, price - 1, price, volume)] * n


def market(frame: pd.DataFrame, execution: ExecutionModel = PLAIN_EXEC) -> Market:
    return market_from_bars(frame, execution)


def run(frame: pd.DataFrame, exposure: Sequence[float] | np.ndarray,
        execution: ExecutionModel = PLAIN_EXEC, costs: CostModel = NO_COSTS,
        capital: float = 10_000.0, **exec_updates: Any) -> SimResult:
    ex = execution.model_copy(update=exec_updates) if exec_updates else execution
    m = market(frame, ex)
    exp = np.asarray(exposure, dtype=np.float64).reshape(m.shape)
    return simulate(m, exp, ex, costs, capital=capital)
