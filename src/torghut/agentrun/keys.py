"""Typed, validated parameter keys: what an ImplementationSpec's ``contract`` keys may hold.

A spec names, for every key, a JSON type and one of the validators below. A presence check
is not enough: ``head: main`` is present but would let an agent write to ``main``. Each
validator returns ``None`` or a short problem (``must start with codex/``); it never reads
the workspace — checks against the world (does the branch exist?) live in
:mod:`torghut.agentrun.validate` and in the lanes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

from torghut.contracts.agentrun import ContractKey
from torghut.contracts.base import SEMVER_PATTERN, SHA256_PATTERN, SLUG_PATTERN
from torghut.sim.scenarios import SCENARIOS

Check = Callable[[Any], str | None]

COMPLIANCE_PROFILES = ("sec-15c3-5", "mifid-rts6", "nist-ai-rmf", "all")
GATE_TARGETS = ("paper", "paper_verified", "live")
CODEX_PREFIX = "codex/"
LAST_APPROVED = "last-approved"
_REF = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]+(?<!/)(?<!\.)(?<!\.lock)$")
_K8S = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-^]{0,31}$")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_REPO = re.compile(r"^[A-Za-z0-9._~:/@+-]+$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_WINDOW = re.compile(r"^(?P<dataset>[A-Za-z0-9][A-Za-z0-9._-]*)"
                     r"(@(?P<start>\d{4}-\d{2}-\d{2})\.\.(?P<end>\d{4}-\d{2}-\d{2}))?$")
_TYPES: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string-list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "mapping": lambda v: isinstance(v, dict),
}


def _pattern(regex: str | re.Pattern[str], what: str) -> Check:
    compiled = re.compile(regex) if isinstance(regex, str) else regex
    return lambda v: None if compiled.match(v) else f"must be {what}"


def _text(v: str) -> str | None:
    if not v.strip():
        return "must not be blank"
    return "must be at most 4000 characters" if len(v) > 4000 else None


def relative_path(v: str) -> str | None:
    """A path inside the workspace (or repo): relative, no ``..``, not blank."""
    p = PurePosixPath(v)
    if not v.strip() or p.is_absolute() or ".." in p.parts or "\\" in v:
        return "must be a relative path without '..'"
    return None


def _gitops_path(v: str) -> str | None:
    problem = relative_path(v)
    return problem or (None if v.startswith("apps/") else "must be a path under apps/")


def _codex_branch(v: str) -> str | None:
    if not v.startswith(CODEX_PREFIX) or len(v) == len(CODEX_PREFIX):
        return f"must be a branch starting with {CODEX_PREFIX}"
    return None if _REF.match(v) else "must be a valid git branch name"


def _rollback_target(v: str) -> str | None:
    return None if v == LAST_APPROVED or _REF.match(v) else \
        f"must be {LAST_APPROVED!r} or a git ref"


def _symbols(v: list[str]) -> str | None:
    if not v:
        return "must list at least one symbol"
    if len(set(v)) != len(v):
        return "lists a symbol twice"
    bad = [s for s in v if not _SYMBOL.match(s)]
    return f"has invalid symbols {bad}" if bad else None


def _sha_list(v: list[str]) -> str | None:
    bad = [s for s in v if not re.match(SHA256_PATTERN, s)]
    if not v:
        return "must list at least one artifact digest"
    return f"has entries that are not sha256 digests: {bad}" if bad else None


def _stress(v: list[str]) -> str | None:
    unknown = sorted(set(v) - set(SCENARIOS))
    return f"has unknown stress scenarios {unknown}" if unknown else None


def _grid(v: dict[str, Any]) -> str | None:
    bad = [k for k, x in v.items() if not isinstance(x, list) or not x]
    return f"entries must be non-empty lists: {bad}" if bad else None


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _positive(v: int) -> str | None:
    return None if v > 0 else "must be positive"


def _confirm(v: bool) -> str | None:
    return None if v is True else "must be true (an explicit confirmation)"


VALIDATORS: Mapping[str, Check] = {
    "text": _text,
    "symbols": _symbols,
    "featureSchemaVersion": _pattern(_VERSION, "a version like 3.1"),
    "semver": _pattern(SEMVER_PATTERN, "a semantic version like 1.0.0"),
    "slug": _pattern(SLUG_PATTERN, "a lower-case slug"),
    "relativePath": relative_path,
    "gitopsPath": _gitops_path,
    "repository": _pattern(_REPO, "a repository name, path or URL"),
    "gitRef": _pattern(_REF, "a valid git ref"),
    "codexBranch": _codex_branch,
    "k8sName": lambda v: None if len(v) <= 63 and _K8S.match(v) else
    "must be a DNS-1123 label (a-z, 0-9, '-', at most 63)",
    "identifier": _pattern(_ID, "an identifier (letters, digits, . _ : -)"),
    "datasetRef": _pattern(_ID, "a snapshot id, id prefix or name"),
    "sha256": _pattern(SHA256_PATTERN, "a sha256 hex digest"),
    "candidateRef": _pattern(r"^[0-9a-f]{6,64}$", "a candidate id or a prefix of 6+ hex"),
    "costModel": _pattern(r"^costs-v[0-9]+$", "a cost model id like costs-v1"),
    "evaluationWindow": _pattern(_WINDOW, "DATASET or DATASET@YYYY-MM-DD..YYYY-MM-DD"),
    "rollbackTarget": _rollback_target,
    "confirmTrue": _confirm,
    "sha256List": _sha_list,
    "complianceProfile": _one_of(*COMPLIANCE_PROFILES),
    "gateTarget": _one_of(*GATE_TARGETS),
    "stressList": _stress,
    "paramGrid": _grid,
    "mapping": lambda v: None,
    "positive": _positive,
}


def check_value(key: ContractKey, value: Any) -> str | None:
    """The problem with ``value`` for ``key`` (type first, then its validator), or None."""
    if not _TYPES[key.type](value):
        return f"must be of type {key.type}, not {type(value).__name__}"
    return VALIDATORS[key.validator](value)


def window_parts(value: str) -> tuple[str, str | None, str | None]:
    """``DATASET@START..END`` → (dataset, start, end); the value was validated before."""
    m = _WINDOW.match(value)
    if m is None:
        raise ValueError(value)
    return m["dataset"], m["start"], m["end"]
