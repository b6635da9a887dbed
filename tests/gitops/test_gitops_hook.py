"""The GitOps repo's pre-commit hook and CI workflow run `torghut config validate`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from torghut.gitops.bootstrap import HOOK_MARKER, WORKFLOW_PATH
from torghut.gitops.manifests import APP_DIR, CATALOG_PATH
from torghut.gitops.repo import git, rev_parse
from torghut.workspace import Workspace
from torghut.yamlio import load_yaml_text


def _commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    """A real `git commit` (hooks enabled), as a person in the GitOps checkout would run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="alice", GIT_AUTHOR_EMAIL="alice@torghut.invalid",
               GIT_COMMITTER_NAME="alice", GIT_COMMITTER_EMAIL="alice@torghut.invalid")
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)


def test_pre_commit_hook_blocks_a_bad_commit_and_checks_what_is_staged(
        ws: Workspace) -> None:
    repo = ws.gitops_dir
    hook = Path(git(repo, "rev-parse", "--git-path", "hooks").strip())
    hook = (repo / hook / "pre-commit")
    assert HOOK_MARKER in hook.read_text() and os.access(hook, os.X_OK)
    head = rev_parse(repo, "main")
    catalog = repo / CATALOG_PATH
    good = catalog.read_text()
    catalog.write_text(good.replace("priority: 110", "priority: high"))
    git(repo, "add", CATALOG_PATH)
    catalog.write_text(good.replace("priority: 110", "priority: 111"))  # fixed, not staged
    blocked = _commit(repo, "bad priority")
    assert blocked.returncode != 0
    line = next(i for i, ln in enumerate(good.splitlines(), 1) if "priority: 110" in ln)
    assert (f"error: {CATALOG_PATH}:{line}: strategies[1].priority: Input should be a valid "
            "integer") in blocked.stderr
    assert rev_parse(repo, "main") == head
    git(repo, "add", CATALOG_PATH)  # now stage the fix
    passed = _commit(repo, "priority 111")
    assert passed.returncode == 0, passed.stderr
    assert rev_parse(repo, "main") != head
    assert "priority: 111" in git(repo, "show", f"main:{CATALOG_PATH}")


def test_ci_workflow_runs_config_validate_on_pushes_and_prs(ws: Workspace) -> None:
    doc = load_yaml_text((ws.gitops_dir / WORKFLOW_PATH).read_text(), file=WORKFLOW_PATH)
    assert set(doc["on"]) == {"push", "pull_request"}
    runs = [step.get("run", "") for step in doc["jobs"]["validate"]["steps"]]
    assert f"torghut config validate {APP_DIR}" in runs
    assert any("pip install" in run for run in runs)
