"""``torghut data``: import, sample, synthesise, list, show and check dataset snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.contracts import DatasetManifest, QualityReport, QualityThresholds
from torghut.data.bars import symbol_summary
from torghut.data.importers import import_file
from torghut.data.quality import check_snapshot
from torghut.data.snapshots import list_snapshots, load_snapshot
from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_text
from torghut.yamlio import read_yaml, validate_yaml_model

app = typer.Typer(help="Dataset snapshots: import, sample, synth, list, show, check (Gate 0).",
                  no_args_is_help=True)

TIMEFRAME_HELP = "Bar size: 1m, 5m, 15m, 1h or 1d."
CALENDAR_HELP = "Trading calendar: an exchange code (XNYS, …), 24x5 (FX) or 24x7 (crypto)."


def _created_row(manifest: DatasetManifest, created: bool) -> dict[str, object]:
    return {"dataset_id": manifest.dataset_id, "name": manifest.name, "created": created,
            "rows": manifest.rows, "symbols": list(manifest.symbols),
            "timeframe": manifest.timeframe, "calendar": manifest.calendar}


def _print_created(results: list[tuple[DatasetManifest, bool]]) -> None:
    for manifest, created in results:
        verb = "Created" if created else "Exists "
        console.print(f"{verb} {manifest.dataset_id}  {manifest.name}  "
                      f"({manifest.rows} rows, {len(manifest.symbols)} symbols, "
                      f"{manifest.timeframe}, {manifest.calendar})", markup=False,
                      soft_wrap=True)


def _report_created(results: list[tuple[DatasetManifest, bool]], json_out: bool) -> None:
    if json_out:
        emit_json([_created_row(m, c) for m, c in results])
    else:
        _print_created(results)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV or Parquet OHLCV file.", show_default=False),
    symbol: str | None = typer.Option(None, "--symbol", help="Symbol of a single-symbol file; "
                                      "with a symbol column, import only this symbol."),
    timeframe: str = typer.Option("1d", "--timeframe", help=TIMEFRAME_HELP),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: file stem)."),
    calendar: str = typer.Option("XNYS", "--calendar", help=CALENDAR_HELP),
    tz: str | None = typer.Option(None, "--tz", help="Zone of naive intraday timestamps "
                                  "(default UTC). Daily bars use the date as written."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Import bars from a file into an immutable snapshot (idempotent by content)."""
    ws = workspace(ctx)
    manifest, created = import_file(ws, file, timeframe=timeframe, symbol=symbol, name=name,
                                    calendar=calendar, tz=tz)
    _report_created([(manifest, created)], json_out)


@app.command("sample")
def sample(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Build the real-data sample snapshot (S&P 500 + NASDAQ daily, from the arch package)."""
    from torghut.data.sample import build_samples  # arch imports scipy (~1 s): only here

    _report_created(build_samples(workspace(ctx)), json_out)


@app.command("synth")
def synth(
    ctx: typer.Context,
    symbols: int = typer.Option(..., "--symbols", help="Number of symbols."),
    bars: int = typer.Option(..., "--bars", help="Bars per symbol."),
    timeframe: str = typer.Option("1d", "--timeframe", help=TIMEFRAME_HELP),
    seed: int = typer.Option(..., "--seed", help="Seed of every random draw."),
    regimes: bool = typer.Option(False, "--regimes",
                                 help="Switch between trend, mean-reverting and high-volatility "
                                 "regimes."),
    planted_edge: float | None = typer.Option(
        None, "--planted-edge", help="Plant a time-series-momentum edge whose ideal strategy "
        "has this annualised Sharpe."),
    edge_lookback: int = typer.Option(20, "--edge-lookback",
                                      help="Trailing bars of the momentum signal."),
    calendar: str = typer.Option("XNYS", "--calendar", help=CALENDAR_HELP),
    start: str = typer.Option("2010-01-04", "--start", help="First session (date)."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default from args)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Generate seeded synthetic bars (same arguments ⇒ same dataset id)."""
    from torghut.data.synth import SynthSpec, build_synth  # numba: import only when needed

    spec = SynthSpec(symbols=symbols, bars=bars, timeframe=timeframe, seed=seed,
                     regimes=regimes, planted_edge=planted_edge, edge_lookback=edge_lookback,
                     calendar=calendar, start=start).validate()
    ws = workspace(ctx)
    _report_created([build_synth(ws, spec, name=name)], json_out)


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List every snapshot in the workspace."""
    manifests = list_snapshots(workspace(ctx))
    if json_out:
        emit_json(manifests)
        return
    table = Table("id", "name", "tf", "calendar", "symbols", "rows", "start", "end", "source")
    for m in manifests:
        table.add_row(m.dataset_id[:12], Text(m.name), m.timeframe, m.calendar, str(len(m.symbols)),
                      str(m.rows), m.start.date().isoformat(), m.end.date().isoformat(),
                      m.source.kind.value)
    console.print(table)


@app.command("show")
def show(ctx: typer.Context,
         ref: str = typer.Argument(..., help="Dataset id, unique id prefix, or name."),
         json_out: bool = JSON_OPTION) -> None:
    """Show a snapshot's manifest and per-symbol coverage (verifies its content hash)."""
    snapshot = load_snapshot(workspace(ctx), ref)
    summary = symbol_summary(snapshot.bars())
    if json_out:
        emit_json({"manifest": snapshot.manifest, "symbols": summary,
                   "path": str(snapshot.path)})
        return
    m = snapshot.manifest
    console.print(Text(f"{m.name}  {m.dataset_id}", style="bold"), soft_wrap=True)
    for label, value in (("path", snapshot.path), ("timeframe", m.timeframe),
                         ("calendar", m.calendar), ("rows", m.rows),
                         ("span", f"{m.start.isoformat()} .. {m.end.isoformat()}"),
                         ("quotes", "yes" if m.has_quotes else "no"),
                         ("source", f"{m.source.kind.value}: {m.source.description}"),
                         ("provider", m.source.provider or "-"),
                         ("licence", m.source.licence or "-"),
                         ("bars_sha256", m.bars_sha256)):
        console.print(f"  {label:<12} {value}", markup=False, soft_wrap=True)
    table = Table("symbol", "rows", "first", "last")
    for row in summary:
        table.add_row(str(row["symbol"]), str(row["rows"]), str(row["first"]), str(row["last"]))
    console.print(table)


@app.command("check")
def check(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Dataset id, unique id prefix, or name."),
    universe: str | None = typer.Option(None, "--universe",
                                        help="Comma-separated symbols (default: the "
                                        "snapshot's symbols)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Evaluation time, ISO 8601 "
                                     "(default: the last bar; naive means UTC)."),
    thresholds: Path | None = typer.Option(None, "--thresholds",
                                           help="YAML/JSON QualityThresholds file."),
    out: Path | None = typer.Option(None, "--out", help="Also write the report JSON here."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Gate 0 data-quality report. Exit 0 pass, 1 failing findings, 2 bad input."""
    limits = _read_thresholds(thresholds) if thresholds else None
    symbols = _parse_universe(universe) if universe is not None else None
    stamp = _parse_as_of(as_of) if as_of is not None else None
    snapshot = load_snapshot(workspace(ctx), ref)
    report = check_snapshot(snapshot, universe=symbols, as_of=stamp, thresholds=limits)
    if out is not None:
        _write_report(out, report)
    if json_out:
        emit_json(report)
    else:
        _print_report(report, snapshot.manifest.name)
    if not report.passed:
        raise typer.Exit(code=1)


def _write_report(path: Path, report: QualityReport) -> None:
    text = json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise TorghutError(f"cannot write report: {exc.strerror or exc}", file=path) from None


def _read_thresholds(path: Path) -> QualityThresholds:
    return validate_yaml_model(QualityThresholds, read_yaml(path), file=path)


def _parse_universe(text: str) -> list[str]:
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise TorghutError("empty universe", field="universe")
    return symbols


def _parse_as_of(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise TorghutError(f"not an ISO 8601 time: {text!r}", field="as-of") from None
    if pd.isna(stamp):
        raise TorghutError(f"not an ISO 8601 time: {text!r}", field="as-of")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _print_report(report: QualityReport, name: str) -> None:
    status = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    console.print(f"Gate 0 data quality: {status}  {name}  {report.dataset_id[:12]}  "
                  f"as of {report.as_of.isoformat()}", soft_wrap=True)
    metrics = Table("metric", "value")
    for key, value in sorted(report.metrics.items()):
        metrics.add_row(key, f"{value:g}")
    console.print(metrics)
    if report.findings:
        findings = Table("severity", "code", "symbol", "message")
        for f in report.findings:
            findings.add_row(f.severity.value, f.code, f.symbol or "", Text(f.message))
        console.print(findings)
