"""Sign and verify actions with Ed25519 (RFC 8032) over RFC 8785 canonical JSON.

The signed message is the JSON Canonicalization Scheme (RFC 8785) encoding of ``{actor,
action, subject, payload, signed_at}``, so key order, whitespace and float formatting can
never make two machines disagree about what was signed. ``signed_at`` enters as a fixed-width
UTC string with microseconds. Verification checks the signature against the public key
*registered* for the identity in GitOps, never against a key the signer supplied.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from torghut.contracts.governance import Identity, SignedAction, key_fingerprint
from torghut.errors import TorghutError, from_validation_error
from torghut.governance.keys import public_key_b64
from torghut.governance.refusal import Refusal, RefusalCode


def format_signed_at(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: the exact string the signature covers."""
    if moment.tzinfo is None:
        raise TorghutError("signed_at must be timezone-aware", field="signed_at")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON data (tuples become lists), as it reads back from the audit
    chain — so the bytes signed are the bytes a later verifier recomputes."""
    try:
        plain = json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TorghutError(f"payload is not JSON data: {exc}", field="payload") from None
    if not isinstance(plain, dict):
        raise TorghutError("payload must be a JSON object", field="payload")
    return plain


def canonical_message(actor: str, action: str, subject: str, payload: Mapping[str, Any],
                      signed_at: datetime) -> bytes:
    """The bytes that are signed: RFC 8785 JSON of the five fields."""
    doc: dict[str, Any] = {"actor": actor, "action": str(action), "subject": subject,
                           "payload": dict(payload), "signed_at": format_signed_at(signed_at)}
    try:
        return rfc8785.dumps(doc)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise TorghutError(f"payload is not canonical JSON: {exc}", field="payload") from None


def sign(private_key: Ed25519PrivateKey, actor: str, action: str, subject: str,
         payload: Mapping[str, Any], signed_at: datetime | None = None) -> SignedAction:
    """Sign an action as ``actor``; ``signed_at`` defaults to now (truncated to µs, UTC)."""
    if signed_at is not None and signed_at.tzinfo is None:
        raise TorghutError("signed_at must be timezone-aware", field="signed_at")
    moment = (signed_at or datetime.now(UTC)).astimezone(UTC)
    payload = plain_payload(payload)
    message = canonical_message(actor, action, subject, payload, moment)
    signature = base64.b64encode(private_key.sign(message)).decode("ascii")
    try:
        return SignedAction(actor=actor, action=str(action), subject=subject,
                            payload=payload, signed_at=moment,
                            public_key_sha256=key_fingerprint(public_key_b64(private_key)),
                            signature=signature)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def message_of(signed: SignedAction) -> bytes:
    return canonical_message(signed.actor, signed.action, signed.subject, signed.payload,
                             signed.signed_at)


def verify(signed: SignedAction, identity: Identity) -> None:
    """Refuse unless ``identity``'s registered key signed exactly this action.

    ``ACTOR_MISMATCH``: signed under another name. ``KEY_MISMATCH``: signed by a key whose
    fingerprint is not the one registered for the identity (a stale or foreign key).
    ``SIGNATURE_INVALID``: the signature does not verify (forged or altered content).
    """
    if signed.actor != identity.name:
        raise Refusal(RefusalCode.ACTOR_MISMATCH,
                      f"action signed as {signed.actor!r}, checked against {identity.name!r}")
    if signed.public_key_sha256 != identity.fingerprint:
        raise Refusal(RefusalCode.KEY_MISMATCH,
                      f"signed by key {signed.public_key_sha256[:16]}…, but {identity.name!r} "
                      f"is registered with key {identity.fingerprint[:16]}…")
    public = Ed25519PublicKey.from_public_bytes(identity.public_key_bytes)
    try:
        public.verify(base64.b64decode(signed.signature), message_of(signed))
    except InvalidSignature:
        raise Refusal(RefusalCode.SIGNATURE_INVALID,
                      f"signature of {signed.action} on {signed.subject!r} by "
                      f"{identity.name!r} does not verify") from None
