"""Pull-request providers: where a proposed GitOps change is published and merged.

A pull request is a branch at a head commit plus a ledger record. Providers differ only in
where the branch is reviewed and how it is merged:

* ``local`` — the branch lives in the workspace's GitOps repo; publishing is a no-op (the
  ledger record *is* the pull request) and merging is a real ``git`` merge into ``main``
  (:mod:`torghut.gitops.merge`).
* ``github`` — the branch is pushed to the ``origin`` remote and a pull request is opened
  through GitHub's REST API (:mod:`torghut.gitops.github`); merging asks GitHub to merge
  exactly the approved head sha, then fast-forwards the local ``main`` to GitHub's.

Torghut's own checks (approvals bound to the head sha, separation of duties, a valid
decision, no hard stop) run before any provider is asked to merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Published:
    """Where the pull request can be seen: the provider's id and URL (None for local)."""

    external_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class PullRequestRef:
    """What a provider needs to act on a recorded pull request."""

    branch: str
    head_sha: str
    base: str = "main"
    external_id: str | None = None


class PullRequestProvider(Protocol):
    name: str

    def publish(self, repo: Path, pr: PullRequestRef, *, title: str, body: str) -> Published:
        """Make the branch reviewable (push + open, or nothing for local)."""
        ...

    def merge(self, repo: Path, pr: PullRequestRef, *, message: str) -> str:
        """Merge exactly ``pr.head_sha`` into ``pr.base``; return the new base sha.

        Must refuse (raise) if the branch head is not ``pr.head_sha`` or the merge does not
        apply cleanly; must leave the local ``base`` ref at the merged commit on success.
        """
        ...
