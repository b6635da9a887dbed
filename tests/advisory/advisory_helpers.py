"""Shared by the advisory tests: enable the path on GitOps main, read recorded calls."""

from __future__ import annotations

from typing import Any

from tests.runtime.test_runtime_config import commit_main
from torghut.advisory.config import ADVISORY_PATH, AdvisoryConfig, load_config
from torghut.ledger import Ledger, audit
from torghut.ledger.audit import AuditEvent
from torghut.workspace import Workspace
from torghut.yamlio import dump_yaml


def enable(ws: Workspace, url: str, **overrides: Any) -> AdvisoryConfig:
    """Commit ``advisory.yaml`` to main (stage 1 unless overridden), as a merged PR would."""
    body: dict[str, Any] = {"stage": 1, "endpoint": f"{url}/v1", "model": "gpt-4o-mini",
                            "timeout_seconds": 1.0, **overrides}
    commit_main(ws, {ADVISORY_PATH: dump_yaml(body)})
    return load_config(ws)


def events(ledger: Ledger, action: str) -> list[AuditEvent]:
    with ledger.read() as s:
        return [e for e in audit.log(s) if e.action == action]
