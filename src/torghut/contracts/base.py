"""Base class and helpers shared by every contract.

Contracts are the system's shared language: frozen, strictly validated pydantic models
(unknown keys are rejected, never silently dropped) that each carry an explicit
``schema_version`` so stored artefacts can be read back and migrated deliberately.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
SLUG_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class Contract(BaseModel):
    """Frozen, extra-forbidding base model for every Torghut contract."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def canonical_json(self) -> str:
        """Deterministic JSON: sorted keys, no insignificant whitespace."""
        return canonical_json(self.model_dump(mode="json"))

    def content_hash(self) -> str:
        """sha256 of :meth:`canonical_json`; stable across processes and machines."""
        return sha256_text(self.canonical_json())


def canonical_json(value: Any) -> str:
    """Serialise plain JSON data deterministically (sorted keys, compact separators)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
