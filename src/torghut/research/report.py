"""Research report: Markdown plus PNG plots — equity of the selected trial with the
out-of-sample record, the fold table, the PBO logit histogram and parameter sensitivity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are written by CLIs and CI
import matplotlib.pyplot as plt
import numpy as np

from torghut.contracts.research import MetricsBundle
from torghut.contracts.simulation import BacktestMetrics
from torghut.research.run import ResearchRun

FOLD_HEADER = ("| fold | train | test | trial | params | test Sharpe | net PnL | gross PnL | "
               "max DD | trades | cost bps | regime |\n" + "|---" * 12 + "|")
PLOTS = ("equity.png", "pbo_logits.png", "sensitivity.png")
_STYLE: dict[str, Any] = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                          "axes.spines.top": False, "axes.spines.right": False,
                          "font.size": 9}


def _equity_plot(run: ResearchRun, path: Path) -> None:
    b = run.bundle
    eq = run.selected_equity
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(eq.index, eq.to_numpy(), color="#1f4e79", lw=1.0,
            label=f"trial {b.selected_trial} (final selection), full sample")
    if not b.statistics.cpcv_path_sharpes:  # walk-forward: the OOS record is in time order
        first = b.folds[0].test.first
        oos = b.candidate.capital * np.cumprod(1.0 + run.oos_returns)
        ax.plot(eq.index[first:first + oos.size], oos, color="#d2691e", lw=1.0,
                label="out-of-sample record (per-fold selections)")
    for fold in b.folds:
        ax.axvline(fold.test.first_ts, color="#9e9e9e", lw=0.5, ls=":")
    ax.axvline(eq.index[b.evaluation.warmup_bars], color="black", lw=0.6, ls="--")
    ax.set_title(f"{b.inputs.strategy} on {b.inputs.dataset_name} — equity "
                 f"({b.inputs.execution_model.model_id}, {b.inputs.cost_model.model_id})")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pbo_plot(bundle: MetricsBundle, path: Path) -> None:
    pbo = bundle.statistics.pbo
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if pbo is None:
        ax.text(0.5, 0.5, "PBO needs at least two trials", ha="center", va="center")
        ax.set_axis_off()
    else:
        ax.hist(pbo.logits, bins=30, color="#1f4e79", alpha=0.8)
        ax.axvline(0.0, color="#b22222", lw=1.0)
        ax.set_xlabel("logit of the IS winner's OOS rank (≤ 0: overfit)")
        ax.set_title(f"PBO = {pbo.pbo:.2f} ({pbo.n_combinations} CSCV combinations, "
                     f"S = {pbo.n_partitions})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _sensitivity_plot(bundle: MetricsBundle, path: Path) -> None:
    axes = list(bundle.candidate.param_grid or {})
    sharpe = [t.evaluation.sharpe_annual or 0.0 for t in bundle.trials]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if len(axes) == 1:
        xs = [t.params[axes[0]] for t in bundle.trials]
        ax.plot(range(len(xs)), sharpe, marker="o", color="#1f4e79")
        ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=45)
        ax.set_xlabel(axes[0])
    else:
        ax.bar(range(len(sharpe)), sharpe, color="#1f4e79")
        ax.set_xlabel("trial id (grid order)")
    ax.axvline(_position(bundle), color="#b22222", lw=1.0, ls="--")
    ax.set_ylabel("annualised Sharpe (evaluation)")
    score = bundle.statistics.sensitivity
    ax.set_title("Parameter sensitivity" + (f" (score {score.score:.2f})" if score else ""))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _position(bundle: MetricsBundle) -> int:
    return [t.trial_id for t in bundle.trials].index(bundle.selected_trial)


def _fmt(value: object, spec: str = ".3f") -> str:
    if value is None:
        return "n/a"
    return format(value, spec) if isinstance(value, float) else str(value)


def report_markdown(b: MetricsBundle) -> str:
    s = b.statistics
    folds = "\n".join(
        f"| {f.name} | {f.train.first_ts.date()}…{f.train.last_ts.date()} | "
        f"{f.test.first_ts.date()}…{f.test.last_ts.date()} | {f.selected_trial} | "
        f"`{_changed(f.selected_params, b)}` | {_fmt(f.test_returns.sharpe_annual, '.2f')} | "
        f"{f.net_pnl:,.0f} | {f.gross_pnl:,.0f} | {f.max_drawdown:.1%} | {f.trades} | "
        f"{_fmt(f.cost_bps, '.1f')} | {f.regime} |" for f in b.folds)
    stress = "" if b.stress is None else "\n".join(
        _stress_row(r.name, r.metrics, r.delta["net_pnl"]) for r in b.stress.scenarios)
    pbo = s.pbo
    return f"""# Research run: {b.candidate.name} ({b.inputs.strategy})

- hypothesis: {b.candidate.hypothesis}
- dataset: `{b.inputs.dataset_name}` (`{b.inputs.dataset_id[:12]}`), symbols
  {", ".join(b.evaluation.symbols)}, {b.evaluation.n_bars} bars, warm-up
  {b.evaluation.warmup_bars}
- models: `{b.inputs.execution_model.model_id}`, `{b.inputs.cost_model.model_id}`; split
  `{b.candidate.split.kind}`; seed {b.candidate.seed}; candidate `{b.inputs.candidate_hash[:12]}`
- grid: {b.n_grid_points} points, {len(b.trials)} trials, {len(b.invalid_points)} invalid
- selected (final fold): trial {b.selected_trial}, `{b.trials[_position(b)].params}`

![equity](equity.png)

## Folds

Each fold selects the trial with the best train-window Sharpe and is scored on its test
window only. Sharpe annualised with {b.evaluation.periods_per_year:g} bars a year.

{FOLD_HEADER}
{folds}

## Statistics

Per-period Sharpe ratios; standard error `{s.estimator}`; N = {s.n_trials} trials.

| statistic | value |
|---|---|
| OOS Sharpe (annualised) | {_fmt(s.oos.sharpe_annual)} |
| OOS bars | {s.oos.n_obs} |
| PSR (SR > 0) | {_fmt(s.psr)} |
| DSR | {_fmt(s.dsr)} |
| expected max Sharpe SR0 (per period) | {_fmt(s.expected_max_sharpe, '.4f')} |
| variance of trial Sharpes (ddof=1) | {_fmt(s.var_trial_sharpe, '.3g')} |
| MinTRL (bars, α = {s.min_track_record_alpha}) | {_fmt(s.min_track_record_length, '.0f')} |
| PBO | {_fmt(pbo.pbo if pbo else None)} |
| Reality Check p | {_fmt(s.reality_check_pvalue)} |
| SPA p (consistent) | {_fmt(s.spa_pvalue_consistent)} |
| sensitivity score | {_fmt(s.sensitivity.score if s.sensitivity else None)} |

![PBO logits](pbo_logits.png)

![sensitivity](sensitivity.png)

## Stress (selected params, full sample)

| scenario | Sharpe | net PnL | Δ net PnL | max DD |
|---|---|---|---|---|
{_stress_row("baseline", b.selected_metrics, None)}
{stress}
"""


def _stress_row(name: str, m: BacktestMetrics, delta: float | None) -> str:
    return (f"| {name} | {_fmt(m.sharpe, '.2f')} | {m.net_pnl:,.0f} | {_fmt(delta, ',.0f')} | "
            f"{m.max_drawdown:.1%} |")


def _changed(params: dict[str, Any], b: MetricsBundle) -> dict[str, Any]:
    """Only the swept parameters, to keep the table narrow."""
    axes = b.candidate.param_grid or {}
    return {k: v for k, v in params.items() if k in axes} or params


def write_report(run: ResearchRun, directory: Path) -> Path:
    """Write report.md and the plots into an existing (staging) directory."""
    with plt.rc_context(_STYLE):
        _equity_plot(run, directory / PLOTS[0])
        _pbo_plot(run.bundle, directory / PLOTS[1])
        _sensitivity_plot(run.bundle, directory / PLOTS[2])
    path = directory / "report.md"
    path.write_text(report_markdown(run.bundle), encoding="utf-8")
    return path
