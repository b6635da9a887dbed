"""The drill's incident record: opened, updated along its timeline, closed.

TODO(incidents): ``torghut.ops.incidents`` (open/update/close with its own contract) is
being written; until it lands this module files the same facts the way every other
operations action is filed — an ``incidents`` history row per status change (append-only:
an update is a new row for the same incident id), vouched for by its audit event, and the
operator's signed ``ops.incident`` action. Switch the three functions to that module then.
"""

from __future__ import annotations

from datetime import UTC, datetime

from torghut.governance import guard
from torghut.governance.rights import Action
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Incident
from torghut.workspace import Workspace

# A planned drill is a runtime exercise (class C), not a failed risk control (class B: an
# open class-B incident is itself a hard stop, which would hide the kill switch's).
DRILL_CLASS = "C"
DRILL_SEVERITY = "medium"


def open_incident(ws: Workspace, ledger: Ledger, *, summary: str, as_identity: str) -> str:
    incident_id = f"INC-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    _file(ws, ledger, incident_id, "open", summary, as_identity)
    return incident_id


def update_incident(ws: Workspace, ledger: Ledger, incident_id: str, *, note: str,
                    as_identity: str) -> str:
    _file(ws, ledger, incident_id, "updated", note, as_identity)
    return note


def close_incident(ws: Workspace, ledger: Ledger, incident_id: str, *, note: str,
                   as_identity: str) -> str:
    _file(ws, ledger, incident_id, "closed", note, as_identity)
    return note


def _file(ws: Workspace, ledger: Ledger, incident_id: str, status: str, text: str,
          as_identity: str) -> None:
    subject = f"incident:{incident_id}"
    signed = guard.check(ws, ledger, as_identity, Action.OPS_INCIDENT, subject,
                         {"status": status, "text": text})
    with ledger.write() as session:
        audit.record(session, Incident(incident_id=incident_id, incident_class=DRILL_CLASS,
                                       severity=DRILL_SEVERITY, status=status, summary=text,
                                       evidence=[], actor=as_identity),
                     actor=as_identity, action=f"ops.incident.{status}", subject=subject)
        guard.record(session, signed)
