"""``torghut research run CANDIDATE.yaml``: trials, walk-forward, statistics and stress."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from torghut.cli.common import JSON_OPTION, console, emit_json, err_console, workspace
from torghut.errors import TorghutError
from torghut.lanes.research import candidate_id, record_run
from torghut.ledger import open_ledger
from torghut.research.bundle import check_output, default_output, write_run
from torghut.research.candidate import load_candidate
from torghut.research.executors import EXECUTORS
from torghut.research.executors import Progress as Advance
from torghut.research.run import ProgressFactory, ResearchRun, RunOptions, run_research
from torghut.workspace import Workspace

app = typer.Typer(help="Research runs: trials, walk-forward, stress and statistics.",
                  no_args_is_help=True)


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressFactory | None]:
    """Rich progress bars on stderr (only for a terminal; never with --json)."""
    if not enabled:
        yield None
        return
    bars = Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                    transient=True)

    def start(label: str, total: int) -> Advance:
        task = bars.add_task(label, total=total)
        return lambda n: bars.advance(task, n)

    with bars:
        yield start


@app.command("run")
def run(
    ctx: typer.Context,
    candidate: Path = typer.Argument(..., help="Candidate spec (YAML).", dir_okay=False),
    out: Path | None = typer.Option(None, "--out", file_okay=False,
                                    help="Output directory (default: <workspace>/artifacts/"
                                    "research/<candidate hash[:12]>)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory "
                               "(the new one is complete before the old one goes)."),
    executor: str = typer.Option("local", "--executor",
                                 help=f"Where trials run: {', '.join(EXECUTORS)}."),
    workers: int = typer.Option(os.cpu_count() or 1, "--workers", help="Worker processes."),
    n_trials: int | None = typer.Option(None, "--n-trials", help="N for the deflated Sharpe "
                                        "ratio (default: the trials of this run)."),
    reps: int = typer.Option(1000, "--bootstrap-reps", help="Reality Check / SPA resamples."),
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Write report.md and PNG plots beside bundle.json."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Run a candidate's trials, folds, statistics and stress; write a MetricsBundle."""
    try:
        spec = load_candidate(candidate)
        ws = workspace(ctx)
        target = out if out is not None else default_output(ws, spec)
        check_output(target, force=force)
        with _progress(not json_out and sys.stderr.isatty()) as progress:
            result = run_research(ws, spec, RunOptions(
                executor=executor, workers=workers, n_trials=n_trials, bootstrap_reps=reps,
                progress=progress))
        path, run_id = _write_and_record(ws, result, target, force=force, report=report)
    except TorghutError as exc:
        if exc.file is None:  # e.g. an unknown model id: point at the spec that named it
            exc.file = str(candidate)
        raise
    b = result.bundle
    s = b.statistics
    cid = candidate_id(run_id, b)
    if json_out:
        emit_json({"bundle": str(path), "run_id": run_id, "candidate_id": cid,
                   "candidate_hash": b.inputs.candidate_hash,
                   "dataset_id": b.inputs.dataset_id, "trials": len(b.trials),
                   "selected_trial": b.selected_trial,
                   "oos_sharpe_annual": s.oos.sharpe_annual, "psr": s.psr, "dsr": s.dsr,
                   "pbo": s.pbo.pbo if s.pbo else None,
                   "reality_check_pvalue": s.reality_check_pvalue})
        return
    console.print(f"{b.inputs.strategy} on {b.inputs.dataset_name}: {len(b.trials)} trials, "
                  f"{len(b.folds)} folds; OOS Sharpe {_fmt(s.oos.sharpe_annual)}, "
                  f"PSR {_fmt(s.psr)}, DSR {_fmt(s.dsr)}, "
                  f"PBO {_fmt(s.pbo.pbo if s.pbo else None)}", markup=False)
    console.print(f"Bundle: {path}", markup=False, soft_wrap=True)
    console.print(f"Recorded run {run_id}, candidate {cid}", markup=False, soft_wrap=True)


def _write_and_record(ws: Workspace, result: ResearchRun, target: Path, *, force: bool,
                      report: bool) -> tuple[Path, str]:
    """Write the output directory, then record the run in one ledger transaction.

    The ledger is opened first, so an unreachable or misconfigured ledger fails before
    anything is written; if recording fails, a directory this call created is removed
    again (a ``--force`` replacement stays: it is a complete result, merely unrecorded).
    """
    with open_ledger(ws) as ledger:
        existed = target.exists()
        path = write_run(result, target, force=force, report=report)
        try:
            run_id = record_run(ledger, result, actor=result.bundle.candidate.author)
        except BaseException:
            if not existed:
                shutil.rmtree(target, ignore_errors=True)
            raise
    return path, run_id


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
