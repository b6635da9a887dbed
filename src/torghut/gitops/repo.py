"""The GitOps repository through git itself: read files at a ref, commit without a checkout.

Every change Torghut makes is a commit built with git's plumbing (a private index, ``git
commit-tree``) and published with ``git update-ref NEW OLD`` — a compare-and-swap, so two
writers racing for one branch cannot both win and neither can lose the other's commit. The
working tree is never used to build a commit; after ``main`` moves, a clean checkout of it
is fast-forwarded with ``git read-tree -m -u`` (which refuses to overwrite local edits).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from torghut.errors import TorghutError, WorkspaceError

MAIN = "main"
BOT_NAME = "torghut-bootstrap"
BOT_EMAIL = "bootstrap@torghut.invalid"


@dataclass(frozen=True)
class Author:
    """Who a commit is attributed to (an identity name and a non-routable address)."""

    name: str
    email: str

    @classmethod
    def of(cls, identity: str) -> Author:
        return cls(identity, f"{identity}@torghut.invalid")


BOT = Author(BOT_NAME, BOT_EMAIL)


class GitError(WorkspaceError):
    """A git command failed (the message carries git's own first line)."""


class RefMoved(TorghutError):
    """A branch moved between reading and updating it (a concurrent writer won)."""


def git(repo: Path, *args: str, author: Author = BOT, env: Mapping[str, str] | None = None,
        stdin: str | None = None) -> str:
    """Run git in ``repo`` with a fixed identity so commits work on any machine."""
    full_env = {**os.environ, "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
                **(env or {})}
    try:
        done = subprocess.run(["git", *args], cwd=repo, env=full_env, check=True,
                              capture_output=True, text=True, input=stdin)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        raise GitError(f"git {args[0]} failed: {detail[0] if detail else exc.returncode}",
                       file=repo) from None
    return done.stdout


def rev_parse(repo: Path, ref: str) -> str | None:
    """The commit sha ``ref`` names, or ``None`` if there is no such ref."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        return None


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """Whether ``ancestor`` is in ``descendant``'s history (a commit is its own ancestor)."""
    try:
        git(repo, "merge-base", "--is-ancestor", ancestor, descendant)
    except GitError:
        return False
    return True


def branch_exists(repo: Path, branch: str) -> bool:
    return rev_parse(repo, f"refs/heads/{branch}") is not None


def show(repo: Path, path: str, ref: str = MAIN) -> str | None:
    """The text of ``path`` at ``ref``, or ``None`` if the file is not in that tree.

    One ``git`` call on the common path (this runs on every gate evaluation); only a
    failure costs a second call, to tell a missing file from a missing ref.
    """
    try:
        return git(repo, "cat-file", "blob", f"{ref}:{path}")
    except GitError:
        if rev_parse(repo, ref) is None:
            raise GitError(f"no such ref {ref!r}", file=repo) from None
        return None


def commit_files(repo: Path, *, parent: str, files: Mapping[str, str | None], message: str,
                 author: Author = BOT) -> str:
    """A new commit on top of ``parent`` with ``files`` written (``None`` deletes one).

    Built in a private index, so neither the working tree nor the repo's index is touched.
    Returns the commit sha; no ref points at it until :func:`update_ref`.
    """
    with tempfile.TemporaryDirectory(prefix="torghut-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", parent, env=env)
        for path, text in files.items():
            if text is None:
                git(repo, "update-index", "--force-remove", "--", path, env=env)
                continue
            blob = git(repo, "hash-object", "-w", "--stdin", stdin=text).strip()
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env).strip()
    return git(repo, "commit-tree", tree, "-p", parent, "-F", "-", author=author,
               stdin=message).strip()


def update_ref(repo: Path, branch: str, new: str, old: str | None) -> None:
    """Point ``branch`` at ``new`` only if it still points at ``old`` (``None``: absent)."""
    expected = old if old is not None else "0" * 40
    try:
        git(repo, "update-ref", "-m", "torghut", f"refs/heads/{branch}", new, expected)
    except GitError as exc:
        raise RefMoved(f"branch {branch!r} moved or already exists: {exc.message}",
                       file=repo, field="branch") from None


def sync_checkout(repo: Path, old: str, new: str) -> bool:
    """Bring a checkout of ``main`` from ``old`` to ``new`` if it is clean; True if done.

    A checkout on another branch, or with local edits, is left alone (the refs are the
    truth; the working tree is only a convenience for people reading the files).
    """
    head = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").strip()
    if head != MAIN or not _matches(repo, old):
        return False
    git(repo, "read-tree", "-m", "-u", old, new)
    return True


def _matches(repo: Path, commit: str) -> bool:
    """Index and working tree hold exactly ``commit``'s tracked files (HEAD has moved on)."""
    with suppress(GitError):  # --refresh exits 1 when files differ; diff-index says how
        git(repo, "update-index", "-q", "--refresh")
    for args in (("--cached",), ()):
        try:
            git(repo, "diff-index", "--quiet", *args, commit, "--")
        except GitError:
            return False
    return True
