"""The ``github`` pull-request provider: push, open and merge through GitHub's REST API.

GitHub is only where the pull request is *seen* and where ``main`` is *moved*; Torghut's own
checks (a standing approval bound to the head sha, separation of duties, a valid decision,
no hard stop) have already run when :meth:`GithubProvider.merge` is called. The provider
adds the checks only GitHub can answer and never trusts a moved branch:

* ``publish`` pushes ``head_sha`` to ``refs/heads/<branch>`` with a lease that requires the
  branch to be absent (a branch GitHub already has at another commit is refused, never
  overwritten), then opens the pull request (``POST /repos/{owner}/{repo}/pulls``).
* ``merge`` reads the pull request first and refuses a moved head, a closed or merged pull
  request and a known conflict; it then asks GitHub to merge *exactly* the approved sha
  (``PUT .../merge`` with ``sha``: GitHub answers 409 if the head moved in between, 405 if
  it cannot merge). The merge commit is fetched, checked (its second parent must be the
  approved head) and the local ``main`` is moved to it with a compare-and-swap, so the
  local GitOps repo and the ledger agree with GitHub.

Requests follow GitHub's REST conventions (``Accept: application/vnd.github+json``, the
``X-GitHub-Api-Version: 2022-11-28`` header, a bearer token). Only failures where the
request cannot have been acted on are retried: a connection that was never made, and 502 /
503 from GitHub's front end, with a capped exponential backoff (no jitter, so a run is
reproducible; ``Retry-After`` is honoured up to the cap). The token is never logged and is
redacted from every message this module builds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from torghut.errors import TorghutError
from torghut.gitops.merge import MergeRefused
from torghut.gitops.pulls import Published, PullRequestRef
from torghut.gitops.repo import GitError, git, is_ancestor, rev_parse, sync_checkout, update_ref

log = logging.getLogger(__name__)

ENV_REPO = "TORGHUT_GITHUB_REPO"
ENV_API = "TORGHUT_GITHUB_API"
ENV_TOKEN = "GITHUB_TOKEN"
DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
REMOTE = "origin"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRY_STATUSES = frozenset({502, 503})
REVIEWS_PER_PAGE = 100  # GitHub's maximum page; a promotion PR has far fewer reviews
DECISIVE_REVIEWS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")

Sleep = Callable[[float], None]


class GithubError(TorghutError):
    """GitHub or the push/fetch around it failed; ``code`` is stable for scripts and audits."""

    def __init__(self, code: str, message: str, *, field: str | None = "github") -> None:
        super().__init__(f"{code}: {message}", field=field)
        self.code = code


class GithubRefused(MergeRefused):
    """GitHub's view of the pull request forbids the merge (HEAD_MOVED, NOT_MERGEABLE, …).

    A :class:`~torghut.gitops.merge.MergeRefused`, so the promotion lane audits it exactly
    like a refusal of the local provider (exit 1).
    """


@dataclass(frozen=True, kw_only=True)
class GithubSettings:
    """Which repository to use and how to reach it; the token never appears in ``repr``."""

    repo: str
    token: str = field(repr=False)
    api_url: str = DEFAULT_API

    def __post_init__(self) -> None:
        if not _REPO_RE.match(self.repo):
            raise TorghutError(f"expected owner/name, got {self.repo!r}", field=ENV_REPO)
        if not self.api_url.startswith(("https://", "http://")):
            raise TorghutError(f"expected an http(s) URL, got {self.api_url!r}", field=ENV_API)
        if not self.token.strip():
            raise TorghutError("is empty", field=ENV_TOKEN)
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GithubSettings:
        """Read ``TORGHUT_GITHUB_REPO``, ``GITHUB_TOKEN`` and optional ``TORGHUT_GITHUB_API``."""
        env = os.environ if env is None else env
        values = {}
        for name in (ENV_REPO, ENV_TOKEN):
            value = env.get(name, "").strip()
            if not value:
                raise TorghutError("environment variable is not set (needed by --provider "
                                   "github)", field=name)
            values[name] = value
        api = env.get(ENV_API, "").strip() or DEFAULT_API
        return cls(repo=values[ENV_REPO], token=values[ENV_TOKEN], api_url=api)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a request that never took effect."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds before retry number ``attempt + 1``: doubling, capped, Retry-After first."""
        if retry_after is not None and retry_after.strip().isdigit():
            return min(self.max_delay, float(retry_after.strip()))
        return min(self.max_delay, self.base_delay * 2.0**attempt)


class GithubProvider:
    """Pull requests on GitHub (module docstring); implements ``PullRequestProvider``."""

    name = "github"

    def __init__(self, settings: GithubSettings, *, client: httpx.Client | None = None,
                 sleep: Sleep = time.sleep, retry: RetryPolicy | None = None,
                 mergeable_polls: int = 3) -> None:
        self.settings = settings
        self._client = client or httpx.Client(timeout=TIMEOUT)
        self._owns_client = client is None
        self._sleep = sleep
        self._retry = retry or RetryPolicy()
        self._mergeable_polls = mergeable_polls

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> GithubProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ provider interface

    def publish(self, repo: Path, pr: PullRequestRef, *, title: str, body: str) -> Published:
        """Push the branch (refusing to move one GitHub already has), then open the PR."""
        push_branch(repo, pr)
        payload = {"title": title, "head": pr.branch, "base": pr.base, "body": body,
                   "maintainer_can_modify": False}
        data = self._call("POST", self._path("pulls"), payload, ok=201)
        return Published(external_id=str(data["number"]), url=str(data["html_url"]))

    def merge(self, repo: Path, pr: PullRequestRef, *, message: str) -> str:
        """Have GitHub merge exactly ``pr.head_sha``, then move the local base to the merge."""
        # control: SEC-9 — only the reviewed (approved) head reaches main, never a moved one
        number = pull_number(pr)
        check_mergeable(self._pull(number, wait_for_mergeable=True), pr)
        title, _, rest = message.partition("\n")
        payload = {"sha": pr.head_sha, "merge_method": "merge", "commit_title": title,
                   "commit_message": rest.strip("\n")}
        data = self._call("PUT", self._path(f"pulls/{number}/merge"), payload, ok=200,
                          refusals={405: "NOT_MERGEABLE", 409: "HEAD_MOVED"})
        if data.get("merged") is not True or not isinstance(data.get("sha"), str):
            raise GithubError("GITHUB_API_ERROR", f"merge of pull request #{number} was not "
                              f"confirmed: {self._redact(str(data.get('message')))}")
        return adopt_merge(repo, pr, data["sha"], number)

    def status(self, pr: PullRequestRef) -> dict[str, Any]:
        """GitHub's view of the pull request, for ``promote status``: state, mergeability,
        head sha (``head_matches``: it is still ``pr.head_sha``) and reviews.

        Read-only; a GitHub error raises :class:`GithubError` (exit 2), never a partial
        answer. Reviews are GitHub's own, shown for information: Torghut's approval is the
        signed one in the ledger.
        """
        number = pull_number(pr)
        pull = self._pull(number, wait_for_mergeable=False)
        reviews = self._call_list("GET", self._path(f"pulls/{number}/reviews?per_page="
                                                    f"{REVIEWS_PER_PAGE}"), ok=200)
        head = pull.get("head", {}).get("sha")
        return {"provider": self.name, "number": pull.get("number"),
                "state": pull.get("state"), "merged": bool(pull.get("merged")),
                "head_sha": head, "head_matches": head == pr.head_sha,
                "mergeable": pull.get("mergeable"),
                "mergeable_state": pull.get("mergeable_state"),
                "merge_commit_sha": pull.get("merge_commit_sha"),
                "html_url": pull.get("html_url"), **review_summary(reviews, head)}

    # ------------------------------------------------------------------ REST plumbing

    def _path(self, tail: str) -> str:
        return f"/repos/{self.settings.repo}/{tail}"

    def _pull(self, number: int, *, wait_for_mergeable: bool) -> dict[str, Any]:
        """GET the pull request; while GitHub is still computing ``mergeable``, ask again."""
        pull = self._call("GET", self._path(f"pulls/{number}"), None, ok=200)
        for attempt in range(self._mergeable_polls if wait_for_mergeable else 0):
            if pull.get("mergeable") is not None or pull.get("state") != "open":
                break
            self._sleep(self._retry.delay(attempt))
            pull = self._call("GET", self._path(f"pulls/{number}"), None, ok=200)
        return pull

    def _call(self, method: str, path: str, payload: dict[str, Any] | None, *, ok: int,
              refusals: Mapping[int, str] | None = None) -> dict[str, Any]:
        return _json_object(self._checked(method, path, payload, ok=ok, refusals=refusals),
                            f"{method} {path}")

    def _call_list(self, method: str, path: str, *, ok: int) -> list[dict[str, Any]]:
        return _json_list(self._checked(method, path, None, ok=ok), f"{method} {path}")

    def _checked(self, method: str, path: str, payload: dict[str, Any] | None, *, ok: int,
                 refusals: Mapping[int, str] | None = None) -> httpx.Response:
        """The response if its status is ``ok``; otherwise a refusal or an API error."""
        response = self._send(method, path, payload)
        if response.status_code == ok:
            return response
        detail = self._redact(error_detail(response))
        code = (refusals or {}).get(response.status_code)
        if code is not None:
            raise GithubRefused(code, f"GitHub answered {response.status_code}: {detail}")
        raise self._api_error(method, path, response.status_code, detail)

    def _send(self, method: str, path: str, payload: dict[str, Any] | None) -> httpx.Response:
        """One request, retried only when it cannot have taken effect (module docstring)."""
        url = self.settings.api_url + path
        for attempt in range(self._retry.attempts):
            last = attempt == self._retry.attempts - 1
            try:
                response = self._client.request(method, url, json=payload,
                                                headers=self._headers())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise GithubError("GITHUB_UNREACHABLE", f"{method} {path}: "
                                      f"{self._redact(str(exc)) or type(exc).__name__} "
                                      f"(after {self._retry.attempts} attempts)") from None
                log.info("GitHub %s %s: %s; retrying", method, path, type(exc).__name__)
                self._sleep(self._retry.delay(attempt))
                continue
            except httpx.HTTPError as exc:
                raise GithubError("GITHUB_UNREACHABLE", f"{method} {path}: "
                                  f"{type(exc).__name__}: {self._redact(str(exc))}") from None
            log.debug("GitHub %s %s -> %s", method, path, response.status_code)
            if response.status_code not in RETRY_STATUSES or last:
                return response
            self._sleep(self._retry.delay(attempt, response.headers.get("retry-after")))
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _headers(self) -> dict[str, str]:
        return {"Accept": MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION,
                "Authorization": f"Bearer {self.settings.token}",
                "User-Agent": "torghut-gitops"}

    def _api_error(self, method: str, path: str, status: int, detail: str) -> GithubError:
        if status == 401:
            return GithubError("GITHUB_AUTH", f"GitHub rejected the token ({status} {detail}); "
                               f"check {ENV_TOKEN}", field=ENV_TOKEN)
        if status == 422 and "already exists" in detail:
            return GithubError("PR_EXISTS", f"{detail} (close it on GitHub or propose again "
                               "on a new branch)")
        hint = f" (check {ENV_REPO} and the token's access)" if status in (403, 404) else ""
        return GithubError("GITHUB_API_ERROR", f"{method} {path} answered {status}: "
                           f"{detail}{hint}")

    def _redact(self, text: str) -> str:
        return text.replace(self.settings.token, "***")


# ---------------------------------------------------------------------- checks and git side


def pull_number(pr: PullRequestRef) -> int:
    """The GitHub pull-request number recorded when it was published."""
    if pr.external_id is None or not pr.external_id.isdigit():
        raise GithubError("NOT_PUBLISHED", f"branch {pr.branch!r} has no GitHub pull request "
                          f"number (got {pr.external_id!r}); was it proposed with --provider "
                          "github?")
    return int(pr.external_id)


def check_mergeable(pull: Mapping[str, Any], pr: PullRequestRef) -> None:
    """Refuse what GitHub already says cannot or must not be merged."""
    number = pull.get("number")
    if pull.get("merged"):
        raise GithubRefused("ALREADY_MERGED", f"pull request #{number} was already merged "
                            f"on GitHub as {pull.get('merge_commit_sha')}")
    if pull.get("state") != "open":
        raise GithubRefused("PR_CLOSED", f"pull request #{number} is {pull.get('state')} on "
                            "GitHub")
    head = pull.get("head", {}).get("sha")
    if head != pr.head_sha:
        raise GithubRefused("HEAD_MOVED", f"GitHub's head of #{number} is {str(head)[:12]}, "
                            f"not the approved {pr.head_sha[:12]}")
    if pull.get("mergeable") is False:
        raise GithubRefused("NOT_MERGEABLE", f"GitHub cannot merge #{number} "
                            f"({pull.get('mergeable_state')})")


def remote_sha(repo: Path, branch: str) -> str | None:
    """Where ``origin`` has ``branch`` (``None``: it does not)."""
    out = _git_or_fail(repo, "PUSH_FAILED", "ls-remote", REMOTE, f"refs/heads/{branch}")
    return out.split()[0] if out.strip() else None


def push_branch(repo: Path, pr: PullRequestRef) -> None:
    """Create ``branch`` at ``head_sha`` on ``origin``; never move an existing one.

    Pushing again after a crash is a no-op when the remote is already at ``head_sha``. The
    lease with an empty expected value makes git refuse if the branch appeared meanwhile.
    """
    current = remote_sha(repo, pr.branch)
    if current == pr.head_sha:
        return
    if current is not None:
        raise GithubError("BRANCH_EXISTS", f"{REMOTE} already has {pr.branch!r} at "
                          f"{current[:12]}, not {pr.head_sha[:12]}; branch names are never "
                          "reused")
    ref = f"refs/heads/{pr.branch}"
    _git_or_fail(repo, "PUSH_FAILED", "push", "--quiet", "--porcelain",
                 f"--force-with-lease={ref}:", REMOTE, f"{pr.head_sha}:{ref}")


def adopt_merge(repo: Path, pr: PullRequestRef, merge_sha: str, number: int) -> str:
    """Fetch GitHub's merge, check it merges the approved head, move the local base to it."""
    old = rev_parse(repo, f"refs/heads/{pr.base}")
    _git_or_fail(repo, "LOCAL_SYNC_FAILED", "fetch", "--quiet", REMOTE,
                 f"+refs/heads/{pr.base}:refs/remotes/{REMOTE}/{pr.base}")
    parents = _git_or_fail(repo, "LOCAL_SYNC_FAILED", "rev-list", "--parents", "-n", "1",
                           merge_sha).split()[1:]
    if len(parents) != 2 or parents[1] != pr.head_sha:
        raise GithubError("MERGE_MISMATCH", f"GitHub's merge {merge_sha[:12]} of #{number} "
                          f"has parents {[p[:12] for p in parents]}; expected the approved "
                          f"head {pr.head_sha[:12]} as second parent; local {pr.base} left "
                          "unchanged")
    if old is not None and not is_ancestor(repo, old, merge_sha):
        raise GithubError("LOCAL_SYNC_FAILED", f"GitHub merged #{number} as {merge_sha[:12]} "
                          f"but local {pr.base} ({old[:12]}) has commits GitHub lacks; "
                          "reconcile them, then fast-forward to the merge")
    update_ref(repo, pr.base, merge_sha, old)
    if old is not None:
        sync_checkout(repo, old, merge_sha)
    return merge_sha



def _git_or_fail(repo: Path, code: str, *args: str) -> str:
    try:
        return git(repo, *args)
    except GitError as exc:
        raise GithubError(code, exc.message, field="git") from None


def error_detail(response: httpx.Response) -> str:
    """GitHub's ``message`` plus each entry of its ``errors`` array, on one line."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.reason_phrase or "no details"
    if not isinstance(body, dict):
        return response.reason_phrase or "no details"
    parts = [str(body.get("message") or response.reason_phrase)]
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("message") or item.get("code") or item))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def review_summary(reviews: list[dict[str, Any]], head: str | None) -> dict[str, Any]:
    """Each reviewer's latest decisive review and the overall state GitHub would show.

    As on GitHub, a comment-only review does not change a reviewer's verdict, and one
    outstanding "changes requested" outweighs approvals. ``on_head``: the review was given
    on the current head commit (an approval of an older commit is stale).
    """
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:  # GitHub lists them oldest first
        login = str((review.get("user") or {}).get("login") or "?")
        if review.get("state") in DECISIVE_REVIEWS:
            latest[login] = review
    states = {r["state"] for r in latest.values()}
    overall = ("changes_requested" if "CHANGES_REQUESTED" in states
               else "approved" if "APPROVED" in states else "none")
    return {"review_state": overall,
            "reviews": [{"user": login, "state": str(r["state"]).lower(),
                         "commit_id": r.get("commit_id"),
                         "on_head": r.get("commit_id") == head,
                         "submitted_at": r.get("submitted_at")}
                        for login, r in sorted(latest.items())]}


def _json_list(response: httpx.Response, what: str) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise GithubError("GITHUB_API_ERROR", f"{what}: expected a JSON array of objects "
                          "from GitHub")
    return body


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise GithubError("GITHUB_API_ERROR", f"{what}: expected a JSON object from GitHub")
    return body
