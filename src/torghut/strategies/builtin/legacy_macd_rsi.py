"""The old Torghut baseline: MACD histogram sign with an RSI filter.

MACD after Appel (1979), *The Moving Average Convergence-Divergence Method*; RSI after
Wilder (1978), *New Concepts in Technical Trading Systems*. Long while the histogram
(MACD − signal) is positive unless RSI says overbought; short while it is negative unless
RSI says oversold; flat otherwise. Stateless: the mapper's indicator warm-up is all it needs.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field

from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel


class LegacyMacdRsiParams(StrategyParams):
    rsi_overbought: float = Field(default=70.0, gt=50, le=100,
                                  description="Long only while RSI is below this")
    rsi_oversold: float = Field(default=30.0, ge=0, lt=50,
                                description="Short only while RSI is above this")
    exposure: float = Field(default=1.0, gt=0, le=1.0, description="|exposure| when in")
    allow_short: bool = True


@kernel
def legacy_macd_rsi_rule(state: MutableSequence[float], x: Sequence[float],
                         p: Sequence[float]) -> float:
    """x = (macd_hist, rsi14); p = (overbought, oversold, exposure, short)."""
    hist = x[0]
    rsi = x[1]
    if hist > 0.0 and rsi < p[0]:
        return p[2]
    if hist < 0.0 and rsi > p[1] and p[3] != 0.0:
        return -p[2]
    return 0.0


class LegacyMacdRsi(RuleStrategy[LegacyMacdRsiParams]):
    strategy_type: ClassVar[str] = "legacy_macd_rsi"
    version: ClassVar[str] = "1.0.0"
    Params = LegacyMacdRsiParams
    features = ("macd_hist", "rsi14")
    rule = staticmethod(legacy_macd_rsi_rule)

    def kernel_params(self, params: LegacyMacdRsiParams) -> tuple[float, ...]:
        return (params.rsi_overbought, params.rsi_oversold, params.exposure,
                params.allow_short)

    def initial_state(self, params: LegacyMacdRsiParams) -> list[float]:
        return []
