"""Local pull-request merges with real git: clean merges, conflicts, moved heads, races."""

from __future__ import annotations

import pytest

from torghut.gitops.manifests import CATALOG_PATH, load_catalog
from torghut.gitops.merge import PR_TRAILER, LocalProvider, MergeRefused, find_merge
from torghut.gitops.patch import upsert_catalog_entry
from torghut.gitops.pulls import PullRequestRef
from torghut.gitops.repo import commit_files, git, rev_parse, show, update_ref
from torghut.workspace import Workspace

ENTRY = {"strategy_id": "tsmom-edge", "strategy_type": "tsmom", "version": "1.0.0",
         "params": {"lookback": 20}, "enabled": True, "mode": "paper"}


def _branch(ws: Workspace, name: str, files: dict[str, str | None]) -> PullRequestRef:
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    sha = commit_files(repo, parent=main, files=files, message=f"change {name}")
    update_ref(repo, name, sha, None)
    return PullRequestRef(branch=name, head_sha=sha)


def _catalog_change(ws: Workspace, **entry: object) -> dict[str, str | None]:
    text = show(ws.gitops_dir, CATALOG_PATH)
    assert text is not None
    return {CATALOG_PATH: upsert_catalog_entry(text, {**ENTRY, **entry})}


def test_a_clean_merge_moves_main_and_the_checkout(ws: Workspace) -> None:
    repo = ws.gitops_dir
    pr = _branch(ws, "codex/a", _catalog_change(ws))
    old = rev_parse(repo, "main")
    merged = LocalProvider().merge(repo, pr, message=f"Merge a\n\n{PR_TRAILER}: 7\n")
    assert rev_parse(repo, "main") == merged
    assert git(repo, "rev-parse", f"{merged}^1").strip() == old
    assert git(repo, "rev-parse", f"{merged}^2").strip() == pr.head_sha
    entries = {e.strategy_id: e for e in load_catalog(repo / CATALOG_PATH).strategies}
    assert entries["tsmom-edge"].enabled and entries["tsmom-edge"].params == {"lookback": 20}
    assert find_merge(repo, 7) == merged and find_merge(repo, 8) is None


def test_a_head_that_moved_after_approval_is_refused(ws: Workspace) -> None:
    repo = ws.gitops_dir
    pr = _branch(ws, "codex/a", _catalog_change(ws))
    later = commit_files(repo, parent=pr.head_sha, files={"x.txt": "sneaky\n"}, message="x")
    update_ref(repo, "codex/a", later, pr.head_sha)
    main = rev_parse(repo, "main")
    with pytest.raises(MergeRefused) as err:
        LocalProvider().merge(repo, pr, message="Merge")
    assert err.value.code == "HEAD_MOVED" and rev_parse(repo, "main") == main


def test_a_conflict_with_main_is_refused_and_changes_nothing(ws: Workspace) -> None:
    repo = ws.gitops_dir
    first = _branch(ws, "codex/a", _catalog_change(ws, params={"lookback": 20}))
    second = _branch(ws, "codex/b", _catalog_change(ws, params={"lookback": 60}))
    LocalProvider().merge(repo, first, message="Merge a")
    main = rev_parse(repo, "main")
    with pytest.raises(MergeRefused) as err:
        LocalProvider().merge(repo, second, message="Merge b")
    assert err.value.code == "MERGE_CONFLICT" and rev_parse(repo, "main") == main
    assert git(repo, "status", "--porcelain").strip() == ""


def test_a_missing_branch_is_refused(ws: Workspace) -> None:
    with pytest.raises(MergeRefused) as err:
        LocalProvider().merge(ws.gitops_dir, PullRequestRef("codex/nope", "0" * 40), message="m")
    assert err.value.code == "BRANCH_MISSING"
