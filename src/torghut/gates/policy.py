"""The gate policy file: load and validate it, checksum it, render the documented default.

The policy lives in the GitOps repository at :data:`POLICY_PATH`. Validation is strict
(unknown keys and wrong types are errors naming ``file:line`` and the field). The checksum
is the sha256 of the policy's RFC 8785 canonical JSON (JSON Canonicalization Scheme), so it
ignores key order, comments and formatting and changes with any threshold.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import rfc8785
from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap

from torghut.contracts.gates import GatePolicy
from torghut.errors import TorghutError
from torghut.yamlio import dump_yaml, load_yaml_text, read_yaml, validate_yaml_model

POLICY_PATH = "apps/torghut/gate-policy.yaml"


def default_policy() -> GatePolicy:
    return GatePolicy()


def canonical_policy(policy: GatePolicy) -> bytes:
    """RFC 8785 canonical JSON of the policy (every default made explicit)."""
    return rfc8785.dumps(policy.model_dump(mode="json"))


def policy_checksum(policy: GatePolicy) -> str:
    return hashlib.sha256(canonical_policy(policy)).hexdigest()


def _validate(data: Any, file: str | Path) -> GatePolicy:
    if not isinstance(data, dict):
        raise TorghutError("a gate policy must be a YAML mapping", file=file)
    return validate_yaml_model(GatePolicy, data, file=file)


def parse_policy(text: str, *, file: str | Path) -> GatePolicy:
    return _validate(load_yaml_text(text, file=file), file)


def read_policy(path: Path) -> GatePolicy:
    return _validate(read_yaml(path), path)


def render_policy_yaml(policy: GatePolicy | None = None) -> str:
    """The policy as YAML with a comment above every key stating what it bounds."""
    policy = policy or default_policy()
    header = ("Torghut gate policy: thresholds of Gates 0-4 and the hard stops.\n"
              "Validated strictly; checksum = sha256 of its RFC 8785 canonical JSON.\n"
              f"Defaults: torghut.contracts.gates.GatePolicy (policy {policy.policy_version}).")
    doc = _commented(policy, indent=0)
    doc.yaml_set_start_comment(header)
    return dump_yaml(doc)


def _commented(model: BaseModel, indent: int) -> CommentedMap:
    out = CommentedMap()
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        out[name] = (_commented(value, indent + 2) if isinstance(value, BaseModel)
                     else _plain(value))
        if info.description:
            out.yaml_set_comment_before_after_key(name, before=info.description,
                                                  indent=indent)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value
