"""Simple moving-average crossover: the textbook trend rule and the cross-engine reference.

Long when the fast SMA crosses above the slow SMA, short (or flat) when it crosses below;
the position is held between crosses. A cross needs the fast SMA strictly below (above) the
slow one on the previous bar and strictly above (below) it now, so touching does not count.
It is the rule most backtesting engines ship as their first example (e.g. backtesting.py's
``SmaCross``), which makes it the natural plugin for checking Torghut's simulator against
another engine. SMAs are computed from closes kept in local state; before the first cross
the rule has no opinion and the exposure stays flat.
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field, model_validator

from torghut.strategies.kernels import ring_count, ring_lag, ring_push, ring_slots
from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel

PREV_DIFF = 0  # state slot: fast − slow on the previous bar (NaN until both are warm)
RING = 1  # the ring buffer of closes starts here


class SmaCrossoverParams(StrategyParams):
    fast: int = Field(default=10, ge=1, le=5000, description="Bars in the fast SMA")
    slow: int = Field(default=20, ge=2, le=5000, description="Bars in the slow SMA")
    exposure: float = Field(default=1.0, gt=0, le=1.0, description="|exposure| when in")
    allow_short: bool = True

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossoverParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


@kernel
def _mean_of_last(state: Sequence[float], size: int, n: int) -> float:
    total = 0.0
    for lag in range(n):
        total += ring_lag(state, RING, size, lag)
    return total / n


@kernel
def sma_crossover_rule(state: MutableSequence[float], x: Sequence[float],
                       p: Sequence[float]) -> float:
    """x = (price,); p = (fast, slow, exposure, short)."""
    fast, slow = int(p[0]), int(p[1])
    ring_push(state, RING, slow, x[0])
    if ring_count(state, RING, slow) < slow:
        return math.nan
    diff = _mean_of_last(state, slow, fast) - _mean_of_last(state, slow, slow)
    prev = state[PREV_DIFF]
    state[PREV_DIFF] = diff
    if prev != prev:  # first bar with both SMAs: no previous bar to cross from
        return math.nan
    if prev < 0.0 and diff > 0.0:
        return p[2]
    if prev > 0.0 and diff < 0.0:
        return -p[2] if p[3] != 0.0 else 0.0
    return math.nan


class SmaCrossover(RuleStrategy[SmaCrossoverParams]):
    strategy_type: ClassVar[str] = "sma_crossover"
    version: ClassVar[str] = "1.0.0"
    Params = SmaCrossoverParams
    features = ("price",)
    rule = staticmethod(sma_crossover_rule)

    def kernel_params(self, params: SmaCrossoverParams) -> tuple[float, ...]:
        return (params.fast, params.slow, params.exposure, params.allow_short)

    def initial_state(self, params: SmaCrossoverParams) -> list[float]:
        return [math.nan] + [0.0] * ring_slots(params.slow)

    def warmup_bars(self, params: SmaCrossoverParams) -> int:
        return params.slow  # the first cross needs slow + 1 closes
