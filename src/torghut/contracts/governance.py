"""Identities, roles and signed actions: who may act, and the proof that they did.

Identities live in the GitOps repository (``apps/torghut/identities.yaml``), so adding one or
changing its roles is itself a reviewed pull request (DESIGN.md "Lanes and decision rights").
Every mutating action is a :class:`SignedAction`: an Ed25519 signature (RFC 8032) over the
RFC 8785 canonical JSON of what was done, by whom, to what, and when, written to the audit
chain with the fingerprint of the key that signed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from torghut.contracts.base import SHA256_PATTERN, SLUG_PATTERN, Contract

ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
# Dotted lower-case names such as ``promotion.approve`` (the Action values in governance.rights).
ACTION_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class Role(StrEnum):
    """A lane's decision rights (DESIGN.md table); ``approver`` is the human review role."""

    RESEARCH = "research"
    VALIDATION = "validation"
    PROMOTION = "promotion"
    OPERATIONS = "operations"
    APPROVER = "approver"


class IdentityKind(StrEnum):
    """Agents may propose and validate, never approve (DESIGN.md invariant 6)."""

    HUMAN = "human"
    AGENT = "agent"


def decode_b64(value: str, *, size: int, what: str) -> bytes:
    """Strict base64 (RFC 4648, padded, no whitespace) of exactly ``size`` bytes."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise ValueError(f"{what} must decode to {size} bytes, got {len(raw)}")
    return raw


def key_fingerprint(public_key_b64: str) -> str:
    """sha256 (hex) of the raw 32-byte Ed25519 public key: the key's stable short name."""
    raw = decode_b64(public_key_b64, size=ED25519_PUBLIC_KEY_BYTES, what="public_key")
    return hashlib.sha256(raw).hexdigest()


class Identity(Contract):
    """A person or an agent, the roles it holds and the public half of its signing key."""

    schema_version: Literal["1.0"] = "1.0"
    name: str = Field(pattern=SLUG_PATTERN, description="Unique slug; signs as this name")
    kind: IdentityKind = Field(description="human or agent; agents never approve")
    roles: tuple[Role, ...] = Field(min_length=1, description="Lanes it may act in")
    public_key: str = Field(min_length=44, max_length=44,
                            description="Ed25519 raw public key (32 bytes), base64")

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    @field_validator("public_key")
    @classmethod
    def _is_ed25519_key(cls, value: str) -> str:
        decode_b64(value, size=ED25519_PUBLIC_KEY_BYTES, what="public_key")
        return value

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key)


class IdentityFile(Contract):
    """``apps/torghut/identities.yaml``: names and keys are unique.

    A key shared by two names would let either sign as the other, which would defeat the
    separation of duties, so a repeated public key is refused like a repeated name.
    """

    schema_version: Literal["1.0"] = "1.0"
    identities: tuple[Identity, ...] = Field(default=(),
                                             description="Every identity that may act")

    @model_validator(mode="after")
    def _unique(self) -> IdentityFile:
        names: set[str] = set()
        keys: dict[str, str] = {}
        for ident in self.identities:
            if ident.name in names:
                raise ValueError(f"duplicate identity name {ident.name!r}")
            if ident.public_key in keys:
                raise ValueError(f"identities {keys[ident.public_key]!r} and {ident.name!r} "
                                 "share a public key")
            names.add(ident.name)
            keys[ident.public_key] = ident.name
        return self

    def get(self, name: str) -> Identity | None:
        return next((i for i in self.identities if i.name == name), None)


class SignedAction(Contract):
    """One mutating action, signed by its actor.

    The signature covers the RFC 8785 canonical JSON of ``{actor, action, subject, payload,
    signed_at}`` (see ``torghut.governance.signing.canonical_message``); ``signed_at`` is
    normalised to UTC with microseconds so the bytes are the same on every machine.
    """

    schema_version: Literal["1.0"] = "1.0"
    actor: str = Field(pattern=SLUG_PATTERN, description="Identity name of the signer")
    action: str = Field(pattern=ACTION_PATTERN, description="e.g. promotion.approve")
    subject: str = Field(min_length=1, description="What the action is about, e.g. pr:3")
    payload: dict[str, Any] = Field(default_factory=dict,
                                    description="The action's parameters, signed as JSON")
    signed_at: AwareDatetime = Field(description="When it was signed, UTC")
    public_key_sha256: str = Field(pattern=SHA256_PATTERN,
                                   description="Fingerprint of the signing key")
    signature: str = Field(min_length=88, max_length=88,
                           description="Ed25519 signature (64 bytes), base64")

    @field_validator("signed_at")
    @classmethod
    def _utc(cls, value: AwareDatetime) -> AwareDatetime:
        if value.utcoffset() != timedelta(0):
            raise ValueError("signed_at must be in UTC")
        return value

    @field_validator("signature")
    @classmethod
    def _is_signature(cls, value: str) -> str:
        decode_b64(value, size=ED25519_SIGNATURE_BYTES, what="signature")
        return value
