"""A plugin's target exposures on a bar set, through the simulator: one backtest.

Exposures come from the strategy runner (:func:`torghut.strategies.runner.batch_exposures`,
sandboxed and contract-checked) on the canonical features of the same bars, so the
simulator sees exactly what ``torghut signals`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from torghut.contracts.simulation import BacktestMetrics, CostModel, ExecutionModel
from torghut.data.calendars import bars_per_year
from torghut.sim.engine import SimResult, exposure_matrix
from torghut.sim.market import market_from_bars
from torghut.sim.metrics import backtest_metrics
from torghut.sim.scenarios import SimInputs
from torghut.strategies.conformance import resolve_params
from torghut.strategies.runner import FeatureSet, batch_exposures, ref_of, signal_table
from torghut.strategies.sdk import StrategyPlugin


@dataclass(frozen=True)
class Backtest:
    """A finished run and what it was run on."""

    strategy: str
    params: dict[str, Any]
    dataset: str
    timeframe: str
    calendar: str
    inputs: SimInputs
    result: SimResult
    metrics: BacktestMetrics


def plugin_inputs(plugin: StrategyPlugin, raw_params: dict[str, Any] | None,
                  bars: pd.DataFrame, features: FeatureSet, execution: ExecutionModel,
                  costs: CostModel, capital: float, *, file: str = "<bars>") -> SimInputs:
    """Market arrays and the plugin's exposure matrix, ready to simulate."""
    params = resolve_params(plugin, raw_params)
    market = market_from_bars(bars, execution, file=file)
    signals = signal_table(features.frame, batch_exposures(plugin, features.frame, params))
    return SimInputs(market=market, exposure=exposure_matrix(signals, market),
                     execution=execution, costs=costs, capital=capital)


def run_backtest(plugin: StrategyPlugin, raw_params: dict[str, Any] | None,
                 bars: pd.DataFrame, features: FeatureSet, *, calendar: str,
                 execution: ExecutionModel, costs: CostModel, capital: float,
                 file: str = "<bars>") -> Backtest:
    inputs = plugin_inputs(plugin, raw_params, bars, features, execution, costs, capital,
                           file=file)
    result = inputs.run()
    metrics = backtest_metrics(result, bars_per_year(calendar, features.timeframe))
    return Backtest(strategy=ref_of(plugin), params=dict(raw_params or {}),
                    dataset=features.source, timeframe=features.timeframe, calendar=calendar,
                    inputs=inputs, result=result, metrics=metrics)
