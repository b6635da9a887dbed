"""``torghut incident open | update | close | show | list | export`` (operations lane)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.contracts.incidents import CLASS_TITLES, IncidentRecord, IncidentStatus
from torghut.fsutil import atomic_write_text
from torghut.ledger import open_ledger
from torghut.ops.incidents import (
    IncidentChange,
    close_incident,
    get_incident,
    list_incidents,
    open_incident,
    parse_enum,
    parse_moment,
    to_markdown,
    update_incident,
)

app = typer.Typer(help="Incidents: classify and open, record the recovery timeline, close "
                  "with root cause and a preventive PR.", no_args_is_help=True)

AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The operations identity acting (signs with keys/IDENTITY.key).")
SYMBOL_OPTION = typer.Option([], "--symbol", help="An impacted symbol (repeatable).")
STRATEGY_OPTION = typer.Option([], "--strategy", help="An impacted strategy id (repeatable).")
EVIDENCE_OPTION = typer.Option([], "--evidence", help="An evidence ref: artifact digest, "
                               "session or event id (repeatable).")
NOTE_OPTION = typer.Option(..., "--note", help="What happened or was done.",
                           show_default=False)


def _when(text: str | None, step: str, option: str) -> dict[str, datetime]:
    return {} if text is None else {step: parse_moment(text, option)}


def _change(severity: str | None, symbols: list[str], strategies: list[str],
            contained: str | None, rolled_back: str | None, recovered: str | None,
            root_cause: str | None, detail: str | None, action: str | None, pr: str | None,
            evidence: list[str]) -> IncidentChange:
    timeline = {**_when(contained, "contained_at", "--contained"),
                **_when(rolled_back, "rolled_back_at", "--rolled-back"),
                **_when(recovered, "recovered_at", "--recovered")}
    return IncidentChange(severity=severity, symbols=tuple(symbols),
                          strategies=tuple(strategies), timeline=timeline,
                          root_cause=root_cause, root_cause_detail=detail,
                          preventive_action=action, preventive_pr=pr,
                          evidence_refs=tuple(evidence))


def _print(record: IncidentRecord, json_out: bool) -> None:
    if json_out:
        emit_json(record)
        return
    console.print(f"{record.incident_id} [{record.status.value}] class "
                  f"{record.incident_class.value} ({CLASS_TITLES[record.incident_class]}), "
                  f"{record.severity.value}: {record.summary}", markup=False)


def _apply(ctx: typer.Context, step: Callable[..., IncidentRecord], incident_id: str,
           change: IncidentChange, note: str, as_identity: str, json_out: bool) -> None:
    """Run an update or close step on the workspace's ledger and print the result."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        record = step(ws, ledger, incident_id, change, note=note, as_identity=as_identity)
    _print(record, json_out)


@app.command("open")
def open_cmd(
        ctx: typer.Context,
        incident_class: str = typer.Option(..., "--class", metavar="A|B|C|D",
                                           show_default=False, help="A data integrity, B "
                                           "execution/risk control, C infrastructure/"
                                           "runtime, D model/strategy drift."),
        severity: str = typer.Option(..., "--severity", metavar="low|medium|high|critical",
                                     show_default=False),
        summary: str = typer.Option(..., "--summary", show_default=False),
        symbols: list[str] = SYMBOL_OPTION, strategies: list[str] = STRATEGY_OPTION,
        detected: str | None = typer.Option(None, "--detected", metavar="ISO",
                                            help="When it was detected (default: now; "
                                            "UTC without an offset)."),
        evidence: list[str] = EVIDENCE_OPTION, as_identity: str = AS_OPTION,
        json_out: bool = JSON_OPTION) -> None:
    """Classify and open an incident; prints its new id (INC-YYYYMMDD-NNN)."""
    ws = workspace(ctx)
    detected_at = None if detected is None else parse_moment(detected, "--detected")
    with open_ledger(ws) as ledger:
        record = open_incident(ws, ledger, incident_class=incident_class, severity=severity,
                               summary=summary, as_identity=as_identity, symbols=symbols,
                               strategies=strategies, detected_at=detected_at,
                               evidence_refs=evidence)
    _print(record, json_out)


ROOT_CAUSE_OPTION = typer.Option(None, "--root-cause", help="data_quality, code_defect, "
                                 "config_change, infrastructure, third_party, market_event, "
                                 "model_drift or human_error.")
DETAIL_OPTION = typer.Option(None, "--root-cause-detail", help="The root cause in words.")
ACTION_OPTION = typer.Option(None, "--preventive-action", help="What stops it recurring.")
PR_OPTION = typer.Option(None, "--pr", metavar="PR-N|URL",
                         help="The pull request carrying the preventive action.")
SEVERITY_OPTION = typer.Option(None, "--severity", metavar="low|medium|high|critical")
CONTAINED_OPTION = typer.Option(None, "--contained", metavar="ISO", help="Contained at.")
ROLLED_BACK_OPTION = typer.Option(None, "--rolled-back", metavar="ISO",
                                  help="Rolled back at.")
RECOVERED_OPTION = typer.Option(None, "--recovered", metavar="ISO", help="Recovered at.")


@app.command("update")
def update_cmd(ctx: typer.Context, incident_id: str = typer.Argument(..., metavar="ID"),
               note: str = NOTE_OPTION, severity: str | None = SEVERITY_OPTION,
               symbols: list[str] = SYMBOL_OPTION, strategies: list[str] = STRATEGY_OPTION,
               contained: str | None = CONTAINED_OPTION,
               rolled_back: str | None = ROLLED_BACK_OPTION,
               recovered: str | None = RECOVERED_OPTION,
               root_cause: str | None = ROOT_CAUSE_OPTION, detail: str | None = DETAIL_OPTION,
               action: str | None = ACTION_OPTION, pr: str | None = PR_OPTION,
               evidence: list[str] = EVIDENCE_OPTION, as_identity: str = AS_OPTION,
               json_out: bool = JSON_OPTION) -> None:
    """Record progress: containment, rollback, recovery, impact, evidence, root cause."""
    change = _change(severity, symbols, strategies, contained, rolled_back, recovered,
                     root_cause, detail, action, pr, evidence)
    _apply(ctx, update_incident, incident_id, change, note, as_identity, json_out)


@app.command("close")
def close_cmd(ctx: typer.Context, incident_id: str = typer.Argument(..., metavar="ID"),
              note: str = NOTE_OPTION, root_cause: str | None = ROOT_CAUSE_OPTION,
              detail: str | None = DETAIL_OPTION, action: str | None = ACTION_OPTION,
              pr: str | None = PR_OPTION, recovered: str | None = RECOVERED_OPTION,
              as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Close after recovery: needs a root cause and a preventive action linked to a PR
    (else exit 1 with a reason code)."""
    change = _change(None, [], [], None, None, recovered, root_cause, detail, action, pr, [])
    _apply(ctx, close_incident, incident_id, change, note, as_identity, json_out)


@app.command("show")
def show_cmd(ctx: typer.Context, incident_id: str = typer.Argument(..., metavar="ID"),
             json_out: bool = JSON_OPTION) -> None:
    """One incident's current state (Markdown, or the record as JSON)."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger, ledger.read() as session:
        record = get_incident(session, incident_id)
    if json_out:
        emit_json(record)
    else:
        typer.echo(to_markdown(record), nl=False)


@app.command("list")
def list_cmd(ctx: typer.Context,
             status: str | None = typer.Option(None, "--status", metavar="open|closed"),
             json_out: bool = JSON_OPTION) -> None:
    """Every incident's current state, oldest first."""
    ws = workspace(ctx)
    wanted = None if status is None else parse_enum(IncidentStatus, status, "--status")
    with open_ledger(ws) as ledger, ledger.read() as session:
        records = list_incidents(session, wanted)
    if json_out:
        emit_json(records)
        return
    if not records:
        console.print("no incidents", markup=False)
    for record in records:
        _print(record, False)


@app.command("export")
def export_cmd(ctx: typer.Context, incident_id: str = typer.Argument(..., metavar="ID"),
               out: Path = typer.Option(..., "--out", metavar="FILE", dir_okay=False,
                                        show_default=False, help="Markdown file to write.")
               ) -> None:
    """Write the incident as a Markdown postmortem page."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger, ledger.read() as session:
        record = get_incident(session, incident_id)
    atomic_write_text(out, to_markdown(record))
    console.print(f"wrote {out}", markup=False)
