"""Merge a pull-request branch into ``main`` with real git, refusing anything unexpected.

The merge is computed with ``git merge-tree --write-tree`` (no checkout, no index), so a
conflict is detected before anything changes; the merge commit is published with a
compare-and-swap on ``main``, so of two racing merges exactly one wins and the other is
refused with ``MERGE_RACE``. ``git`` is the source of truth for the config: the caller
records the merge in the ledger afterwards, and :func:`find_merge` lets it recover a merge
whose ledger record a crash interrupted (the merge commit names its pull request).
"""

from __future__ import annotations

from pathlib import Path

from torghut.errors import TorghutError
from torghut.faults import failpoint
from torghut.gitops.pulls import Published, PullRequestRef
from torghut.gitops.repo import (
    BOT,
    MAIN,
    Author,
    GitError,
    RefMoved,
    git,
    is_ancestor,
    rev_parse,
    sync_checkout,
    update_ref,
)

PR_TRAILER = "Torghut-Pull-Request"


class MergeRefused(TorghutError):
    """The merge cannot happen; ``code`` says why (exit 1: a refusal, not bad input)."""

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", field="merge")
        self.code = code


def merge_branch(repo: Path, pr: PullRequestRef, *, message: str,
                 author: Author | None = None) -> str:
    """Merge exactly ``pr.head_sha`` (the approved head) into ``pr.base``; the merge sha."""
    head = rev_parse(repo, f"refs/heads/{pr.branch}")
    if head is None:
        raise MergeRefused("BRANCH_MISSING", f"branch {pr.branch!r} does not exist")
    if head != pr.head_sha:
        raise MergeRefused("HEAD_MOVED", f"branch {pr.branch!r} is at {head[:12]}, not the "
                           f"approved {pr.head_sha[:12]}")
    old = rev_parse(repo, pr.base)
    if old is None:
        raise MergeRefused("BASE_MISSING", f"no {pr.base!r} branch")
    if is_ancestor(repo, head, old):
        raise MergeRefused("ALREADY_MERGED", f"{head[:12]} is already in {pr.base}")
    try:
        tree = git(repo, "merge-tree", "--write-tree", old, head).splitlines()[0]
    except GitError:
        raise MergeRefused("MERGE_CONFLICT", f"{pr.branch!r} does not merge cleanly onto "
                           f"{pr.base} {old[:12]}") from None
    merge = git(repo, "commit-tree", tree, "-p", old, "-p", head, "-F", "-", stdin=message,
                author=author or BOT).strip()
    failpoint("gitops.merge.before_ref")
    try:
        update_ref(repo, pr.base, merge, old)
    except RefMoved:
        raise MergeRefused("MERGE_RACE", f"{pr.base} moved while merging; try again") from None
    sync_checkout(repo, old, merge)
    return merge


def promotion_merges(repo: Path, revs: str, *, first_parent: bool = True
                     ) -> list[tuple[str, int]]:
    """(merge sha, pull request id) of the merges in ``revs`` that name one, newest first."""
    line_only = ("--first-parent",) if first_parent else ()
    out = git(repo, "log", *line_only, "--merges",
              f"--format=%H %(trailers:key={PR_TRAILER},valueonly,separator=%x2C)", revs)
    merges = []
    for line in out.splitlines():
        sha, _, value = line.partition(" ")
        if value.strip().isdigit():
            merges.append((sha, int(value.strip())))
    return merges


def find_merge(repo: Path, pr_id: int, base: str = MAIN) -> str | None:
    """The merge commit on ``base`` that names pull request ``pr_id``, if any."""
    return next((sha for sha, pr in promotion_merges(repo, base, first_parent=False)
                 if pr == pr_id), None)


class LocalProvider:
    """Pull requests that live in the workspace's GitOps repo (module docstring)."""

    name = "local"

    def publish(self, repo: Path, pr: PullRequestRef, *, title: str, body: str) -> Published:
        return Published()

    def merge(self, repo: Path, pr: PullRequestRef, *, message: str) -> str:
        return merge_branch(repo, pr, message=message)
