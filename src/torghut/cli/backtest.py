"""``torghut backtest``: a plugin on a dataset snapshot through the execution simulator."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from torghut.cli.common import (
    DATASET_OPTION,
    JSON_OPTION,
    STRATEGY_OPTION,
    console,
    emit_json,
    workspace,
)
from torghut.cli.strategy import PARAMS_OPTION, parse_params
from torghut.data.snapshots import load_snapshot
from torghut.errors import TorghutError
from torghut.sim.backtest import Backtest, run_backtest
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.strategies.conformance import resolve_params
from torghut.strategies.registry import Registry
from torghut.strategies.runner import feature_set

# Headline rows of the terminal summary (everything is in --json and the report).
SUMMARY = ("net_pnl", "gross_pnl", "total_return", "cagr", "sharpe", "sortino", "calmar",
           "max_drawdown", "max_drawdown_bars", "turnover", "hit_rate", "trade_count",
           "rejected_orders", "total_costs", "cost_bps", "slippage_bps", "shortfall_bps")


def backtest(
    ctx: typer.Context,
    strategy: str = STRATEGY_OPTION,
    dataset: str = DATASET_OPTION,
    params: str | None = PARAMS_OPTION,
    execution_model: str = typer.Option("exec-v1", "--execution-model",
                                        help="Execution model id."),
    cost_model: str = typer.Option("costs-v1", "--cost-model", help="Cost model id."),
    capital: float = typer.Option(1_000_000.0, "--capital", help="Initial capital."),
    report: Path | None = typer.Option(None, "--report", file_okay=False,
                                       help="Write report.md and PNG plots to this new "
                                       "directory."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Simulate a plugin's target exposures on a snapshot with versioned execution/costs."""
    execution = get_execution_model(execution_model, field="--execution-model")
    costs = get_cost_model(cost_model, field="--cost-model")
    if not (math.isfinite(capital) and capital > 0):
        raise TorghutError(f"must be a positive number, got {capital!r}", field="--capital")
    if report is not None and report.exists():
        raise TorghutError("already exists; choose a new report directory", file=report,
                           field="--report")
    raw = parse_params(params)
    plugin = Registry.from_entry_points().plugin(strategy)
    resolve_params(plugin, raw)  # fail fast, before loading any data
    snapshot = load_snapshot(workspace(ctx), dataset)
    m = snapshot.manifest
    bars = snapshot.bars()
    features = feature_set(m.name, bars, timeframe=m.timeframe, calendar=m.calendar,
                           source=f"dataset:{m.dataset_id}")
    bt = run_backtest(plugin, raw, bars, features, calendar=m.calendar, execution=execution,
                      costs=costs, capital=capital, file=str(snapshot.bars_path))
    written = None if report is None else _write(bt, report)
    if json_out:
        emit_json({"strategy": bt.strategy, "params": bt.params, "dataset": m.dataset_id,
                   "execution_model": execution.model_dump(mode="json"),
                   "cost_model": costs.model_dump(mode="json"),
                   "metrics": bt.metrics.model_dump(mode="json"),
                   "report": str(written) if written else None})
        return
    table = Table("metric", "value", title=f"{bt.strategy} on {m.name} "
                  f"({execution.model_id}, {costs.model_id})")
    values = bt.metrics.model_dump()
    for key in SUMMARY:
        value = values[key]
        table.add_row(key, "n/a" if value is None else f"{value:,.4f}"
                      if isinstance(value, float) else str(value))
    console.print(table)
    if written:
        console.print(f"Report: {written}", markup=False, soft_wrap=True)


def _write(bt: Backtest, report: Path) -> Path:
    from torghut.sim.report import write_report  # matplotlib only when asked for

    return write_report(bt, report)
