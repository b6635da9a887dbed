"""Donchian channel breakout with a volatility filter.

Donchian's N-bar channel rule as the Turtles traded it (Faith 2007, *Way of the Turtle*):
enter long when the close breaks above the highest close of the previous ``entry_lookback``
bars, exit when it falls below the lowest close of the previous ``exit_lookback`` bars;
shorts mirror it. The filter asks the break to clear the channel by ``k·σ`` (σ the
per-bar realised volatility), so moves inside normal noise do not count as breakouts.
Feature vectors carry closes only, so the channel is built from closes in local state.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import ClassVar

from pydantic import Field, model_validator

from torghut.strategies.kernels import ring_count, ring_max, ring_min, ring_push, ring_slots
from torghut.strategies.sdk import RuleStrategy, StrategyParams, kernel


class VolBreakoutParams(StrategyParams):
    entry_lookback: int = Field(default=20, ge=2, le=1000, description="Entry channel bars")
    exit_lookback: int = Field(default=10, ge=1, le=1000, description="Exit channel bars")
    vol_multiple: float = Field(default=0.5, ge=0, le=20,
                                description="k: the break must clear the channel by k·σ")
    exposure: float = Field(default=1.0, gt=0, le=1.0, description="|exposure| when in")
    allow_short: bool = True

    @model_validator(mode="after")
    def _exit_inside_entry(self) -> VolBreakoutParams:
        if self.exit_lookback > self.entry_lookback:
            raise ValueError("exit_lookback must not exceed entry_lookback")
        return self


@kernel
def vol_breakout_rule(state: MutableSequence[float], x: Sequence[float],
                      p: Sequence[float]) -> float:
    """x = (price, vol_realized_20); p = (entry, exit, k, exposure, short).

    State: a ring of the previous ``entry`` closes, then the position.
    """
    entry = int(p[0])
    exits = int(p[1])
    slot = ring_slots(entry)
    price = x[0]
    position = state[slot]
    if ring_count(state, 0, entry) >= entry:
        if position == 0.0:
            band = p[2] * x[1]
            if price > ring_max(state, 0, entry, entry) * (1.0 + band):
                position = 1.0
            elif p[4] != 0.0 and price < ring_min(state, 0, entry, entry) * (1.0 - band):
                position = -1.0
        elif position > 0.0:
            if price < ring_min(state, 0, entry, exits):
                position = 0.0
        elif price > ring_max(state, 0, entry, exits):
            position = 0.0
    ring_push(state, 0, entry, price)  # after deciding: the channel excludes this bar
    state[slot] = position
    return position * p[3]


class VolatilityBreakout(RuleStrategy[VolBreakoutParams]):
    strategy_type: ClassVar[str] = "vol_breakout"
    version: ClassVar[str] = "1.0.0"
    Params = VolBreakoutParams
    features = ("price", "vol_realized_20")
    rule = staticmethod(vol_breakout_rule)

    def kernel_params(self, params: VolBreakoutParams) -> tuple[float, ...]:
        return (params.entry_lookback, params.exit_lookback, params.vol_multiple,
                params.exposure, params.allow_short)

    def initial_state(self, params: VolBreakoutParams) -> list[float]:
        return [0.0] * (ring_slots(params.entry_lookback) + 1)

    def warmup_bars(self, params: VolBreakoutParams) -> int:
        return params.entry_lookback  # a full channel before the first breakout test
