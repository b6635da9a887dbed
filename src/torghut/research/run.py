"""A research run: resolve the candidate, run every trial, select per fold, stress, summarise.

Order of work (each step fails fast with a one-line :class:`TorghutError`): resolve the
plugin, models, scenarios and dataset snapshot (restricted to the universe) → features once
→ grid → warm-up and folds → every trial over the full sample on the executor → per-fold
selection on train windows → detailed re-simulation of the selected trials for fold
metrics → statistics → stress of the final fold's selection → :class:`MetricsBundle`.

Warm-up (bars on the clock before any fold may train): the first bar at which every
feature the plugin reads is finite on every symbol, plus the largest plugin warm-up over
the grid, plus the execution latency (the first decision's order is active that much later).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import torghut
from torghut.contracts.base import sha256_text
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.research import (
    Evaluation,
    InvalidPoint,
    MetricsBundle,
    RunInfo,
    RunInputs,
    StressRecord,
    StressSuite,
)
from torghut.contracts.simulation import BacktestMetrics
from torghut.data.calendars import bars_per_year
from torghut.data.snapshots import load_snapshot
from torghut.errors import NotFoundError, TorghutError
from torghut.research import evidence
from torghut.research.executors import Progress, get_executor
from torghut.research.grid import Grid, expand_grid
from torghut.research.regimes import label_windows
from torghut.research.splits import Fold, split_folds
from torghut.research.trials import TrialContext, load_plugin, trial_context
from torghut.sim.engine import SimResult
from torghut.sim.metrics import backtest_metrics
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.sim.scenarios import Scenario, degradation, get_scenario
from torghut.strategies.runner import feature_set
from torghut.strategies.sdk import StrategyPlugin, validate_params
from torghut.workspace import Workspace

#: Starts a progress task (label, total) and returns its advance callback.
ProgressFactory = Callable[[str, int], Progress]


@dataclass(frozen=True)
class RunOptions:
    executor: str = "local"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    n_trials: int | None = None  # N for the DSR; default: the trials of this run
    bootstrap_reps: int = 1000
    progress: ProgressFactory | None = None


@dataclass(frozen=True)
class ResearchRun:
    """The bundle plus the arrays the report plots (not serialised)."""

    bundle: MetricsBundle
    returns: np.ndarray  # trials × bars
    oos_returns: np.ndarray
    selected_equity: pd.Series


@dataclass(frozen=True)
class Resolved:
    plugin: StrategyPlugin
    context: TrialContext
    inputs: RunInputs
    dataset_name: str
    periods_per_year: float
    scenarios: list[Scenario]


def resolve(ws: Workspace, spec: CandidateSpec) -> Resolved:
    """Plugin, models, scenarios and the dataset (universe only), validated up front."""
    plugin = load_plugin(spec.strategy_ref)
    execution = get_execution_model(spec.execution_model)
    costs = get_cost_model(spec.cost_model)
    scenarios = [stress_scenario(name, spec.seed) for name in spec.stress]
    snapshot = load_snapshot(ws, spec.dataset)
    m = snapshot.manifest
    bars = snapshot.bars()
    missing = sorted(set(spec.universe) - set(m.symbols))
    if missing:
        raise NotFoundError(f"{missing} not in dataset {m.name} (has {list(m.symbols)})",
                            field="universe")
    bars = bars[bars["symbol"].isin(list(spec.universe))].reset_index(drop=True)
    features = feature_set(m.name, bars, timeframe=m.timeframe, calendar=m.calendar,
                           source=f"dataset:{m.dataset_id}")
    context = trial_context(spec.strategy_ref, bars, features, execution, costs, spec.capital,
                            file=str(snapshot.bars_path))
    inputs = RunInputs(candidate_hash=spec.content_hash(), strategy=spec.strategy_ref,
                       dataset_id=m.dataset_id, dataset_name=m.name,
                       bars_sha256=m.bars_sha256, execution_model=execution,
                       execution_model_hash=execution.content_hash(), cost_model=costs,
                       cost_model_hash=costs.content_hash(),
                       split_hash=sha256_text(spec.split.canonical_json()), seed=spec.seed)
    return Resolved(plugin, context, inputs, m.name, bars_per_year(m.calendar, m.timeframe),
                    scenarios)


def stress_scenario(name: str, seed: int) -> Scenario:
    """A named scenario; seeded scenarios take the candidate's seed."""
    try:
        base = get_scenario(name)
    except TorghutError as exc:
        raise NotFoundError(exc.message, field="stress") from None
    return get_scenario(name, seed=seed) if "seed" in base.params else base


def warmup_bars(plugin: StrategyPlugin, context: TrialContext, grid: Grid) -> int:
    """Feature warm-up + the grid's largest plugin warm-up + latency (module docstring)."""
    frame = context.features
    ready = np.isfinite(frame.loc[:, list(plugin.required_features())]
                        .to_numpy(dtype=np.float64, na_value=np.nan)).all(axis=1)
    first = []
    for s, symbol in enumerate(context.market.symbols):
        rows = np.flatnonzero(ready & (context.sym_pos == s))
        if rows.size == 0:
            raise TorghutError(f"the features {spec_features(plugin)} never warm up on "
                               f"{symbol}", field="dataset")
        first.append(int(context.ts_pos[rows[0]]))
    plugin_warmup = max(int(plugin.warmup_bars(validate_params(plugin.Params, p.params)))
                        for p in grid.points)
    return max(first) + plugin_warmup + context.execution.latency_bars


def spec_features(plugin: StrategyPlugin) -> str:
    return ", ".join(plugin.required_features())


def index_close(close: np.ndarray) -> np.ndarray:
    """An equal-weight index level of the universe (for regime labels): the exponential of
    the cumulated cross-sectional mean log return (missing bars contribute nothing)."""
    log_r = np.diff(np.log(pd.DataFrame(close).ffill().bfill().to_numpy()), axis=0)
    return np.exp(np.concatenate([[0.0], np.cumsum(log_r.mean(axis=1))]))


def run_research(ws: Workspace, spec: CandidateSpec, options: RunOptions = RunOptions()
                 ) -> ResearchRun:
    """Run the candidate end to end and return its bundle (see the module docstring)."""
    started, clock = datetime.now(UTC), time.perf_counter()
    executor = get_executor(options.executor, options.workers)
    r = resolve(ws, spec)
    grid = expand_grid(spec, r.plugin)
    n_trials = _n_trials(options.n_trials, len(grid.points))
    market = r.context.market
    warmup = warmup_bars(r.plugin, r.context, grid)
    folds = split_folds(market.shape[0], spec.split, timestamps=market.ts, warmup_bars=warmup)

    params = [p.params for p in grid.points]
    advance = options.progress("trials", len(params)) if options.progress else None
    returns = executor.map_trials(r.context, params, advance)

    chosen, train = evidence.select_folds(returns, folds)
    trials = evidence.trial_records(returns, grid, folds, warmup, r.periods_per_year, train)
    records = fold_records(r, grid, folds, chosen, train)
    oos, paths = evidence.oos_record(returns, folds, chosen, spec.split, warmup)
    final = int(chosen[-1])
    stats = evidence.statistics(oos, returns[:, warmup:].T, grid, final, n_trials=n_trials,
                                periods_per_year=r.periods_per_year, seed=spec.seed,
                                reps=options.bootstrap_reps, path_sharpes=paths)
    selected, baseline, stress = _stress(r, final, grid, options.progress)
    finished = datetime.now(UTC)
    bundle = MetricsBundle(
        code_version=torghut.__version__, candidate=spec, inputs=r.inputs,
        evaluation=Evaluation(n_bars=market.shape[0], warmup_bars=warmup,
                              periods_per_year=r.periods_per_year, first_ts=market.ts[0],
                              last_ts=market.ts[-1], symbols=market.symbols),
        n_grid_points=grid.n_points,
        invalid_points=tuple(InvalidPoint(params=p, reason=why) for p, why in grid.invalid),
        trials=tuple(trials), folds=tuple(records), selected_trial=final,
        selected_metrics=baseline, statistics=stats, stress=stress,
        run=RunInfo(started_at=started, finished_at=finished,
                    seconds=round(time.perf_counter() - clock, 3), executor=executor.name,
                    workers=executor.workers))
    return ResearchRun(bundle=bundle, returns=returns, oos_returns=oos,
                       selected_equity=selected.equity_series())


def _n_trials(explicit: int | None, run: int) -> int:
    if explicit is None:
        return run
    if explicit < run:
        raise TorghutError(f"must be at least the {run} trials of this run, got {explicit}",
                           field="--n-trials")
    return explicit


def fold_records(r: Resolved, grid: Grid, folds: list[Fold], chosen: np.ndarray,
                 train: np.ndarray) -> list[Any]:
    """Re-simulate each distinct selected trial once (same floats) for its fold metrics."""
    market = r.context.market
    regimes = label_windows(index_close(market.close), [f.test for f in folds])
    detail = {}
    for trial in sorted(set(int(c) for c in chosen)):
        inputs = r.context.inputs(grid.points[trial].params)
        detail[trial] = (inputs.run(), inputs.exposure)
    out = []
    for j, fold in enumerate(folds):
        trial = int(chosen[j])
        result, exposure = detail[trial]
        assert exposure is not None
        out.append(evidence.fold_record(fold, trial, grid.points[trial].params,
                                        float(train[j, trial]), result, exposure,
                                        str(regimes[j]), r.periods_per_year))
    return out


def _stress(r: Resolved, trial: int, grid: Grid, progress: ProgressFactory | None
            ) -> tuple[SimResult, BacktestMetrics, StressSuite | None]:
    """The selected params' full-sample run, its metrics and, per scenario, degradation."""
    params = grid.points[trial].params
    inputs = r.context.inputs(params)
    result = inputs.run()
    base = backtest_metrics(result, r.periods_per_year)
    if not r.scenarios:
        return result, base, None
    advance = progress("stress", len(r.scenarios)) if progress else None
    records = []
    for scenario in r.scenarios:
        metrics = backtest_metrics(scenario.apply(inputs).run(), r.periods_per_year)
        delta, relative = degradation(base, metrics)
        records.append(StressRecord(name=scenario.name, params=dict(scenario.params),
                                    metrics=metrics, delta=delta, relative=relative))
        if advance:
            advance(1)
    return result, base, StressSuite(trial_id=trial, params=params, baseline=base,
                                     scenarios=tuple(records))
