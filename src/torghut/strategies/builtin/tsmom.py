"""Time-series momentum, volatility-scaled.

Moskowitz, Ooi & Pedersen (2012), "Time series momentum", *Journal of Financial Economics*
104(2): 228-250. The position is the sign of the instrument's own lookback return, sized
to a volatility target: ``sign(r_lookback) × min(max_leverage, σ* / (σ_bar · √N))`` where
σ_bar is the realised per-bar volatility (``vol_realized_20``) and N bars per year
annualise it. The lookback may exceed the feature vector's ``ret_20``, so the rule keeps
its own ring buffer of closes.
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field

from torghut.strategies.kernels import ring_slots
from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel


class TsmomParams(StrategyParams):
    lookback: int = Field(default=60, ge=2, le=5000, description="Bars in the momentum return")
    target_vol: float = Field(default=0.15, gt=0, le=2.0,
                              description="Annualised volatility target (0.15 = 15 %)")
    max_leverage: float = Field(default=1.0, gt=0, le=1.0,
                                description="Cap on |exposure| from the volatility scaling")
    periods_per_year: float = Field(default=252.0, ge=1, le=1_000_000,
                                    description="Bars per year: 252 daily, 98280 for 1m XNYS")
    allow_short: bool = True


@kernel
def tsmom_rule(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    """x = (price, vol_realized_20); p = (lookback, target_vol, max_leverage, √N, short).

    State: a ring of the last lookback + 1 closes (``kernels.ring_*`` layout). The ring
    helpers, ``sign`` and ``clip_unit`` are written out here, with the same operations: the
    runtime calls this rule on every event, where their five calls cost ~0.25 µs (the test
    suite checks it against the helpers).
    """
    lookback = int(p[0])
    size = lookback + 1
    count = int(state[0])  # closes pushed before this one
    state[1 + count % size] = x[0]  # ring_push
    state[0] = count + 1.0
    if count < lookback:  # ring_count <= lookback: no lookback return yet
        return math.nan
    change = x[0] - state[1 + (count - lookback) % size]  # ring_lag(..., lookback)
    direction = 1.0 if change > 0.0 else (-1.0 if change < 0.0 else 0.0)  # sign
    if direction < 0.0 and p[4] == 0.0:
        direction = 0.0
    denominator = x[1] * p[3]
    leverage = p[2]
    if denominator > 0.0:
        scaled = p[1] / denominator
        if scaled < leverage:
            leverage = scaled
    exposure = direction * leverage
    return 1.0 if exposure > 1.0 else (-1.0 if exposure < -1.0 else exposure)  # clip_unit


class TimeSeriesMomentum(RuleStrategy[TsmomParams]):
    strategy_type: ClassVar[str] = "tsmom"
    version: ClassVar[str] = "1.0.0"
    Params = TsmomParams
    features = ("price", "vol_realized_20")
    rule = staticmethod(tsmom_rule)

    def kernel_params(self, params: TsmomParams) -> tuple[float, ...]:
        return (params.lookback, params.target_vol, params.max_leverage,
                math.sqrt(params.periods_per_year), params.allow_short)

    def initial_state(self, params: TsmomParams) -> list[float]:
        return [0.0] * ring_slots(params.lookback + 1)

    def warmup_bars(self, params: TsmomParams) -> int:
        return params.lookback  # lookback + 1 closes give the first lookback return
