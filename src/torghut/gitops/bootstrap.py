"""Create the workspace's GitOps repository with its initial manifests on ``main``."""

from __future__ import annotations

import os
import subprocess
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

BOT_NAME = "torghut-bootstrap"
BOT_EMAIL = "bootstrap@torghut.invalid"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity so commits work on any machine."""
    env = {**os.environ, "GIT_AUTHOR_NAME": BOT_NAME, "GIT_AUTHOR_EMAIL": BOT_EMAIL,
           "GIT_COMMITTER_NAME": BOT_NAME, "GIT_COMMITTER_EMAIL": BOT_EMAIL}
    try:
        done = subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                              capture_output=True, text=True)
    except FileNotFoundError:
        raise WorkspaceError("git is not installed or not on PATH") from None
    except subprocess.CalledProcessError as exc:
        raise WorkspaceError(f"git {' '.join(args)} failed: {exc.stderr.strip()}",
                             file=repo) from None
    return done.stdout


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
