"""``torghut strategy`` (list, validate, conformance) and the top-level ``torghut signals``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.table import Column, Table

from torghut.cli.common import (
    DATASET_OPTION,
    JSON_OPTION,
    STRATEGY_OPTION,
    console,
    emit_json,
    err_console,
    workspace,
)
from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_bytes
from torghut.strategies.catalog import validate_catalog_file
from torghut.strategies.conformance import DEFAULT_P99_BUDGET_US, resolve_params, run_conformance
from torghut.strategies.registry import Registry, describe
from torghut.strategies.runner import (
    batch_exposures,
    encode_signals,
    sample_feature_sets,
    signal_table,
    snapshot_feature_set,
)

app = typer.Typer(help="Strategy plugins: list them, validate a catalog, run conformance.",
                  no_args_is_help=True)

PARAMS_OPTION = typer.Option(None, "--params", metavar="JSON",
                             help='Plugin params as a JSON object, e.g. \'{"lookback": 120}\'.')
OUTPUT_FORMATS = (".csv", ".parquet")


def parse_params(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TorghutError(f"malformed JSON: {exc.msg} at column {exc.colno}",
                           field="--params") from None
    if not isinstance(value, dict):
        raise TorghutError(f"expected a JSON object, got {type(value).__name__}",
                           field="--params")
    return value


@app.command("list")
def list_(json_out: bool = JSON_OPTION) -> None:
    """Registered plugins: version, status (static-check refusals too), warm-up, features."""
    rows = [describe(record) for record in Registry.from_entry_points().records()]
    if json_out:
        emit_json(rows)
        return
    table = Table(Column("plugin", no_wrap=True), "status", "warm-up",
                  Column("features", overflow="fold"), Column("params", overflow="fold"))
    for row in rows:
        params = "\n".join(f"{k}={v.get('default', '<required>')}"
                           for k, v in row.get("params", {}).items())
        table.add_row(row["name"], row["status"], str(row.get("warmup_bars", "")),
                      "\n".join(row.get("required_features", [])), params)
    console.print(table)
    for row in rows:  # reasons in full, below the table, so they are never truncated
        for reason in [*row["reasons"], *([row["error"]] if "error" in row else [])]:
            console.print(f"{row['name']} ({row['source']}): {reason}", markup=False,
                          soft_wrap=True)


@app.command("validate")
def validate(
    catalog: Path = typer.Argument(..., help="Catalog YAML: bare, or the ConfigMap form.",
                                   show_default=False),
    json_out: bool = JSON_OPTION,
) -> None:
    """Check a catalog's schema and resolve every entry; errors as file:line: field: msg."""
    result = validate_catalog_file(catalog, Registry.from_entry_points())
    entries = [{"strategy_id": e.definition.strategy_id, "ref": e.definition.ref,
                "status": e.status.value, "enabled": e.definition.enabled,
                "reasons": [str(r) for r in e.reasons]} for e in result.entries]
    if json_out:
        emit_json({"file": str(catalog), "ok": result.ok,
                   "errors": [str(e) for e in result.errors], "entries": entries})
    else:
        for error in result.errors:
            err_console.print(f"error: {error}", markup=False, soft_wrap=True)
        if result.ok:
            ready = sum(e["status"] == "ready" for e in entries)
            enabled = sum(bool(e["enabled"]) for e in entries)
            console.print(f"{catalog}: OK — {len(entries)} entries, {ready} ready, "
                          f"{enabled} enabled", markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(2)


@app.command("conformance")
def conformance(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="TYPE@VERSION", show_default=False),
    dataset: str | None = typer.Option(None, "--dataset",
                                       help="Snapshot id, prefix or name (default: the "
                                       "real sample data, in memory)."),
    params: str | None = PARAMS_OPTION,
    p99_budget_us: float = typer.Option(DEFAULT_P99_BUDGET_US, "--p99-budget-us", min=0.0,
                                        help="Per-event on_event p99 budget."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Run the SDK conformance checks on a plugin; exit 1 if any check fails."""
    raw = parse_params(params)
    plugin = Registry.from_entry_points().plugin(ref)
    resolve_params(plugin, raw)  # fail fast, before loading any data
    sets = [snapshot_feature_set(workspace(ctx), dataset)] if dataset else sample_feature_sets()
    report = run_conformance(plugin, sets, params=raw, p99_budget_us=p99_budget_us)
    if json_out:
        emit_json(report.to_dict())
    else:
        for check in report.checks:
            mark = "PASS" if check.passed else "FAIL"
            console.print(f"{mark}  {check.name:<18} {check.detail}", markup=False,
                          soft_wrap=True)
        failed = [c.name for c in report.checks if not c.passed]
        verdict = f"FAILED: {', '.join(failed)}" if failed else "all checks passed"
        console.print(f"{report.ref} on {', '.join(report.datasets)}: {verdict}",
                      markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.passed else 1)


def signals(
    ctx: typer.Context,
    strategy: str = STRATEGY_OPTION,
    dataset: str = DATASET_OPTION,
    params: str | None = PARAMS_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Write the table to .csv or .parquet "
                                    "(atomically)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Target exposures of a plugin on a snapshot: one row per bar (ts, symbol, exposure)."""
    if out is not None and json_out:
        raise TorghutError("give --json or --out, not both", field="--out")
    if out is not None and out.suffix.lower() not in OUTPUT_FORMATS:
        raise TorghutError(f"must end in {' or '.join(OUTPUT_FORMATS)}", file=out,
                           field="--out")
    raw = parse_params(params)
    plugin = Registry.from_entry_points().plugin(strategy)
    validated = resolve_params(plugin, raw)
    features = snapshot_feature_set(workspace(ctx), dataset)
    table = signal_table(features.frame, batch_exposures(plugin, features.frame, validated))
    if out is not None:
        try:
            atomic_write_bytes(out, encode_signals(table, out.suffix.lower()))
        except OSError as exc:
            raise TorghutError(f"cannot write: {exc.strerror or exc}", file=out,
                               field="--out") from None
        console.print(f"Wrote {len(table)} rows to {out}", markup=False, soft_wrap=True)
    elif json_out:
        emit_json([{"ts": ts.isoformat(), "symbol": sym, "exposure": float(x)}
                   for ts, sym, x in zip(table["ts"], table["symbol"], table["exposure"],
                                         strict=True)])
    else:
        console.print(_summary(table))


def _summary(table: pd.DataFrame) -> Table:
    out = Table("symbol", "bars", "long", "short", "flat", "changes", "last exposure",
                title="Target exposure by symbol (use --out or --json for every bar)")
    for symbol, group in table.groupby("symbol", sort=True):
        x = group["exposure"].to_numpy()
        out.add_row(str(symbol), str(len(x)), _share(x > 0), _share(x < 0), _share(x == 0),
                    str(int(np.count_nonzero(np.diff(x)))), f"{x[-1]:+.3f}")
    return out


def _share(mask: np.ndarray) -> str:
    return f"{mask.mean():.0%}"
