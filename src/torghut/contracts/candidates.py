"""A research candidate: a plugin, its params (or a grid), the data, models, splits and stress."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from torghut.contracts.base import SEMVER_PATTERN, SLUG_PATTERN, Contract
from torghut.contracts.splits import ExpandingWalkForward, SplitPolicy

#: The standard stress set (names of :mod:`torghut.sim.scenarios`; resolved at run time).
STANDARD_STRESS: tuple[str, ...] = ("spread_x2", "spread_x3", "vol_spike", "liquidity_drought",
                                    "delayed_data", "rejection_burst", "pessimistic_costs")


def default_split() -> ExpandingWalkForward:
    """Six expanding walk-forward folds of 252 bars (a year of daily bars) after at least
    504 training bars, purged by one bar (a decision at close t earns over bar t + 1).

    Explicit numbers, not sized from the data: the policy is part of the candidate's hash,
    so it must not change when the data does. Intraday candidates should set their own.
    """
    return ExpandingWalkForward(n_folds=6, test_bars=252, min_train_bars=504, purge_bars=1)


class CandidateSpec(Contract):
    """What a researcher (person or agent) proposes for validation.

    ``params`` fixes parameters; ``param_grid`` (optional) sweeps others — every grid point
    is a trial that counts against the strategy family. ``dataset`` is a snapshot id, a
    unique id prefix or a name; a research run records the full id it resolved to.
    :meth:`content_hash` identifies the spec as written.
    """

    schema_version: Literal["1.1"] = "1.1"
    name: str = Field(pattern=SLUG_PATTERN)
    strategy_type: str = Field(pattern=SLUG_PATTERN)
    version: str = Field(pattern=SEMVER_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    param_grid: dict[str, tuple[Any, ...]] | None = None
    dataset: str = Field(min_length=1, description="Snapshot id, unique id prefix or name")
    universe: tuple[str, ...] = Field(min_length=1)
    author: str = Field(min_length=1, description="Identity that proposes it")
    hypothesis: str = Field(min_length=1, description="Why this should work, in a sentence")
    feature_schema_version: str = "3.1"
    execution_model: str = "exec-v1"
    cost_model: str = "costs-v1"
    split: SplitPolicy = Field(default_factory=default_split)
    stress: tuple[str, ...] = Field(default=STANDARD_STRESS,
                                    description="Stress scenario names (empty: none)")
    seed: int = Field(default=0, ge=0, description="Seeds every random choice of the run")
    capital: float = Field(default=1_000_000.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> CandidateSpec:
        if not math.isfinite(self.capital):
            raise ValueError("capital must be finite")
        if len(set(self.universe)) != len(self.universe):
            raise ValueError("universe lists a symbol twice")
        if len(set(self.stress)) != len(self.stress):
            raise ValueError("stress lists a scenario twice")
        if self.param_grid is not None:
            empty = [k for k, v in self.param_grid.items() if len(v) == 0]
            if empty:
                raise ValueError(f"param_grid entries must be non-empty: {empty}")
            both = sorted(set(self.params) & set(self.param_grid))
            if both:
                raise ValueError(f"{both} given in both params and param_grid")
        return self

    @property
    def strategy_ref(self) -> str:
        return f"{self.strategy_type}@{self.version}"
