"""The trial task: one grid point → the plugin's signals and the simulator over the full sample.

A trial is run once over the whole sample and only its per-bar net return series is kept;
fold metrics are slices of it, so a sweep costs O(trials), not O(trials × folds). The task
is a pure function of a :class:`TrialContext` (picklable: arrays, models and the plugin's
``TYPE@VERSION``) and a chunk of params, so the local process pool and Ray run the very
same code and return the very same floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.errors import TorghutError
from torghut.sim.market import Market, market_from_bars
from torghut.sim.scenarios import SimInputs
from torghut.strategies.conformance import resolve_params
from torghut.strategies.registry import Registry
from torghut.strategies.runner import FeatureSet, batch_exposures
from torghut.strategies.sdk import StrategyPlugin


@dataclass(frozen=True)
class TrialContext:
    """What every trial shares: the market, the features and the models."""

    strategy: str  # TYPE@VERSION, resolved in each worker from the entry points
    market: Market
    features: pd.DataFrame  # the feature frame (ts then symbol order)
    ts_pos: np.ndarray  # per feature row: its bar on the market clock
    sym_pos: np.ndarray  # per feature row: its symbol column
    execution: ExecutionModel
    costs: CostModel
    capital: float

    def exposures(self, params: dict[str, Any]) -> np.ndarray:
        """The plugin's target exposures on the market clock (T×S; NaN where no bar)."""
        plugin = load_plugin(self.strategy)
        values = batch_exposures(plugin, self.features, resolve_params(plugin, params))
        out = np.full(self.market.shape, np.nan)
        out[self.ts_pos, self.sym_pos] = values
        return out

    def inputs(self, params: dict[str, Any]) -> SimInputs:
        return SimInputs(market=self.market, exposure=self.exposures(params),
                         execution=self.execution, costs=self.costs, capital=self.capital)


def trial_context(strategy: str, bars: pd.DataFrame, features: FeatureSet,
                  execution: ExecutionModel, costs: CostModel, capital: float, *,
                  file: str = "<bars>") -> TrialContext:
    """Validate the bars once, pivot them, and map feature rows onto the bar clock."""
    market = market_from_bars(bars, execution, file=file)
    frame = features.frame
    ts_pos = market.ts.get_indexer(pd.DatetimeIndex(frame["ts"]))
    sym_pos = pd.Index(market.symbols).get_indexer(frame["symbol"].to_numpy(dtype=object))
    if (ts_pos < 0).any() or (sym_pos < 0).any():
        raise TorghutError("feature rows at a (ts, symbol) that has no bar", file=file)
    return TrialContext(strategy=strategy, market=market, features=frame, ts_pos=ts_pos,
                        sym_pos=sym_pos, execution=execution, costs=costs, capital=capital)


@cache
def load_plugin(ref: str) -> StrategyPlugin:
    """The plugin for ``ref``, loaded once per process (workers resolve it themselves)."""
    return Registry.from_entry_points().plugin(ref)


def trial_returns(context: TrialContext, params: dict[str, Any]) -> np.ndarray:
    """Per-bar simple net returns of equity (the first against the initial capital)."""
    returns: np.ndarray = context.inputs(params).run().returns()
    return returns


def run_chunk(context: TrialContext, chunk: Sequence[dict[str, Any]]) -> np.ndarray:
    """The task function: returns of each params dict in ``chunk`` (rows, in chunk order)."""
    return np.stack([trial_returns(context, params) for params in chunk])
