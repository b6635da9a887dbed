"""Ed25519 over RFC 8785 JSON: round trips verify; forged content and wrong keys do not."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from torghut.contracts.governance import Identity, SignedAction, key_fingerprint
from torghut.errors import TorghutError
from torghut.governance.keys import public_key_b64
from torghut.governance.refusal import Refusal, RefusalCode
from torghut.governance.signing import canonical_message, sign, verify

WHEN = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
PAYLOAD = {"head_sha": "ab" * 20, "decision": "approve", "scores": [1, 2.5], "n": None}


def _identity(key: Ed25519PrivateKey, name: str = "alice") -> Identity:
    return Identity(name=name, kind="human", roles=("approver",),
                    public_key=public_key_b64(key))


def _signed(key: Ed25519PrivateKey, **overrides: object) -> SignedAction:
    args: dict[str, object] = {"actor": "alice", "action": "promotion.approve",
                               "subject": "pr:7", "payload": PAYLOAD, "signed_at": WHEN}
    args.update(overrides)
    return sign(key, **args)  # type: ignore[arg-type]


def _code(exc: pytest.ExceptionInfo[Refusal]) -> str:
    return exc.value.code


def test_sign_verify_round_trip_through_json() -> None:
    key = Ed25519PrivateKey.generate()
    signed = _signed(key)
    verify(signed, _identity(key))
    again = SignedAction.model_validate_json(signed.model_dump_json())
    verify(again, _identity(key))
    assert again == signed
    assert signed.public_key_sha256 == key_fingerprint(public_key_b64(key))
    assert signed.signed_at == WHEN


def test_the_message_is_rfc8785_json_of_the_five_fields() -> None:
    message = canonical_message("alice", "promotion.approve", "pr:7", PAYLOAD, WHEN)
    assert message == rfc8785.dumps({
        "actor": "alice", "action": "promotion.approve", "subject": "pr:7",
        "payload": PAYLOAD, "signed_at": "2025-03-04T05:06:07.891011Z"})
    # Same instant in another zone, same payload in another key order: same bytes, and
    # (Ed25519 being deterministic, RFC 8032 §5.1.6) the same signature.
    east = WHEN.astimezone(timezone(timedelta(hours=5)))
    reordered = dict(reversed(list(PAYLOAD.items())))
    key = Ed25519PrivateKey.generate()
    assert _signed(key).signature == _signed(key, signed_at=east, payload=reordered).signature


@pytest.mark.parametrize("change", [
    {"payload": {**PAYLOAD, "decision": "reject"}},
    {"subject": "pr:8"},
    {"action": "promotion.merge"},
    {"signed_at": WHEN + timedelta(microseconds=1)},
])
def test_altered_content_is_refused_as_signature_invalid(change: dict[str, object]) -> None:
    key = Ed25519PrivateKey.generate()
    forged = _signed(key).model_copy(update=change)
    with pytest.raises(Refusal) as info:
        verify(forged, _identity(key))
    assert _code(info) == RefusalCode.SIGNATURE_INVALID


def test_forged_signature_bytes_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    signed = _signed(key)
    raw = bytearray(base64.b64decode(signed.signature))
    raw[0] ^= 0x01
    forged = signed.model_copy(update={"signature": base64.b64encode(bytes(raw)).decode()})
    with pytest.raises(Refusal) as info:
        verify(forged, _identity(key))
    assert _code(info) == RefusalCode.SIGNATURE_INVALID


def test_a_key_other_than_the_registered_one_is_refused() -> None:
    registered, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    honest_other = _signed(other)  # carries the other key's fingerprint
    with pytest.raises(Refusal) as info:
        verify(honest_other, _identity(registered))
    assert _code(info) == RefusalCode.KEY_MISMATCH
    # Claiming the registered fingerprint does not help: the signature is checked against
    # the registered key, never a key the signer supplies.
    lying = honest_other.model_copy(
        update={"public_key_sha256": key_fingerprint(public_key_b64(registered))})
    with pytest.raises(Refusal) as info:
        verify(lying, _identity(registered))
    assert _code(info) == RefusalCode.SIGNATURE_INVALID


def test_signed_under_another_name_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(Refusal) as info:
        verify(_signed(key, actor="mallory"), _identity(key))
    assert _code(info) == RefusalCode.ACTOR_MISMATCH


def test_a_refusal_is_a_decision_exit_1_with_its_code() -> None:
    refusal = Refusal(RefusalCode.KEY_MISMATCH, "nope")
    assert refusal.exit_code == 1 and isinstance(refusal, TorghutError)
    assert str(refusal) == "KEY_MISMATCH: nope"


def test_unsignable_payloads_and_naive_times_are_bad_input() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(TorghutError, match="payload"):
        _signed(key, payload={"x": float("nan")})
    with pytest.raises(TorghutError, match="payload"):
        _signed(key, payload={"when": datetime.now(UTC)})
    with pytest.raises(TorghutError, match="timezone-aware"):
        _signed(key, signed_at=datetime(2025, 1, 1))


def test_contracts_reject_malformed_keys_signatures_and_times() -> None:
    good = public_key_b64(Ed25519PrivateKey.generate())
    for bad in ("A" * 44, good[:-2] + "!=", base64.b64encode(b"x" * 31).decode() + "AAAA"):
        with pytest.raises(ValidationError, match="public_key"):
            Identity(name="a", kind="human", roles=("approver",), public_key=bad)
    with pytest.raises(ValidationError, match="roles"):
        Identity(name="a", kind="human", roles=(), public_key=good)
    with pytest.raises(ValidationError, match="roles must not repeat"):
        Identity(name="a", kind="human", roles=("approver", "approver"), public_key=good)
    signed = _signed(Ed25519PrivateKey.generate()).model_dump(mode="json")
    with pytest.raises(ValidationError, match="UTC"):
        SignedAction.model_validate({**signed, "signed_at": "2025-03-04T05:06:07+01:00"})
    with pytest.raises(ValidationError, match="signature"):
        SignedAction.model_validate({**signed, "signature": "A" * 88})
