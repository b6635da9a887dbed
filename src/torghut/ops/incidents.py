"""Incidents in the ledger: open, update, close, read back, render as Markdown.

An incident is append-only history (DESIGN.md invariant 5): every change is one new
``incidents`` row (class, severity, status — what the hard-stop check reads) plus one
``incident_records`` row holding the whole :class:`IncidentRecord` after the change, both
vouched for by the audit chain and written in the same transaction as the operator's signed
``ops.incident`` action (RTS-28). The newest row per incident id is its current state.

Recovery follows plan-details "Incidents and kill switch": classify and open → contain →
collect evidence → roll back → verify → restart and postmortem. The timeline records those
moments and must be monotonic; closing needs a root-cause classification and a preventive
action linked to a pull request (the governance plan's "Runbook Requirements"), else it is a
refusal with a reason code (exit 1). Bad input is exit 2 and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from torghut.contracts.incidents import (
    CLASS_TITLES,
    TIMELINE_STEPS,
    IncidentClass,
    IncidentNote,
    IncidentRecord,
    IncidentSeverity,
    IncidentStatus,
    IncidentTimeline,
    RootCause,
)
from torghut.errors import NotFoundError, TorghutError
from torghut.governance import guard
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Incident, IncidentRecordRow, PullRequest
from torghut.workspace import Workspace

_E = TypeVar("_E", IncidentClass, IncidentSeverity, IncidentStatus, RootCause)
_LOCAL_PR = re.compile(r"^(?:PR-|#)?(\d+)$", re.IGNORECASE)
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class IncidentChange:
    """What an update or close changes; ``None`` / empty leaves a field as it was."""

    severity: str | None = None
    symbols: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    timeline: dict[str, datetime] = field(default_factory=dict)
    root_cause: str | None = None
    root_cause_detail: str | None = None
    preventive_action: str | None = None
    preventive_pr: str | None = None
    evidence_refs: tuple[str, ...] = ()


def _ts(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as short as the moment allows (for people to read)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def subject(incident_id: str) -> str:
    return f"incident:{incident_id}"


# ----------------------------------------------------------------------------- parsing


def parse_enum(kind: type[_E], value: str, name: str) -> _E:
    """``value`` as a member of ``kind`` (by value or name, any case), else exit 2."""
    text = value.strip()
    for member in kind:
        if text.lower() in (member.value.lower(), member.name.lower()):
            return member
    allowed = ", ".join(m.value for m in kind)
    raise TorghutError(f"{value!r} is not one of {allowed}", field=name)


def parse_moment(text: str, name: str) -> datetime:
    """An ISO 8601 date-time (UTC when it carries no offset), else exit 2 naming ``name``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TorghutError(f"{text!r} is not an ISO 8601 date-time", field=name) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def check_timeline(timeline: IncidentTimeline) -> IncidentTimeline:
    """Detection ≤ containment ≤ rollback ≤ recovery, for the steps that are set."""
    previous: tuple[str, datetime] | None = None
    for step in TIMELINE_STEPS:
        moment = getattr(timeline, step)
        if moment is None:
            continue
        if previous is not None and moment < previous[1]:
            raise TorghutError(f"{step} {_ts(moment)} is before {previous[0]} "
                               f"{_ts(previous[1])}", field=f"timeline.{step}")
        previous = (step, moment)
    return timeline


def _pr_link(session: Session, value: str) -> str:
    """A URL as given, or a local pull request id (``3``, ``#3``, ``PR-3``) that exists in
    the ledger, normalised to ``PR-3``; anything else is exit 2."""
    text = value.strip()
    if _URL.match(text):
        return text
    local = _LOCAL_PR.match(text)
    if local is None:
        raise TorghutError(f"{value!r} is neither a URL nor a pull request id (PR-3)",
                           field="preventive_pr")
    number = int(local.group(1))
    if session.get(PullRequest, number) is None:
        raise NotFoundError(f"no pull request {number} in the ledger", field="preventive_pr")
    return f"PR-{number}"


def _words(values: Iterable[str], name: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = value.strip()
        if not text or any(c.isspace() for c in text):
            raise TorghutError(f"{value!r} is not a symbol or strategy id", field=name)
        if text not in out:
            out.append(text)
    return tuple(out)


# ----------------------------------------------------------------------------- reading


def _rows(session: Session, incident_id: str | None = None) -> dict[str, Incident]:
    """The newest ``incidents`` row of every incident (or of one)."""
    newest = select(func.max(Incident.id)).group_by(Incident.incident_id)
    if incident_id is not None:
        newest = newest.where(Incident.incident_id == incident_id)
    rows = session.scalars(select(Incident).where(Incident.id.in_(newest)))
    return {r.incident_id: r for r in rows}


def _record_of(session: Session, row: Incident) -> IncidentRecord:
    stored = session.scalars(select(IncidentRecordRow).where(
        IncidentRecordRow.incident_row_id == row.id)).first()
    if stored is not None:
        return IncidentRecord.model_validate(stored.record)
    return _legacy_record(session, row)


def _legacy_record(session: Session, row: Incident) -> IncidentRecord:
    """A record for an incident filed without one (before migration 0004): its class,
    severity and status, detected when its first row was written."""
    first = session.scalars(select(Incident).where(Incident.incident_id == row.incident_id)
                            .order_by(Incident.id).limit(1)).one()
    return IncidentRecord.model_construct(
        schema_version="1.0", incident_id=row.incident_id,
        incident_class=parse_enum(IncidentClass, row.incident_class, "incident_class"),
        severity=parse_enum(IncidentSeverity, row.severity, "severity"),
        status=IncidentStatus.CLOSED if row.status == "closed" else IncidentStatus.OPEN,
        summary=first.summary, symbols=(), strategies=(),
        timeline=IncidentTimeline(detected_at=first.created_at), root_cause=None,
        root_cause_detail=None, preventive_action=None, preventive_pr=None,
        evidence_refs=tuple(str(e) for e in row.evidence or ()), opened_by=first.actor,
        opened_at=first.created_at, notes=())


def find_incident(session: Session, incident_id: str) -> IncidentRecord | None:
    """The incident's current state, or ``None`` if the ledger has no such incident (the
    kill-switch release checks its incident id with this, FIA-3)."""
    # control: FIA-3 (a release names an incident id that exists)
    row = _rows(session, incident_id).get(incident_id)
    return None if row is None else _record_of(session, row)


def get_incident(session: Session, incident_id: str) -> IncidentRecord:
    """:func:`find_incident`, or exit 2 naming the unknown id."""
    found = find_incident(session, incident_id)
    if found is None:
        raise NotFoundError(f"no incident {incident_id!r} in the ledger", field="incident_id")
    return found


def list_incidents(session: Session, status: IncidentStatus | None = None
                   ) -> list[IncidentRecord]:
    """Every incident's current state, oldest id first, optionally of one status."""
    rows = _rows(session)
    records = [_record_of(session, rows[key]) for key in sorted(rows)]
    return [r for r in records if status is None or r.status is status]


def next_incident_id(session: Session, detected_at: datetime) -> str:
    """``INC-YYYYMMDD-NNN``: the detection day (UTC) and the next number of that day in
    this ledger — deterministic for a given ledger."""
    prefix = f"INC-{detected_at.astimezone(UTC):%Y%m%d}-"
    used = session.scalars(select(Incident.incident_id).where(
        Incident.incident_id.like(prefix + "%")).distinct())
    numbers = [int(i[len(prefix):]) for i in used if i[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


# ----------------------------------------------------------------------------- writing


def _write(ws: Workspace, ledger: Ledger, record: IncidentRecord, *, verb: str,
           as_identity: str, at: datetime, expected_row: int | None) -> IncidentRecord:
    """Sign the new state as ``as_identity`` and write it (rows + audit) in one transaction;
    a refusal is audited and changes nothing else."""
    sub = subject(record.incident_id)
    body = record.model_dump(mode="json")
    signed = guard.check(ws, ledger, as_identity, Action.OPS_INCIDENT, sub,
                         {"op": verb, "record": body}, signed_at=at)
    with ledger.write() as session:
        latest = _rows(session, record.incident_id).get(record.incident_id)
        if (latest.id if latest is not None else None) != expected_row:
            raise TorghutError("the incident changed while this change was prepared; retry",
                               field="incident_id")
        row = Incident(incident_id=record.incident_id,
                       incident_class=record.incident_class.value,
                       severity=record.severity.value, status=record.status.value,
                       summary=record.summary, evidence=list(record.evidence_refs),
                       actor=signed.actor, created_at=at)
        audit.record(session, row, actor=signed.actor, action=f"ops.incident.{verb}",
                     subject=sub)
        audit.record(session, IncidentRecordRow(
            incident_row_id=row.id, incident_id=record.incident_id, record=body,
            record_sha256=record.content_hash(), created_at=at),
            actor=signed.actor, action=f"ops.incident.{verb}", subject=sub)
        guard.record(session, signed, outcome={"incident_row": row.id, "status": verb})
    return record


def open_incident(ws: Workspace, ledger: Ledger, *, incident_class: str, severity: str,
                  summary: str, as_identity: str, symbols: Iterable[str] = (),
                  strategies: Iterable[str] = (), detected_at: datetime | None = None,
                  evidence_refs: Iterable[str] = (),
                  now: datetime | None = None) -> IncidentRecord:
    """Classify and open an incident (step one of recovery); returns it with its new id."""
    # control: RTS-28 (every incident change is a signed, hash-chained ledger record)
    at = now or datetime.now(UTC)
    klass = parse_enum(IncidentClass, incident_class, "class")
    level = parse_enum(IncidentSeverity, severity, "severity")
    if not summary.strip():
        raise TorghutError("a summary is required", field="summary")
    detected = detected_at or at
    if detected > at:
        raise TorghutError(f"detected_at {_ts(detected)} is in the future",
                           field="timeline.detected_at")
    with ledger.read() as session:
        incident_id = next_incident_id(session, detected)
    record = IncidentRecord(
        incident_id=incident_id, incident_class=klass, severity=level,
        status=IncidentStatus.OPEN, summary=summary.strip(),
        symbols=_words(symbols, "symbols"), strategies=_words(strategies, "strategies"),
        timeline=IncidentTimeline(detected_at=detected),
        evidence_refs=_words(evidence_refs, "evidence_refs"), opened_by=as_identity,
        opened_at=at, notes=(IncidentNote(at=at, actor=as_identity,
                                          status=IncidentStatus.OPEN, text=summary.strip()),))
    return _write(ws, ledger, record, verb="opened", as_identity=as_identity, at=at,
                  expected_row=None)


def _changed(session: Session, current: IncidentRecord, change: IncidentChange, *,
             note: IncidentNote) -> IncidentRecord:
    """``current`` with ``change`` applied (validated: timeline order, PR link)."""
    updates: dict[str, Any] = {"notes": (*current.notes, note), "status": note.status}
    if change.severity is not None:
        updates["severity"] = parse_enum(IncidentSeverity, change.severity, "severity")
    if change.root_cause is not None:
        updates["root_cause"] = parse_enum(RootCause, change.root_cause, "root_cause")
    for name in ("root_cause_detail", "preventive_action"):
        value = getattr(change, name)
        if value is not None and value.strip():
            updates[name] = value.strip()
    if change.preventive_pr is not None:
        updates["preventive_pr"] = _pr_link(session, change.preventive_pr)
    for name in ("symbols", "strategies", "evidence_refs"):
        added = _words(getattr(change, name), name)
        updates[name] = tuple(dict.fromkeys((*getattr(current, name), *added)))
    unknown = set(change.timeline) - set(TIMELINE_STEPS)
    if unknown:
        raise TorghutError(f"unknown timeline step {sorted(unknown)[0]!r}", field="timeline")
    updates["timeline"] = check_timeline(
        current.timeline.model_copy(update=change.timeline))
    for step, moment in change.timeline.items():
        if moment > note.at:
            raise TorghutError(f"{step} {_ts(moment)} is in the future",
                               field=f"timeline.{step}")
    return IncidentRecord.model_validate({**current.model_dump(), **updates})


def _prepare(ledger: Ledger, incident_id: str, change: IncidentChange, note: IncidentNote
             ) -> tuple[IncidentRecord, IncidentRecord, int]:
    with ledger.read() as session:
        row = _rows(session, incident_id).get(incident_id)
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r} in the ledger",
                                field="incident_id")
        current = _record_of(session, row)
        return current, _changed(session, current, change, note=note), row.id


def _refuse(ledger: Ledger, as_identity: str, incident_id: str, refusal: Refusal) -> Refusal:
    guard.record_refusal(ledger, as_identity, Action.OPS_INCIDENT.value, subject(incident_id),
                         refusal)
    return refusal


def update_incident(ws: Workspace, ledger: Ledger, incident_id: str, change: IncidentChange,
                    *, note: str, as_identity: str,
                    now: datetime | None = None) -> IncidentRecord:
    """Record progress: containment, rollback, recovery, impact, evidence, root cause."""
    at = now or datetime.now(UTC)
    if not note.strip():
        raise TorghutError("a note is required", field="note")
    current, record, row_id = _prepare(ledger, incident_id, change, IncidentNote(
        at=at, actor=as_identity, status=IncidentStatus.OPEN, text=note.strip()))
    if current.status is IncidentStatus.CLOSED:
        raise _refuse(ledger, as_identity, incident_id,
                      Refusal("INCIDENT_CLOSED", f"{incident_id} is closed; open a new one"))
    return _write(ws, ledger, record, verb="updated", as_identity=as_identity, at=at,
                  expected_row=row_id)


def close_incident(ws: Workspace, ledger: Ledger, incident_id: str, change: IncidentChange,
                   *, note: str, as_identity: str,
                   now: datetime | None = None) -> IncidentRecord:
    """Close after recovery: needs a root cause and a preventive action linked to a PR.
    Recovery is the close moment unless the timeline already says when it was."""
    at = now or datetime.now(UTC)
    if not note.strip():
        raise TorghutError("a note is required", field="note")
    current, record, row_id = _prepare(ledger, incident_id, change, IncidentNote(
        at=at, actor=as_identity, status=IncidentStatus.CLOSED, text=note.strip()))
    refusal = _close_refusal(current, record)
    if refusal is not None:
        raise _refuse(ledger, as_identity, incident_id, refusal)
    if record.timeline.recovered_at is None:
        record = record.model_copy(update={"timeline": check_timeline(
            record.timeline.model_copy(update={"recovered_at": at}))})
    return _write(ws, ledger, record, verb="closed", as_identity=as_identity, at=at,
                  expected_row=row_id)


def _close_refusal(current: IncidentRecord, record: IncidentRecord) -> Refusal | None:
    if current.status is IncidentStatus.CLOSED:
        return Refusal("INCIDENT_CLOSED", f"{current.incident_id} is already closed")
    if record.root_cause is None:
        return Refusal("INCIDENT_NO_ROOT_CAUSE", "closing needs a root-cause classification "
                       "(--root-cause)")
    if not record.preventive_action:
        return Refusal("INCIDENT_NO_PREVENTIVE_ACTION", "closing needs a preventive action "
                       "(--preventive-action)")
    if not record.preventive_pr:
        return Refusal("INCIDENT_NO_PREVENTIVE_PR", "closing needs the preventive action "
                       "linked to a pull request (--pr PR-N or a URL)")
    return None


# ----------------------------------------------------------------------------- rendering


def _cell(value: object) -> str:
    if value is None or value == ():
        return "-"
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(record: IncidentRecord) -> str:
    """The incident as a Markdown postmortem page (what `incident export` writes)."""
    klass = record.incident_class
    lines = [f"# {record.incident_id}: {record.summary}", "",
             "| field | value |", "|---|---|",
             f"| class | {klass.value} ({CLASS_TITLES[klass]}) |",
             f"| severity | {record.severity.value} |", f"| status | {record.status.value} |",
             f"| impacted symbols | {_cell(record.symbols)} |",
             f"| impacted strategies | {_cell(record.strategies)} |",
             f"| opened by | {_cell(record.opened_by)} at {_cell(record.opened_at)} |",
             f"| evidence | {_cell(record.evidence_refs)} |", "",
             "## Timeline", "", "| step | at |", "|---|---|"]
    lines += [f"| {step.removesuffix('_at').replace('_', ' ')} | "
              f"{_cell(getattr(record.timeline, step))} |" for step in TIMELINE_STEPS]
    lines += ["", "## Root cause", "",
              f"Classification: {_cell(record.root_cause and record.root_cause.value)}", "",
              _cell(record.root_cause_detail), "", "## Preventive action", "",
              f"{_cell(record.preventive_action)} (pull request: "
              f"{_cell(record.preventive_pr)})", "", "## History", "",
              "| at | actor | status | note |", "|---|---|---|---|"]
    lines += [f"| {_cell(n.at)} | {_cell(n.actor)} | {n.status.value} | {_cell(n.text)} |"
              for n in record.notes]
    return "\n".join(lines) + "\n"
