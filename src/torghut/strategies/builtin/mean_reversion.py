"""Bollinger-band / RSI mean reversion with hysteresis.

Bollinger (2001), *Bollinger on Bollinger Bands*; RSI after Wilder (1978). Enter long when
the close is below the lower band *and* RSI is oversold; hold until the close regains the
middle band (the hysteresis: entry and exit thresholds differ, so the position does not
flicker) or a time stop of ``max_holding_bars`` expires. Shorts mirror it when allowed.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field

from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel

POSITION, HELD = 0, 1  # state slots


class MeanReversionParams(StrategyParams):
    rsi_oversold: float = Field(default=30.0, ge=0, lt=50, description="Long entry below this")
    rsi_overbought: float = Field(default=70.0, gt=50, le=100,
                                  description="Short entry above this")
    max_holding_bars: int = Field(default=60, ge=1, le=100_000,
                                  description="Time stop: bars in a position before exit")
    exposure: float = Field(default=1.0, gt=0, le=1.0, description="|exposure| when in")
    allow_short: bool = True


@kernel
def mean_reversion_rule(state: MutableSequence[float], x: Sequence[float],
                        p: Sequence[float]) -> float:
    """x = (price, boll_lower, boll_mid, boll_upper, rsi14);
    p = (oversold, overbought, max_holding_bars, exposure, short)."""
    price = x[0]
    position = state[POSITION]
    held = 0.0
    if position != 0.0:
        held = state[HELD] + 1.0
        reverted = price >= x[2] if position > 0.0 else price <= x[2]
        if reverted or held >= p[2]:
            position = 0.0
            held = 0.0
    elif price < x[1] and x[4] < p[0]:
        position = 1.0
    elif p[4] != 0.0 and price > x[3] and x[4] > p[1]:
        position = -1.0
    state[POSITION] = position
    state[HELD] = held
    return position * p[3]


class MeanReversion(RuleStrategy[MeanReversionParams]):
    strategy_type: ClassVar[str] = "mean_reversion"
    version: ClassVar[str] = "1.0.0"
    Params = MeanReversionParams
    features = ("price", "boll_lower", "boll_mid", "boll_upper", "rsi14")
    rule = staticmethod(mean_reversion_rule)

    def kernel_params(self, params: MeanReversionParams) -> tuple[float, ...]:
        return (params.rsi_oversold, params.rsi_overbought, params.max_holding_bars,
                params.exposure, params.allow_short)

    def initial_state(self, params: MeanReversionParams) -> list[float]:
        return [0.0, 0.0]
