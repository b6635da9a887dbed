"""Backtest report: Markdown plus PNG plots (equity, drawdown, monthly returns heatmap).

The folder is assembled in a staging directory and renamed into place, so it is either
complete or absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are written by CLIs and CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from torghut.errors import TorghutError
from torghut.fsutil import staging_dir
from torghut.sim.backtest import Backtest
from torghut.sim.metrics import drawdown

PLOTS = ("equity.png", "drawdown.png", "monthly_returns.png")
_STYLE: dict[str, Any] = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                          "axes.spines.top": False, "axes.spines.right": False,
                          "font.size": 9}


def monthly_returns(equity: pd.Series, capital: float) -> pd.DataFrame:
    """Compounded return per calendar month: rows = years, columns = 1..12 (NaN if absent)."""
    month_end = equity.groupby([equity.index.year, equity.index.month]).last()
    prev = np.concatenate([[capital], month_end.to_numpy()[:-1]])
    rets = pd.Series(month_end.to_numpy() / prev - 1.0, index=month_end.index)
    table = rets.unstack()
    return table.reindex(columns=range(1, 13))


def _equity_plot(bt: Backtest, path: Path) -> None:
    eq = bt.result.equity_series()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(eq.index, eq.to_numpy(), color="#1f4e79", lw=1.0, label="equity (net)")
    costs = bt.result.fills.set_index("ts")[["commission", "spread_cost", "impact_cost",
                                             "penalty"]].sum(axis=1)
    gross = eq + costs.groupby(level=0).sum().reindex(eq.index, fill_value=0.0).cumsum()
    ax.plot(eq.index, gross.to_numpy(), color="#9e9e9e", lw=0.8, ls="--",
            label="before costs")
    ax.axhline(bt.result.capital, color="black", lw=0.6)
    ax.set_title(f"{bt.strategy} — equity ({bt.inputs.execution.model_id}, "
                 f"{bt.inputs.costs.model_id})")
    ax.set_ylabel("equity")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _drawdown_plot(bt: Backtest, path: Path) -> None:
    dd = drawdown(bt.result.equity, bt.result.capital) * 100
    fig, ax = plt.subplots(figsize=(9, 2.6))
    ax.fill_between(bt.result.ts, dd, 0, color="#b22222", alpha=0.5, lw=0)
    ax.plot(bt.result.ts, dd, color="#b22222", lw=0.6)
    ax.set_title(f"Drawdown (max {bt.metrics.max_drawdown:.1%}, longest "
                 f"{bt.metrics.max_drawdown_bars} bars)")
    ax.set_ylabel("% below peak")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _heatmap_plot(bt: Backtest, path: Path) -> None:
    table = monthly_returns(bt.result.equity_series(), bt.result.capital) * 100
    values = table.to_numpy()
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    fig, ax = plt.subplots(figsize=(9, 0.8 + 0.32 * len(table)))
    im = ax.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(12), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                              "Oct", "Nov", "Dec"])
    ax.set_yticks(range(len(table)), [str(y) for y in table.index])
    ax.grid(False)
    if values.size <= 400:  # annotate unless the grid is too dense to read
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6.5)
    fig.colorbar(im, ax=ax, label="monthly return, %", pad=0.01)
    ax.set_title("Monthly returns (%)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return str(value)


def report_markdown(bt: Backtest) -> str:
    m = bt.metrics
    ex, co = bt.inputs.execution, bt.inputs.costs
    rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in m.model_dump().items()
                     if k != "schema_version")
    reasons = bt.result.orders.groupby(["status", "reason"]).size()
    outcome = "\n".join(f"| {s} | {r or '—'} | {n} |" for (s, r), n in reasons.items())
    return f"""# Backtest: {bt.strategy}

- dataset: `{bt.dataset}` ({bt.timeframe}, calendar {bt.calendar})
- params: `{bt.params}`
- execution model: `{ex.model_id}` — {ex.description}
- cost model: `{co.model_id}` — {co.description}
- capital: {bt.result.capital:,.2f}; bars: {m.bars}; period: {bt.result.ts[0].date()} →
  {bt.result.ts[-1].date()}

Conventions (see `torghut.sim.metrics`): per-bar simple returns, annualised with
{m.periods_per_year:g} bars a year, ddof=1; Sortino's downside deviation over all returns
with target 0; drawdown against the running peak including the initial capital; CAGR on
calendar time (365.25-day years).

![equity](equity.png)

![drawdown](drawdown.png)

![monthly returns](monthly_returns.png)

## Metrics

| metric | value |
|---|---|
{rows}

## Orders

| status | reason | orders |
|---|---|---|
{outcome}
"""


def write_report(bt: Backtest, directory: Path) -> Path:
    """Write report.md and the plots into ``directory`` (must not exist yet), atomically."""
    if directory.exists():
        raise TorghutError("already exists; choose a new report directory", file=directory,
                           field="--report")
    try:
        with plt.rc_context(_STYLE), staging_dir(directory) as tmp:
            _equity_plot(bt, tmp / PLOTS[0])
            _drawdown_plot(bt, tmp / PLOTS[1])
            _heatmap_plot(bt, tmp / PLOTS[2])
            (tmp / "report.md").write_text(report_markdown(bt), encoding="utf-8")
    except OSError as exc:
        raise TorghutError(f"cannot write report: {exc.strerror or exc}", file=directory,
                           field="--report") from None
    return directory / "report.md"
