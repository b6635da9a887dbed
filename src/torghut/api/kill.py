"""Signed kill-switch requests over HTTP: the client that signs, the server that verifies.

``POST /api/kill-switch`` takes a :class:`~torghut.contracts.governance.SignedAction` as its
body: action ``ops.kill_switch``, subject ``kill_switch:<scope>``, and as payload exactly what
:mod:`torghut.ops.kill_switch` signs — ``{op, scope, state, reason, trigger, incident_id}``
for an engage, ``{op, scope, reason, incident_id}`` for a release. The server trusts nothing
the request says about keys: it verifies the Ed25519 signature against the public key the
identity has on GitOps ``main`` (a reviewed file), checks the identity's decision rights
(operations), refuses a signature older than :data:`MAX_AGE` or one it has already seen
(replay), and only then hands the client's signed action to
:func:`torghut.ops.kill_switch.engage` / ``release``, which verify it again through the
governance guard and record it as it is — never re-signed, so the server's workspace needs no
private key and the ledger row carries the client's own signature.

Every refusal is audited (``governance.refused``) before the 403 is sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationError

from torghut.contracts.base import Contract
from torghut.contracts.governance import SignedAction
from torghut.contracts.orders import KillState
from torghut.errors import NotFoundError, TorghutError, from_validation_error
from torghut.governance import guard
from torghut.governance.identities import lookup
from torghut.governance.keys import load_key
from torghut.governance.refusal import Refusal, RefusalCode
from torghut.governance.rights import Action, authorize
from torghut.governance.signing import sign, verify
from torghut.ledger import Ledger
from torghut.ops import kill_switch
from torghut.risk.kill_switch import MANUAL, parse_scope
from torghut.workspace import Workspace

#: A signed request older than this (or this far in the future) is refused as stale.
MAX_AGE = timedelta(seconds=120)
#: Refusal codes answered with 403 (who/what signed); any other refusal is a 409 conflict:
#: the signer may act but the ledger disagrees — KILL_NOT_ENGAGED, KILL_DEESCALATION, or
#: INCIDENT_UNKNOWN (FIA-3: a release names an incident the ledger does not hold).
FORBIDDEN_CODES = frozenset({*(c.value for c in RefusalCode), "UNKNOWN_IDENTITY",
                             "STALE_SIGNATURE", "REPLAYED_SIGNATURE", "AGENT_CANNOT_RELEASE",
                             "SIGNED_MISMATCH"})


class KillSwitchRequest(Contract):
    """The signed payload of an engage or a release (the shape ops.kill_switch signs)."""

    schema_version: Literal["1.0"] = "1.0"
    op: Literal["engage", "release"]
    scope: str = Field(min_length=1, description="firm, strategy:<id> or symbol:<sym>")
    state: KillState | None = Field(default=None, description="engage: reducing | halted")
    reason: str = Field(min_length=1)
    trigger: Literal["MANUAL"] | None = Field(default=None, description="engage: MANUAL")
    incident_id: str | None = None

    def signed_payload(self) -> dict[str, Any]:
        """Exactly the payload :mod:`torghut.ops.kill_switch` builds for this request."""
        if self.op == "engage":
            return {"op": "engage", "scope": self.scope,
                    "state": (self.state or KillState.HALTED).value, "reason": self.reason,
                    "trigger": MANUAL, "incident_id": self.incident_id}
        return {"op": "release", "scope": self.scope, "reason": self.reason,
                "incident_id": self.incident_id}


class BadRequest(TorghutError):
    """The body is not a kill-switch signed action (HTTP 422)."""


@dataclass(frozen=True)
class Verified:
    signed: SignedAction
    request: KillSwitchRequest


# ----------------------------------------------------------------------------- client


def sign_request(ws: Workspace, as_identity: str, *, op: Literal["engage", "release"],
                 scope: str, reason: str, state: KillState | str | None = None,
                 incident_id: str | None = None,
                 signed_at: datetime | None = None) -> SignedAction:
    """Sign a kill-switch request with ``keys/<as_identity>.key`` (the client side)."""
    request = KillSwitchRequest(op=op, scope=parse_scope(scope),
                                state=KillState(state) if state is not None else None,
                                reason=reason, incident_id=incident_id)
    return sign(load_key(ws.keys_dir, as_identity), as_identity, Action.OPS_KILL_SWITCH.value,
                kill_switch.subject(request.scope), request.signed_payload(), signed_at)


def post_request(base_url: str, signed: SignedAction, *, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> httpx.Response:
    """``POST {base_url}/api/kill-switch`` with the signed action as the JSON body."""
    body = signed.model_dump(mode="json")
    if client is not None:
        return client.post("/api/kill-switch", json=body)
    return httpx.post(base_url.rstrip("/") + "/api/kill-switch", json=body, timeout=timeout)


# ----------------------------------------------------------------------------- server


class ReplayGuard:
    """Signatures seen within :data:`MAX_AGE` (older ones are refused as stale anyway)."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def claim(self, signature: str, signed_at: datetime, now: datetime) -> bool:
        """True the first time a signature is presented; False on a replay."""
        with self._lock:
            horizon = now - 2 * MAX_AGE
            for sig in [s for s, at in self._seen.items() if at < horizon]:
                del self._seen[sig]
            if signature in self._seen:
                return False
            self._seen[signature] = signed_at
            return True


def parse_body(body: Any) -> Verified:
    """Shape checks only (422): a signed action for ``ops.kill_switch`` on its scope."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object (a signed action)", field="body")
    try:
        signed = SignedAction.model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="body") from None
    if signed.action != Action.OPS_KILL_SWITCH.value:
        raise BadRequest(f"action must be {Action.OPS_KILL_SWITCH.value}, not "
                         f"{signed.action!r}", field="body.action")
    try:
        request = KillSwitchRequest.model_validate(signed.payload)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="body.payload") from None
    parse_scope(request.scope)
    if signed.subject != kill_switch.subject(request.scope):
        raise BadRequest(f"subject must be {kill_switch.subject(request.scope)!r}",
                         field="body.subject")
    if request.op == "release" and request.incident_id is None:
        raise BadRequest("a release needs an incident id (FIA-3)", field="body.payload")
    return Verified(signed, request)


def verify_request(ws: Workspace, ledger: Ledger, verified: Verified, *, replay: ReplayGuard,
                   now: datetime | None = None) -> None:
    """Refuse (audited) unless main's key for the actor signed it, recently, once, and the
    actor holds the operations role."""
    # control: FIA-3 (only an authorised operations identity may engage or release)
    signed = verified.signed
    now = now or datetime.now(UTC)
    try:
        try:
            identity = lookup(ws.gitops_dir, signed.actor)
        except NotFoundError:
            raise Refusal("UNKNOWN_IDENTITY", f"{signed.actor!r} is not an identity on "
                          "GitOps main") from None
        verify(signed, identity)
        authorize(identity, Action.OPS_KILL_SWITCH)
        if abs(now - signed.signed_at) > MAX_AGE:
            raise Refusal("STALE_SIGNATURE", f"signed at {signed.signed_at.isoformat()}, more "
                          f"than {int(MAX_AGE.total_seconds())} s from the server's clock")
        if not replay.claim(signed.signature, signed.signed_at, now):
            raise Refusal("REPLAYED_SIGNATURE", "this signed request was already used")
    except Refusal as refusal:
        guard.record_refusal(ledger, signed.actor, signed.action, signed.subject, refusal,
                             payload=signed.payload)
        raise


def execute(ws: Workspace, ledger: Ledger, verified: Verified) -> dict[str, Any]:
    """Engage or release with the verified signed action, at the moment it was signed."""
    r, signed = verified.request, verified.signed
    if r.op == "engage":
        done = kill_switch.engage(ws, ledger, scope=r.scope,
                                  state=r.state or KillState.HALTED, reason=r.reason,
                                  as_identity=signed.actor, incident_id=r.incident_id,
                                  signed=signed)
    else:
        done = kill_switch.release(ws, ledger, scope=r.scope, reason=r.reason,
                                   incident_id=r.incident_id, as_identity=signed.actor,
                                   signed=signed)
    return {"op": r.op, "scope": r.scope, "actor": signed.actor, "changed": done is not None,
            "previous": done.previous.value if done is not None else None,
            "state": done.state.value if done is not None else None}
