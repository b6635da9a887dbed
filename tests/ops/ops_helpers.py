"""Helpers for the operations-lane tests: a real promotion merge on GitOps main."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.merge import PR_TRAILER, merge_branch
from torghut.gitops.patch import upsert_catalog_entry
from torghut.gitops.pulls import PullRequestRef
from torghut.gitops.repo import commit_files, git, rev_parse, show, update_ref
from torghut.governance.lifecycle import State, transition
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import Candidate, PullRequest, PullRequestEvent, ResearchRun
from torghut.workspace import Workspace

TSMOM_ON = {"strategy_id": "tsmom", "strategy_type": "tsmom", "version": "1.0.0",
            "params": {}, "enabled": True, "mode": "paper"}


@dataclass(frozen=True)
class Merged:
    before: str  # main before the merge (its first parent)
    merge: str  # the merge commit
    branch_head: str


def main_sha(ws: Workspace) -> str:
    sha = rev_parse(ws.gitops_dir, "main")
    assert sha is not None
    return sha


def commit_on_main(ws: Workspace, files: dict[str, str | None], message: str) -> str:
    repo, old = ws.gitops_dir, main_sha(ws)
    new = commit_files(repo, parent=old, files=files, message=message)
    update_ref(repo, "main", new, old)
    git(repo, "read-tree", "-m", "-u", old, new)
    return new


def promotion_merge(ws: Workspace, pr_id: int = 1, branch: str = "codex/promote-tsmom") -> Merged:
    """Enable ``tsmom`` on a branch and merge it like the promotion lane does (trailer)."""
    repo, before = ws.gitops_dir, main_sha(ws)
    catalog = show(repo, CATALOG_PATH)
    assert catalog is not None
    head = commit_files(repo, parent=before, message="Promote tsmom\n",
                        files={CATALOG_PATH: upsert_catalog_entry(catalog, TSMOM_ON)})
    update_ref(repo, branch, head, None)
    merge = merge_branch(repo, PullRequestRef(branch, head),
                         message=f"Merge pull request {pr_id} from {branch}\n\n"
                         f"{PR_TRAILER}: {pr_id}\n")
    return Merged(before, merge, head)


def tracked(repo: Path, ref: str, prefix: str = "apps/torghut") -> str:
    """The tree id of ``prefix`` at ``ref`` (equal ids ⇔ identical content)."""
    return git(repo, "rev-parse", f"{ref}:{prefix}").strip()


def candidate_in_paper(ws: Workspace, pr_id: int, merge_sha: str) -> str:
    """A candidate promoted to paper by pull request ``pr_id`` (rows as the lanes write)."""
    cid, now = "c" * 64, datetime.now(UTC)
    with open_ledger(ws) as ledger, ledger.write() as s:
        for row, action in (
            (ResearchRun(id="r" * 64, strategy_type="tsmom", strategy_version="1.0.0",
                         code_version="test", feature_schema_version="1.0",
                         dataset_id="d", execution_model_id="e", cost_model_id="c",
                         runner_version="1", seed=0, status="finished", started_at=now),
             "research.run"),
            (Candidate(id=cid, run_id="r" * 64, strategy_type="tsmom",
                       strategy_version="1.0.0", params={}, decision_count=1,
                       trade_count=1, symbols=["SPX"], universe="SPX",
                       spec_hash="a" * 64), "research.candidate"),
            (PullRequest(id=pr_id, provider="local", kind="promotion", candidate_id=cid,
                         target="paper", branch="codex/promote-tsmom", base_sha="0" * 40,
                         head_sha="1" * 40, title="Promote tsmom", body_sha256="b" * 64,
                         proposer="promotion-agent"), "promotion.pr.open"),
            (PullRequestEvent(pull_request_id=pr_id, event="merged", actor="test",
                              head_sha="1" * 40, merge_sha=merge_sha, reasons=[]),
             "promotion.pr.merged")):
            audit.record(s, row, actor="test", action=action, subject="setup")
        for state in (State.VALIDATED, State.PR_OPEN, State.APPROVED, State.PAPER):
            transition(s, cid, state, actor="test")
    return cid
