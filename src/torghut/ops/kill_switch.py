"""The kill switch in the ledger: engage, release, the latched board, status.

:mod:`torghut.risk.kill_switch` decides what a move does; this module decides who may make
it and records it. Every engage or release is one ``kill_switch_events`` row, vouched for by
the audit chain (:func:`torghut.ledger.audit.record`), written in the same transaction as
the signed action that asked for it (RTS 6 Art 28, control RTS-28). The newest row per scope
is that scope's state, so the board survives any restart (FIA-1): :func:`board` rebuilds it
from here, and the gate engine's hard stop reads the same rows (engaging freezes the
promotion pipeline — the governance plan's "kill actions").

Who may do what:

* engage — an identity with the operations role, signed (``ops.kill_switch``), or the
  runtime's risk function on an automatic trigger, unsigned, as :data:`RISK_FUNCTION`
  (RTS 6 Art 16(5), control RTS-16: "without the trader");
* release — a *human* operations identity, signed, with a reason and the id of an
  incident the ledger holds, open or closed (FIA-3; RTS 6 Art 15(3)); an agent may not
  resume trading, however it is configured.

Refusals (wrong role, an agent releasing, a de-escalation, releasing what is not engaged,
an unknown incident)
are audited as ``governance.refused`` and change nothing else; missing input is exit 2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from torghut.contracts.governance import IdentityKind, SignedAction
from torghut.contracts.orders import KillState
from torghut.errors import TorghutError
from torghut.governance import guard
from torghut.governance.identities import lookup
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.ledger import Ledger, audit
from torghut.ledger.models import KillSwitchEvent
from torghut.ops.incidents import find_incident
from torghut.risk.kill_switch import (
    FIRM,
    MANUAL,
    RISK_FUNCTION,
    KillBoard,
    KillTransition,
    ScopeLatch,
    Trigger,
    TriggerCode,
    engage_on,
    parse_scope,
)
from torghut.workspace import Workspace

ENGAGE_ACTION = "ops.kill_switch.engage"
RELEASE_ACTION = "ops.kill_switch.release"
TRIGGERED_ACTION = "risk.kill_switch.triggered"  # the Trigger itself: limit, value, latency
_LEGACY_STATE = {"engage": KillState.HALTED, "halt": KillState.HALTED,
                 "reduce": KillState.REDUCING}
_TRIGGERS = frozenset({MANUAL, *(c.value for c in TriggerCode)})


def subject(scope: str) -> str:
    return f"kill_switch:{scope}"


# ----------------------------------------------------------------------------- reading


def latest_rows(session: Session) -> list[KillSwitchEvent]:
    """The newest event of every scope ever recorded (each scope's latched state)."""
    newest = select(func.max(KillSwitchEvent.id)).group_by(KillSwitchEvent.scope)
    return list(session.scalars(select(KillSwitchEvent).where(KillSwitchEvent.id.in_(newest))
                                .order_by(KillSwitchEvent.scope)))


def row_state(row: KillSwitchEvent) -> KillState:
    """A row's state; rows from before migration 0003 carry only ``action``."""
    if row.state is not None:
        return KillState(row.state)
    return _LEGACY_STATE.get(row.action, KillState.ACTIVE)


def board(session: Session) -> KillBoard:
    """The latched board, rebuilt from the ledger (FIA-1: a restart changes nothing)."""
    # control: FIA-1 (the state is latched in the ledger and survives a restart)
    return KillBoard(ScopeLatch(scope=r.scope, state=row_state(r), reason=r.reason,
                                actor=r.actor, trigger=r.trigger or MANUAL,
                                incident_id=r.incident_id, since=r.created_at)
                     for r in latest_rows(session) if row_state(r) is not KillState.ACTIVE)


def status(session: Session) -> list[dict[str, Any]]:
    """Every scope's state (the firm's always, active or not), firm first."""
    rows = {r.scope: r for r in latest_rows(session)}
    out = [] if FIRM in rows else [{"scope": FIRM, "state": KillState.ACTIVE.value,
                                    "engaged": False, "action": None, "reason": None,
                                    "actor": None, "trigger": None, "incident_id": None,
                                    "since": None, "event_id": None}]
    for scope in sorted(rows, key=lambda s: (s != FIRM, s)):
        r, state = rows[scope], row_state(rows[scope])
        out.append({"scope": scope, "state": state.value,
                    "engaged": state is not KillState.ACTIVE, "action": r.action,
                    "reason": r.reason, "actor": r.actor, "trigger": r.trigger or MANUAL,
                    "incident_id": r.incident_id, "since": audit.format_ts(r.created_at),
                    "event_id": r.id})
    return out


# ----------------------------------------------------------------------------- writing


def _write(session: Session, done: KillTransition, signature: str | None) -> KillSwitchEvent:
    row = KillSwitchEvent(action=done.action, reason=done.reason, actor=done.actor,
                          incident_id=done.incident_id, created_at=done.at, scope=done.scope,
                          state=done.state.value, trigger=done.trigger, signature=signature)
    audit.record(session, row, actor=done.actor,
                 action=ENGAGE_ACTION if done.action == "engage" else RELEASE_ACTION,
                 subject=subject(done.scope))
    return row


def _outcome(done: KillTransition | None, row: KillSwitchEvent | None,
             current: KillState) -> dict[str, Any]:
    if done is None or row is None:
        return {"changed": False, "state": current.value}
    return {"changed": True, "kill_switch_event": row.id, "previous": done.previous.value,
            "state": done.state.value}


def _refuse(ledger: Ledger, as_identity: str, scope: str, refusal: Refusal,
            payload: dict[str, Any]) -> Refusal:
    guard.record_refusal(ledger, as_identity, Action.OPS_KILL_SWITCH.value, subject(scope),
                         refusal, payload=payload)
    return refusal


def _moment(signed: SignedAction | None, now: datetime | None) -> datetime:
    """When the move happens: when it was signed, for a request signed elsewhere."""
    return signed.signed_at if signed is not None else now or datetime.now(UTC)


def _first_use(session: Session, signed: SignedAction, remote: bool) -> None:
    """A request signed elsewhere whose signature is already on a kill-switch row is a
    replay, even across restarts (the API's in-memory guard forgets on restart)."""
    if not remote:
        return
    used = select(KillSwitchEvent.id).where(KillSwitchEvent.signature == signed.signature)
    if session.scalars(used.limit(1)).first() is not None:
        raise Refusal("REPLAYED_SIGNATURE", "this signed request was already recorded")


def _engage_state(state: KillState | str) -> KillState:
    try:
        parsed = KillState(state)
    except ValueError:
        parsed = None
    if parsed not in (KillState.REDUCING, KillState.HALTED):
        raise TorghutError(f"state {state!r} is not reducing or halted", field="state")
    return parsed


def engage(ws: Workspace, ledger: Ledger, *, scope: str, state: KillState | str, reason: str,
           as_identity: str, trigger: str = MANUAL, incident_id: str | None = None,
           now: datetime | None = None,
           signed: SignedAction | None = None) -> KillTransition | None:
    """Engage ``scope`` at ``state`` as an operations identity; ``None`` if it already was
    (the signed request is still recorded, with ``changed: false``).

    ``signed`` is the request as a remote operator signed it (``POST /api/kill-switch``):
    verified against the identity's key on GitOps main, never re-signed, so the server
    needs no private key; it takes effect at the moment it was signed."""
    scope, wanted = parse_scope(scope), _engage_state(state)
    if not reason or not reason.strip():
        raise TorghutError("a reason is required", field="reason")
    if trigger not in _TRIGGERS:
        raise TorghutError(f"unknown trigger {trigger!r} (MANUAL or one of "
                           f"{', '.join(c.value for c in TriggerCode)})", field="trigger")
    incident_id = incident_id.strip() if incident_id and incident_id.strip() else None
    at = _moment(signed, now)
    payload = {"op": "engage", "scope": scope, "state": wanted.value, "reason": reason,
               "trigger": trigger, "incident_id": incident_id}
    remote = signed is not None
    signed = guard.check(ws, ledger, as_identity, Action.OPS_KILL_SWITCH, subject(scope),
                         payload, signed_at=at, signed=signed)
    try:
        with ledger.write() as session:
            _first_use(session, signed, remote)
            latched = board(session)
            done = latched.engage(scope, wanted, reason=reason, actor=signed.actor,
                                  trigger=trigger, incident_id=incident_id, at=at)
            row = None if done is None else _write(session, done, signed.signature)
            guard.record(session, signed,
                         outcome=_outcome(done, row, latched.state_of(scope)))
    except Refusal as refusal:
        raise _refuse(ledger, as_identity, scope, refusal, payload) from None
    return done


def _known_incident(session: Session, incident_id: str) -> None:
    """Refuse a release naming an incident the ledger does not have (FIA-3). A closed
    incident may be named: an incident is often closed only after trading resumes."""
    # control: FIA-3 (the incident a release names exists in the ledger)
    if find_incident(session, incident_id) is None:
        raise Refusal("INCIDENT_UNKNOWN", f"no incident {incident_id!r} in the ledger: open "
                      "one with `torghut incident open` and name its id")


def release(ws: Workspace, ledger: Ledger, *, scope: str, reason: str | None,
            incident_id: str | None, as_identity: str, now: datetime | None = None,
            signed: SignedAction | None = None) -> KillTransition:
    """Release ``scope`` back to ACTIVE: a human operations identity, a reason and an
    incident id (FIA-3). Nothing else ever releases a scope. ``signed``: as for
    :func:`engage`, a request signed elsewhere, verified and never re-signed."""
    # control: FIA-3 (authorised operations identity + reason + incident id)
    scope = parse_scope(scope)
    for value, name in ((reason, "reason"), (incident_id, "incident_id")):
        if value is None or not value.strip():
            raise TorghutError(f"releasing the kill switch needs {name.replace('_', ' ')}",
                               field=name)
    assert reason is not None and incident_id is not None
    at = _moment(signed, now)
    payload = {"op": "release", "scope": scope, "reason": reason, "incident_id": incident_id}
    remote = signed is not None
    signed = guard.check(ws, ledger, as_identity, Action.OPS_KILL_SWITCH, subject(scope),
                         payload, signed_at=at, signed=signed)
    try:
        if lookup(ws.gitops_dir, signed.actor).kind is IdentityKind.AGENT:
            raise Refusal("AGENT_CANNOT_RELEASE", f"{signed.actor!r} is an agent; only a "
                          "person with the operations role resumes trading")
        with ledger.write() as session:
            _first_use(session, signed, remote)
            _known_incident(session, incident_id)
            done = board(session).release(scope, reason=reason, incident_id=incident_id,
                                          actor=signed.actor, at=at)
            row = _write(session, done, signed.signature)
            guard.record(session, signed, outcome=_outcome(done, row, done.state))
    except Refusal as refusal:
        raise _refuse(ledger, as_identity, scope, refusal, payload) from None
    return done


def engage_automatic(ledger: Ledger, trigger: Trigger, *,
                     actor: str = RISK_FUNCTION) -> KillTransition | None:
    """Engage on an automatic trigger, as the risk function: no trader, no signature
    (RTS-16). ``None`` if the scope was already at that state or stricter."""
    # control: RTS-16 (the risk function can trigger the kill switch without the trader)
    with ledger.write() as session:
        moved = engage_on(board(session), [trigger], actor=actor)
        for done in moved:
            _write(session, done, None)
            audit.append(session, actor, TRIGGERED_ACTION, subject(done.scope),
                         trigger.model_dump(mode="json"))
        return moved[0] if moved else None
