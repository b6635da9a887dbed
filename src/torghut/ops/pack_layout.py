"""Where things live inside an audit pack, and how its files are written.

Shared by the builder (:mod:`torghut.ops.audit_pack`) and the offline verifier
(:mod:`torghut.ops.audit_verify`) so the two can never disagree about a path or an encoding.
``manifest.sha256`` uses ``sha256sum``'s format, so ``sha256sum -c manifest.sha256`` works
too.
"""

from __future__ import annotations

import json
from typing import Any

PACK_FORMAT = "torghut.audit-pack/1"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
METADATA = "metadata.json"
REPORT = "report.md"
CONTROLS = "controls.json"
EVENTS = "audit/events.jsonl"
CHAIN = "audit/chain.jsonl"
ROLLBACKS = "audit/rollbacks.json"
IDENTITIES = "gitops/identities.yaml"
ARTIFACTS_DIR = "artifacts"
LEDGER_DIR = "ledger"
HEADER_FIELDS = ("seq", "ts", "actor", "action", "subject", "payload_hash", "prev_hash")


def table_file(table: str) -> str:
    return f"{LEDGER_DIR}/{table}.json"


def artifact_file(digest: str) -> str:
    return f"{ARTIFACTS_DIR}/{digest}"


def pr_diff_file(pr_id: int) -> str:
    return f"gitops/pr-{pr_id}.diff"


def identities_history_file(commit: str) -> str:
    """``identities.yaml`` as an earlier commit on main had it (keys since rotated)."""
    return f"gitops/identities@{commit[:12]}.yaml"


def dumps(value: Any) -> str:
    """Pretty, deterministic JSON (sorted keys; NaN refused: it is not JSON)."""
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def dumps_lines(values: list[dict[str, Any]]) -> str:
    """JSON Lines, one compact sorted-key object per line."""
    return "".join(json.dumps(v, sort_keys=True, separators=(",", ":"), allow_nan=False,
                              ensure_ascii=False) + "\n" for v in values)


def manifest_hash_line(digest: str) -> str:
    return f"{digest}  {MANIFEST}\n"
