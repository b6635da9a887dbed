"""RSI fade: lean against stretched moves, sized by how far RSI is from neutral.

An example of a user's own plugin. The rule is one pure scalar function marked with
``kernel``: Torghut runs it as plain Python when streaming and compiles it with numba for
batch research, so both paths give identical exposures (the conformance harness checks it).
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field

from torghut.strategies.kernels import clip_unit
from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel


class RsiFadeParams(StrategyParams):
    band: float = Field(default=20.0, gt=0, lt=50, description="Fade beyond 50 ± band")
    gain: float = Field(default=0.05, gt=0, le=1, description="Exposure per RSI point beyond")


@kernel
def rsi_fade_rule(state: MutableSequence[float], x: Sequence[float],
                  p: Sequence[float]) -> float:
    """x = (rsi14,); p = (band, gain). Stateless, so ``state`` is unused."""
    excess = x[0] - 50.0
    if excess > p[0]:
        return clip_unit(-(excess - p[0]) * p[1])
    if excess < -p[0]:
        return clip_unit((-excess - p[0]) * p[1])
    return 0.0


class RsiFade(RuleStrategy[RsiFadeParams]):
    strategy_type: ClassVar[str] = "rsi_fade"
    version: ClassVar[str] = "0.1.0"
    Params = RsiFadeParams
    features = ("rsi14",)
    rule = staticmethod(rsi_fade_rule)

    def kernel_params(self, params: RsiFadeParams) -> tuple[float, ...]:
        return (params.band, params.gain)

    def initial_state(self, params: RsiFadeParams) -> list[float]:
        return []
