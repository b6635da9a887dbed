"""The guard every mutating command goes through: sign, verify, authorize, audit.

Two ways to use it:

* :func:`act` — for an action whose only record is its audit event: check, then append the
  event in its own transaction.
* :func:`check` + :func:`record` — for a caller that writes its own rows (the promotion state
  machine): ``check`` before opening the transaction, then ``record`` *inside* it, so the
  caller's rows and the signed audit event commit or roll back together::

      signed = guard.check(ws, ledger, "alice", Action.PROMOTION_APPROVE, "pr:3", payload,
                           proposer=pr.proposer, author=candidate.author,
                           evidence_refs=(report_sha,))
      with ledger.write() as session:
          session.add(Approval(...))
          guard.record(session, signed, evidence_refs=(report_sha,))

A :class:`~torghut.governance.refusal.Refusal` from ``check`` has already been written to
the audit chain as a ``governance.refused`` event (its own transaction) and nothing else has
changed. Bad input — an unknown identity, a missing key, an evidence ref that is not in the
artifact store — raises a plain :class:`~torghut.errors.TorghutError` (exit 2) and is not
audited, since nothing was attempted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from torghut.contracts.governance import SignedAction
from torghut.errors import TorghutError
from torghut.governance.identities import lookup
from torghut.governance.keys import load_key
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action, as_action, authorize
from torghut.governance.signing import plain_payload, sign, verify
from torghut.ledger import Ledger, audit
from torghut.ledger.audit import AuditEvent
from torghut.workspace import Workspace

REFUSED_ACTION = "governance.refused"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def evidence_digests(ledger: Ledger, refs: Iterable[str]) -> tuple[str, ...]:
    """Evidence refs are artifact-store digests that must exist (missing input: exit 2)."""
    out: list[str] = []
    for ref in refs:
        if not _SHA256.match(ref):
            raise TorghutError(f"evidence ref {ref!r} is not a sha256 artifact digest",
                               field="evidence_refs")
        problem = ledger.artifacts.check(ref)
        if problem is not None:
            raise TorghutError(f"evidence {ref[:12]}… is not usable: {problem}",
                               file=ledger.artifacts.path(ref), field="evidence_refs")
        out.append(ref)
    return tuple(out)


def sign_as(ws: Workspace, as_identity: str, action: Action | str, subject: str,
            payload: Mapping[str, Any], *, proposer: str | None = None,
            author: str | None = None, signed_at: datetime | None = None) -> SignedAction:
    """Sign with the identity's key from ``keys/``, verify against its key registered on
    GitOps ``main``, and authorize. Pure of side effects; raises a Refusal when refused."""
    act = as_action(action)
    identity = lookup(ws.gitops_dir, as_identity)
    key = load_key(ws.keys_dir, as_identity)
    signed = sign(key, identity.name, act.value, subject, payload, signed_at)
    verify(signed, identity)
    authorize(identity, act, proposer=proposer, author=author)
    return signed


def verify_as(ws: Workspace, as_identity: str, action: Action | str, subject: str,
              payload: Mapping[str, Any], signed: SignedAction, *,
              proposer: str | None = None, author: str | None = None) -> SignedAction:
    """Accept an action signed elsewhere (a remote operator's client) without re-signing:
    it must be exactly this identity, action, subject and payload, signed by the key main
    registers for the identity, who holds the right. Pure; raises a Refusal when refused."""
    act = as_action(action)
    if (signed.actor != as_identity or signed.action != act.value or signed.subject != subject
            or signed.payload != plain_payload(payload)):
        raise Refusal("SIGNED_MISMATCH", f"the signed action is not {act.value} on {subject} "
                      f"as {as_identity!r} with this payload")
    identity = lookup(ws.gitops_dir, as_identity)
    verify(signed, identity)
    authorize(identity, act, proposer=proposer, author=author)
    return signed


def check(ws: Workspace, ledger: Ledger, as_identity: str, action: Action | str, subject: str,
          payload: Mapping[str, Any], *, evidence_refs: Iterable[str] = (),
          proposer: str | None = None, author: str | None = None,
          signed_at: datetime | None = None,
          signed: SignedAction | None = None) -> SignedAction:
    """Everything but the final audit event: on refusal, audit ``governance.refused`` and
    raise; on success return the :class:`SignedAction` for :func:`record`. With ``signed``
    (already signed by the identity elsewhere) it is verified, never re-signed."""
    refs = evidence_digests(ledger, evidence_refs)
    try:
        if signed is not None:
            return verify_as(ws, as_identity, action, subject, payload, signed,
                             proposer=proposer, author=author)
        return sign_as(ws, as_identity, action, subject, payload, proposer=proposer,
                       author=author, signed_at=signed_at)
    except Refusal as refusal:
        record_refusal(ledger, as_identity, str(action), subject, refusal, evidence_refs=refs,
                       payload=payload)
        raise


def record(session: Session, signed: SignedAction, *, evidence_refs: Iterable[str] = (),
           outcome: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append the signed action's audit event inside the caller's write transaction.

    The payload holds the whole signed action (signature and key fingerprint included), so
    anyone can re-verify it later against ``identities.yaml`` (see :func:`signed_action_of`),
    and, if given, ``outcome``: what the action produced (a commit sha, a branch), known only
    after signing — hash-chained with the event, but not part of the signature.
    """
    # control: RTS-28 (every PR, approval and kill action is in the hash-chained ledger)
    refs = tuple(evidence_refs)
    payload: dict[str, Any] = {"signed_action": signed.model_dump(mode="json"),
                               "evidence_refs": list(refs)}
    if outcome is not None:
        payload["outcome"] = plain_payload(outcome)
    return audit.append(session, signed.actor, signed.action, signed.subject, payload,
                        artifact_refs=refs)


def record_refusal(ledger: Ledger, actor: str, action: str, subject: str, refusal: Refusal,
                   *, evidence_refs: Iterable[str] = (),
                   payload: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append a ``governance.refused`` event in its own transaction (nothing else changes).

    Public so a caller that refuses for its own reasons (a missing gate decision, a moved
    branch) records it the same way. ``actor`` is the identity that asked, as claimed.
    """
    refs = tuple(evidence_refs)
    body: dict[str, Any] = {"code": refusal.code, "message": refusal.message,
                            "action": action, "evidence_refs": list(refs)}
    if payload is not None:
        body["requested"] = _jsonable(payload)
    with ledger.write() as session:
        return audit.append(session, actor, REFUSED_ACTION, subject, body, artifact_refs=refs)


def _jsonable(payload: Mapping[str, Any]) -> Any:
    try:
        return plain_payload(payload)
    except TorghutError:
        return {"unrepresentable": True}


def act(ws: Workspace, ledger: Ledger, as_identity: str, action: Action | str, subject: str,
        payload: Mapping[str, Any], *, evidence_refs: Iterable[str] = (),
        proposer: str | None = None, author: str | None = None,
        signed_at: datetime | None = None) -> SignedAction:
    """Check, then record the signed action's audit event in its own transaction."""
    refs = tuple(evidence_refs)
    signed = check(ws, ledger, as_identity, action, subject, payload, evidence_refs=refs,
                   proposer=proposer, author=author, signed_at=signed_at)
    with ledger.write() as session:
        record(session, signed, evidence_refs=refs)
    return signed


def signed_action_of(event: AuditEvent) -> SignedAction:
    """The signed action an audit event written by :func:`record` carries."""
    raw = event.payload.get("signed_action")
    if not isinstance(raw, dict):
        raise TorghutError("audit event carries no signed action", field=f"seq {event.seq}")
    return SignedAction.model_validate(raw)
