"""The advisory path's record: audit events are the only store (control AI-R2).

``advisory.call`` — one per call, actor = the identity that asked, subject
``advisory:<call_id>``; payload: prompt id, version and sha256, model, endpoint, stage,
request and input hashes, the response text, the parsed answer or the error class, latency,
and the deterministic outcome it is compared with. ``advisory.decide`` — the human's
accept/reject of a call's advice (signed; written by the CLI through the guard).

:func:`measure` is what the ``llm_reliability`` hard stop reads: the stage on GitOps
``main`` and the reliability of the newest ``llm_window_calls`` calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.advisory.config import AdvisoryConfig
from torghut.advisory.reliability import CallRecord, Reliability, to_contract
from torghut.advisory.reliability import measure as measure_records
from torghut.contracts.gates import GatePolicy, LlmReliability
from torghut.errors import NotFoundError
from torghut.gates.policy import POLICY_PATH, default_policy, parse_policy
from torghut.gitops.repo import MAIN, show
from torghut.ledger import Ledger, audit
from torghut.ledger.audit import AuditEvent
from torghut.ledger.models import AuditEventRow
from torghut.workspace import Workspace

CALL_ACTION = "advisory.call"
DECIDE_ACTION = "advisory.decide"


def subject_of(call_id: str) -> str:
    return f"advisory:{call_id}"


def record_call(ledger: Ledger, actor: str, payload: Mapping[str, Any], *,
                now: datetime | None = None) -> AuditEvent:
    """Append one ``advisory.call`` event in its own transaction."""
    # control: AI-R2
    with ledger.write() as session:
        event = audit.NewEvent(actor, CALL_ACTION, subject_of(str(payload["call_id"])),
                               dict(payload))
        return audit.append_many(session, [event], now=now)[0]


def recent_calls(session: Session, window: int) -> list[CallRecord]:
    """The newest ``window`` recorded calls, oldest first."""
    rows = session.execute(
        select(AuditEventRow.payload, AuditEventRow.ts).where(AuditEventRow.action == CALL_ACTION)
        .order_by(AuditEventRow.seq.desc()).limit(window)).all()
    return [CallRecord.from_payload(json.loads(r.payload), r.ts) for r in reversed(rows)]


def find_call(session: Session, call_id: str) -> AuditEvent:
    """The ``advisory.call`` event of ``call_id`` (unknown: exit 2)."""
    for event in audit.log(session, subject_of(call_id)):
        if event.action == CALL_ACTION:
            return event
    raise NotFoundError(f"no advisory call {call_id!r} in the audit chain "
                        "(ids are printed by `torghut advisory summarise|propose|review`)",
                        field="call_id")


def decisions(session: Session, call_id: str) -> list[AuditEvent]:
    return [e for e in audit.log(session, subject_of(call_id)) if e.action == DECIDE_ACTION]


def gate_policy(ws: Workspace) -> GatePolicy:
    """The gate policy on ``main`` (its hard-stop thresholds and window); the documented
    default when ``main`` holds none, as a fresh workspace's would."""
    text = show(ws.gitops_dir, POLICY_PATH, MAIN)
    if text is None:
        return default_policy()
    return parse_policy(text, file=f"{ws.gitops_dir / POLICY_PATH}@{MAIN}")


def window_reliability(session: Session, policy: GatePolicy) -> Reliability:
    return measure_records(recent_calls(session, policy.hard_stops.llm_window_calls))


def measure(ws: Workspace, session: Session, config: AdvisoryConfig,
            policy: GatePolicy | None = None) -> LlmReliability:
    """The ``llm_reliability`` hard stop's input, computed from the recorded calls."""
    policy = policy or gate_policy(ws)
    rel = window_reliability(session, policy)
    return to_contract(config.stage, rel, policy.hard_stops.llm_window_calls)

