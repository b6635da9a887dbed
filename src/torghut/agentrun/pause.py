"""Pausing and resuming a lane, from the audit chain alone.

A lane's state is not a row that can drift from history: it is read from the ledger's
``agentrun.*`` events. Since the last reset (a successful run on the lane, a pause, or a
resume), failures of one class are counted; reaching the policy's count
(:data:`~torghut.agentrun.failures.RULES`) appends ``agentrun.paused``. A paused lane
refuses every new run (``LANE_PAUSED``, exit 1) until an operations identity resumes it
with a reason (``agentrun.resumed``, signed, with the ``agentrun.resume`` right).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from torghut.agentrun.failures import RULES, FailureClass
from torghut.errors import TorghutError
from torghut.governance import guard
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.ledger import Ledger, audit
from torghut.ledger.models import AuditEventRow
from torghut.workspace import Workspace

PAUSED = "agentrun.paused"
RESUMED = "agentrun.resumed"
_LANE_ACTIONS = ("agentrun.failed", "agentrun.finished", PAUSED, RESUMED)


def lane_subject(lane: str) -> str:
    return f"lane:{lane}"


def lane_history(ledger: Ledger, lane: str) -> list[dict[str, Any]]:
    """The lane's ``agentrun.*`` events (failed, finished, paused, resumed), oldest first."""
    query = select(AuditEventRow.seq, AuditEventRow.action, AuditEventRow.payload).where(
        AuditEventRow.action.in_(_LANE_ACTIONS)).order_by(AuditEventRow.seq)
    with ledger.read() as session:
        rows = [{"seq": r.seq, "action": r.action, "payload": json.loads(r.payload)}
                for r in session.execute(query)]
    return [r for r in rows if r["payload"].get("lane") == lane]


def _since_reset(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for i in range(len(history) - 1, -1, -1):
        ev = history[i]
        if ev["action"] in (PAUSED, RESUMED) or (
                ev["action"] == "agentrun.finished" and ev["payload"].get("status") == "succeeded"):
            return history[i + 1:]
    return history


def paused_event(ledger: Ledger, lane: str) -> dict[str, Any] | None:
    """The event that paused ``lane``, if it is paused now."""
    marks = [e for e in lane_history(ledger, lane) if e["action"] in (PAUSED, RESUMED)]
    return marks[-1] if marks and marks[-1]["action"] == PAUSED else None


def lane_states(ledger: Ledger, lanes: list[str]) -> dict[str, dict[str, Any]]:
    """Per lane: paused or active, and failures per class since the last reset."""
    out: dict[str, dict[str, Any]] = {}
    for lane in lanes:
        history = lane_history(ledger, lane)
        counts: dict[str, int] = {}
        for ev in _since_reset(history):
            if ev["action"] == "agentrun.failed":
                cls = ev["payload"].get("failure_class", "?")
                counts[cls] = counts.get(cls, 0) + 1
        paused = paused_event(ledger, lane)
        out[lane] = {"state": "paused" if paused else "active", "failures": counts,
                     "paused_reason": paused["payload"].get("reason") if paused else None}
    return out


def pause_if_due(ledger: Ledger, lane: str, cls: FailureClass, actor: str) -> bool:
    """Pause ``lane`` when ``cls`` failures since the last reset reach the policy's count."""
    history = lane_history(ledger, lane)
    if paused_event(ledger, lane) is not None:
        return True
    count = sum(1 for e in _since_reset(history) if e["action"] == "agentrun.failed"
                and e["payload"].get("failure_class") == cls.value)
    limit = RULES[cls].pause_after
    if count < limit:
        return False
    with ledger.write() as session:
        audit.append(session, actor, PAUSED, lane_subject(lane),
                     {"lane": lane, "failure_class": cls.value, "failures": count,
                      "reason": f"{count} {cls.value} failure(s) in a row (pause after "
                      f"{limit})"})
    return True


def refuse_if_paused(ledger: Ledger, lane: str, actor: str, run_name: str) -> None:
    event = paused_event(ledger, lane)
    if event is None:
        return
    refusal = Refusal("LANE_PAUSED", f"lane {lane!r} is paused ({event['payload'].get('reason')}"
                      f"); an operations identity must `torghut agentrun resume {lane}`")
    guard.record_refusal(ledger, actor, "agentrun.exec", run_name, refusal,
                         payload={"lane": lane})
    raise refusal


def resume(ws: Workspace, ledger: Ledger, lane: str, *, reason: str, as_identity: str) -> int:
    """Resume a paused lane (signed ``agentrun.resume``); returns the resumed event's seq."""
    if not reason.strip():
        raise TorghutError("a reason is required", field="--reason")
    if paused_event(ledger, lane) is None:
        raise TorghutError(f"lane {lane!r} is not paused", field="LANE")
    subject = lane_subject(lane)
    payload = {"lane": lane, "reason": reason}
    signed = guard.check(ws, ledger, as_identity, Action.AGENTRUN_RESUME, subject, payload)
    with ledger.write() as session:
        guard.record(session, signed)
        event = audit.append(session, as_identity, RESUMED, subject, payload)
    return event.seq
