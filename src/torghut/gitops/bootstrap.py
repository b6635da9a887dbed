"""Create the workspace's GitOps repository with its initial manifests on ``main``."""

from __future__ import annotations

from pathlib import Path

from torghut.errors import WorkspaceError
from torghut.gates.policy import POLICY_PATH, render_policy_yaml
from torghut.gitops.manifests import (
    CATALOG_PATH,
    KUSTOMIZATION_PATH,
    default_catalog,
    render_catalog_configmap,
    render_kustomization,
)
from torghut.gitops.repo import git


def ensure_gitops_repo(path: Path) -> None:
    """Initialise the repo if absent; an existing repo is left exactly as it is."""
    if (path / ".git").exists():
        return
    if path.exists() and any(path.iterdir()):
        raise WorkspaceError("exists, is not empty and is not a git repository", file=path)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    files = {
        CATALOG_PATH: render_catalog_configmap(default_catalog()),
        KUSTOMIZATION_PATH: render_kustomization(),
        POLICY_PATH: render_policy_yaml(),
    }
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "add", *files)
    git(path, "commit", "--quiet", "-m", "torghut: bootstrap GitOps repository")
