"""What a lane workflow gets (:class:`LaneContext`) and returns (:class:`LaneOutcome`).

A lane is a plain function ``(LaneContext) -> LaneOutcome`` that composes existing use cases
(research runs, gate evaluation, promotion, rollback …) as the run's identity. The context
carries the bounds it must honour (:meth:`LaneContext.check_deadline`), the decision log it
appends to (every decision with the evidence it relied on) and the bundle's ``diffs/``
folder for the GitOps diffs it produces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from torghut.agentrun.failures import BoundExceeded, ContractFailure
from torghut.agentrun.keys import relative_path
from torghut.contracts.agentrun import AgentRun, ImplementationSpec
from torghut.gitops.repo import git
from torghut.ledger import Ledger
from torghut.workspace import Workspace


@dataclass
class LaneContext:
    ws: Workspace
    ledger: Ledger
    run: AgentRun
    spec: ImplementationSpec
    actor: str
    work_dir: Path  # the bundle being built; diffs go to work_dir / "diffs"
    now: datetime
    deadline: float  # clock() value past which the run is over its wall time
    clock: Callable[[], float] = time.monotonic
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.run.spec.parameters

    def decide(self, decision: str, *, evidence_refs: Iterable[str] = (),
               **detail: Any) -> None:
        """Append one decision to ``decision-log.jsonl`` (with the evidence it relied on)."""
        self.decisions.append({"seq": len(self.decisions) + 1, "lane": self.spec.spec.lane,
                               "decision": decision, "evidence_refs": list(evidence_refs),
                               "detail": json.loads(json.dumps(detail, default=str))})

    def check_deadline(self) -> None:
        if self.clock() > self.deadline:
            raise BoundExceeded("WALL_TIME_EXCEEDED", f"{self.run.name} ran past its wall "
                                f"time of {self.spec.spec.bounds.wall_time_seconds} s")

    def path(self, key: str) -> Path:
        """A workspace path from parameter ``key`` (validated relative, never outside)."""
        value = str(self.params[key])
        if relative_path(value):
            raise ContractFailure("must be a relative path", field=f"spec.parameters.{key}")
        return self.ws.root / value

    def existing(self, key: str) -> Path:
        target = self.path(key)
        if not target.exists():
            raise ContractFailure(f"{target} does not exist", field=f"spec.parameters.{key}")
        return target

    def gitops_repo(self) -> Path:
        """The workspace's GitOps repo, which ``repository`` must name: ``gitops``, its path
        or its ``origin`` URL (a run never writes to a repository it did not name)."""
        repo = self.ws.gitops_dir
        named = str(self.params["repository"])
        origin = git(repo, "config", "--default", "", "--get", "remote.origin.url").strip()
        if named not in {"gitops", str(repo), str(repo.resolve()), origin} - {""}:
            raise ContractFailure(f"{named!r} is not this workspace's GitOps repo (gitops, "
                                  f"{repo}{', ' + origin if origin else ''})",
                                  field="spec.parameters.repository")
        return repo

    def write_diff(self, name: str, base: str, head: str) -> Path:
        """``git diff base head`` of the GitOps repo into ``diffs/<name>.diff``."""
        text = git(self.ws.gitops_dir, "diff", "--no-color", base, head)
        out = self.work_dir / "diffs" / f"{name.replace('/', '_')}.diff"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return out


@dataclass(frozen=True)
class LaneOutcome:
    """What a lane produced: outputs for the caller, metrics for ``metrics.json``."""

    outputs: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    written: tuple[Path, ...] = ()  # workspace files/folders it wrote (counted in the bound)
