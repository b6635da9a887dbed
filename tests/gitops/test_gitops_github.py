"""The GitHub provider against recorded GitHub responses and a real git remote.

GitHub's side is replayed through ``httpx.MockTransport`` from JSON recordings in
``github_responses/`` (shaped like GitHub's documented responses; placeholders such as
``{{head_sha}}`` are filled at test time). The git side is real: ``origin`` is a local bare
repository, so ``push``/``fetch`` really run, and "GitHub merging" is a real merge commit
made in the bare repository with git plumbing when the PUT arrives.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.research.research_helpers import candidate
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.gates import Target
from torghut.data.synth import SynthSpec, build_synth
from torghut.errors import TorghutError
from torghut.gates import default_policy
from torghut.gitops.github import (
    API_VERSION,
    GithubError,
    GithubProvider,
    GithubRefused,
    GithubSettings,
    RetryPolicy,
)
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.merge import MergeRefused
from torghut.gitops.pulls import PullRequestProvider, PullRequestRef
from torghut.gitops.repo import commit_files, git, rev_parse, update_ref
from torghut.governance.lifecycle import State, current_state
from torghut.lanes import promotion
from torghut.lanes.research import record_run
from torghut.lanes.validation import evaluate_candidate
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import Candidate, PullRequest, PullRequestEvent
from torghut.research.run import ResearchRun as FinishedRun
from torghut.research.run import RunOptions, run_research
from torghut.workspace import Workspace, init_workspace

RESPONSES = Path(__file__).parent / "github_responses"
OWNER_REPO = "torghut-demo/gitops"
PULLS = f"/repos/{OWNER_REPO}/pulls"
TOKEN = "ghp_R3cordedFixtureT0ken000000000000000000"
BRANCH = "codex/promote-cand1-202503041015"
CATALOG = "apps/torghut/catalog.yaml"
TITLE = "Promote tsmom-a (tsmom) to paper"
BODY = "| gate | status |\n|---|---|\n| 0 data | pass |\n"
MESSAGE = (f"Merge pull request 1 from {BRANCH}\n\n{TITLE}\n\n"
           "Torghut-Pull-Request: 1\nTorghut-Approved-By: alice\n")

EDGE = SynthSpec(symbols=2, bars=2000, seed=3, planted_edge=3.0, edge_lookback=20)

Handler = Callable[[httpx.Request], httpx.Response]


# ----------------------------------------------------------------------------- helpers


def fill(value: Any, values: dict[str, str]) -> Any:
    """Replace ``{{name}}`` placeholders inside every string of a recorded JSON body."""
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{{" + name + "}}", text)
        return value
    return value


def recorded(name: str, values: dict[str, str] | None = None, *,
             edit: Callable[[dict[str, Any]], None] | None = None) -> httpx.Response:
    """A recorded GitHub response with its placeholders filled (all of them, or it fails)."""
    rec = json.loads((RESPONSES / name).read_text())
    body = fill(rec["body"], values or {})
    assert "{{" not in json.dumps(body), f"{name}: unfilled placeholder"
    if edit is not None:
        edit(body)
    return httpx.Response(rec["status"], headers=rec["headers"], json=body)


@dataclass
class Replay:
    """GitHub as a script: each (method, path) answers its queued responses in order."""

    routes: dict[tuple[str, str], list[httpx.Response | Handler]]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        assert queue, f"unexpected request {request.method} {request.url.path}"
        item = queue.pop(0)
        if isinstance(item, httpx.Response):
            return item
        return item(request)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


@dataclass
class Remote:
    """A GitOps checkout on ``main`` whose ``origin`` is a bare repository."""

    local: Path
    origin: Path
    base: str
    head: str

    @property
    def pr(self) -> PullRequestRef:
        return PullRequestRef(BRANCH, self.head, external_id="42")

    def values(self, **extra: str) -> dict[str, str]:
        return {"branch": BRANCH, "head_sha": self.head, "base_sha": self.base,
                "title": TITLE, "body": BODY, **extra}


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    origin, local = tmp_path / "origin.git", tmp_path / "gitops"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(local))
    (local / "apps" / "torghut").mkdir(parents=True)
    (local / CATALOG).write_text("strategies: []\n")
    git(local, "add", CATALOG)
    git(local, "commit", "--quiet", "-m", "bootstrap")
    git(local, "remote", "add", "origin", str(origin))
    git(local, "push", "--quiet", "origin", "main")
    base = rev_parse(local, "main")
    assert base is not None
    head = commit_files(local, parent=base, files={CATALOG: "strategies:\n- name: tsmom-a\n"},
                        message=TITLE)
    update_ref(local, BRANCH, head, None)
    return Remote(local, origin, base, head)


def provider(replay: Replay, sleeps: list[float] | None = None) -> GithubProvider:
    settings = GithubSettings(repo=OWNER_REPO, token=TOKEN)
    client = httpx.Client(transport=httpx.MockTransport(replay))
    return GithubProvider(settings, client=client,
                          sleep=(sleeps if sleeps is not None else []).append)


def github_merges(origin: Path, head: str, message: str, *, second_parent: bool = True) -> str:
    """What GitHub does on a merge: a merge commit of ``head`` onto ``main`` in the remote."""
    base = rev_parse(origin, "refs/heads/main")
    assert base is not None
    tree = git(origin, "merge-tree", "--write-tree", base, head).splitlines()[0]
    parents = ["-p", base, "-p", head] if second_parent else ["-p", base]
    sha = git(origin, "commit-tree", tree, *parents, "-F", "-", stdin=message).strip()
    git(origin, "update-ref", "refs/heads/main", sha, base)
    return sha


def assert_github_headers(request: httpx.Request) -> None:
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == API_VERSION == "2022-11-28"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def merge_handler(remote: Remote, *, second_parent: bool = True) -> Handler:
    """The PUT .../merge answer: check the request, merge in the bare repo, reply 200."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        assert sent["sha"] == remote.head
        message = f"{sent['commit_title']}\n\n{sent['commit_message']}\n"
        sha = github_merges(remote.origin, sent["sha"], message, second_parent=second_parent)
        return recorded("merge_200.json", {"merge_sha": sha})

    return handle


def pushed(remote: Remote) -> None:
    git(remote.local, "push", "--quiet", "origin", f"{remote.head}:refs/heads/{BRANCH}")


# ----------------------------------------------------------------------------- publish


def test_provider_satisfies_the_interface() -> None:
    prov: PullRequestProvider = provider(Replay({}))
    assert prov.name == "github"


def test_publish_pushes_the_branch_and_opens_the_pull_request(remote: Remote) -> None:
    replay = Replay({("POST", PULLS): [recorded("create_pull_201.json", remote.values())]})
    published = provider(replay).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    assert published.external_id == "42"
    assert published.url == "https://github.com/torghut-demo/gitops/pull/42"
    assert rev_parse(remote.origin, f"refs/heads/{BRANCH}") == remote.head
    (request,) = replay.requests
    assert request.url == httpx.URL(f"https://api.github.com{PULLS}")
    assert_github_headers(request)
    assert json.loads(request.content) == {"title": TITLE, "head": BRANCH, "base": "main",
                                           "body": BODY, "maintainer_can_modify": False}


def test_publish_again_after_a_crash_does_not_push_twice(remote: Remote) -> None:
    pushed(remote)  # the branch reached GitHub, the pull request was never opened
    replay = Replay({("POST", PULLS): [recorded("create_pull_201.json", remote.values())]})
    published = provider(replay).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    assert published.external_id == "42"
    assert replay.calls() == [("POST", PULLS)]


def test_publish_refuses_a_remote_branch_at_another_commit(remote: Remote) -> None:
    git(remote.local, "push", "--quiet", "origin", f"{remote.base}:refs/heads/{BRANCH}")
    replay = Replay({})
    with pytest.raises(GithubError) as caught:
        provider(replay).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    assert caught.value.code == "BRANCH_EXISTS"
    assert rev_parse(remote.origin, f"refs/heads/{BRANCH}") == remote.base  # not moved
    assert replay.requests == []


def test_publish_duplicate_pull_request_is_a_clear_error(remote: Remote) -> None:
    replay = Replay({("POST", PULLS): [recorded("create_pull_422_exists.json",
                                                {"branch": BRANCH})]})
    with pytest.raises(GithubError) as caught:
        provider(replay).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    err = caught.value
    assert err.code == "PR_EXISTS" and err.exit_code == 2
    assert f"A pull request already exists for torghut-demo:{BRANCH}" in str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize("echo_token", [False, True])
def test_bad_credentials_name_the_variable_never_the_token(remote: Remote,
                                                           echo_token: bool) -> None:
    def edit(body: dict[str, Any]) -> None:
        if echo_token:  # even if GitHub (or a proxy) echoed it back, we never repeat it
            body["message"] = f"Bad credentials for {TOKEN}"

    replay = Replay({("POST", PULLS): [recorded("bad_credentials_401.json", edit=edit)]})
    with pytest.raises(GithubError) as caught:
        provider(replay).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    err = caught.value
    assert err.code == "GITHUB_AUTH" and err.exit_code == 2 and err.field == "GITHUB_TOKEN"
    assert "Bad credentials" in str(err)
    assert TOKEN not in str(err) and TOKEN[4:12] not in str(err)
    assert TOKEN not in repr(GithubSettings(repo=OWNER_REPO, token=TOKEN))


# ----------------------------------------------------------------------------- retries


def test_a_transient_503_is_retried_without_sleeping_for_real(remote: Remote) -> None:
    sleeps: list[float] = []
    replay = Replay({("POST", PULLS): [
        httpx.Response(503, text="<html><body>503 Service Unavailable</body></html>"),
        recorded("create_pull_201.json", remote.values())]})
    published = provider(replay, sleeps).publish(remote.local, remote.pr, title=TITLE,
                                                 body=BODY)
    assert published.external_id == "42"
    assert replay.calls() == [("POST", PULLS), ("POST", PULLS)]
    assert sleeps == [RetryPolicy().base_delay]


def test_connection_errors_and_502_back_off_capped_and_honour_retry_after(
        remote: Remote) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    replay = Replay({("POST", PULLS): [
        refused, refused, httpx.Response(502, headers={"Retry-After": "30"}),
        recorded("create_pull_201.json", remote.values())]})
    prov = provider(replay, sleeps)
    prov.publish(remote.local, remote.pr, title=TITLE, body=BODY)
    policy = RetryPolicy()
    assert sleeps == [policy.base_delay, policy.base_delay * 2, policy.max_delay]
    assert len(replay.requests) == 4


def test_retries_give_up_and_other_errors_are_not_retried(remote: Remote) -> None:
    sleeps: list[float] = []
    replay = Replay({("POST", PULLS): [httpx.Response(503) for _ in range(4)]})
    with pytest.raises(GithubError) as caught:
        provider(replay, sleeps).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    assert caught.value.code == "GITHUB_API_ERROR" and "503" in str(caught.value)
    assert sleeps == [0.5, 1.0, 2.0] and len(replay.requests) == 4

    once = Replay({("POST", PULLS): [httpx.Response(500, json={"message": "Server Error"})]})
    with pytest.raises(GithubError, match="500"):
        provider(once, sleeps := []).publish(remote.local, remote.pr, title=TITLE, body=BODY)
    assert len(once.requests) == 1 and sleeps == []


# ----------------------------------------------------------------------------- merge


def test_merge_happy_path_moves_local_main_to_githubs_merge(remote: Remote) -> None:
    pushed(remote)
    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json", remote.values())],
                     ("PUT", f"{PULLS}/42/merge"): [merge_handler(remote)]})
    merge_sha = provider(replay).merge(remote.local, remote.pr, message=MESSAGE)

    assert merge_sha == rev_parse(remote.origin, "refs/heads/main")
    assert rev_parse(remote.local, "main") == merge_sha
    assert rev_parse(remote.local, f"{merge_sha}^1") == remote.base
    assert rev_parse(remote.local, f"{merge_sha}^2") == remote.head
    assert (remote.local / CATALOG).read_text() == "strategies:\n- name: tsmom-a\n"
    assert git(remote.local, "status", "--porcelain") == ""
    trailers = git(remote.local, "log", "-1", "--format=%(trailers:key=Torghut-Pull-Request,"
                   "valueonly)", merge_sha).strip()
    assert trailers == "1"  # the lead's crash recovery finds merges by this trailer

    get, put = replay.requests
    for request in (get, put):
        assert_github_headers(request)
    assert json.loads(put.content) == {
        "sha": remote.head, "merge_method": "merge",
        "commit_title": f"Merge pull request 1 from {BRANCH}",
        "commit_message": f"{TITLE}\n\nTorghut-Pull-Request: 1\nTorghut-Approved-By: alice"}


def test_merge_waits_while_github_computes_mergeability(remote: Remote) -> None:
    pushed(remote)
    sleeps: list[float] = []

    def unknown(body: dict[str, Any]) -> None:
        body.update(mergeable=None, mergeable_state="unknown")

    replay = Replay({("GET", f"{PULLS}/42"): [
        recorded("get_pull_200.json", remote.values(), edit=unknown),
        recorded("get_pull_200.json", remote.values())],
        ("PUT", f"{PULLS}/42/merge"): [merge_handler(remote)]})
    merge_sha = provider(replay, sleeps).merge(remote.local, remote.pr, message=MESSAGE)
    assert rev_parse(remote.local, "main") == merge_sha
    assert [m for m, _ in replay.calls()] == ["GET", "GET", "PUT"] and sleeps == [0.5]


def _unchanged(remote: Remote, before: dict[str, tuple[int, int]], origin_main: str | None,
               ) -> None:
    assert rev_parse(remote.local, "main") == remote.base
    assert rev_parse(remote.origin, "refs/heads/main") == origin_main
    assert tree_snapshot(remote.local) == before


@pytest.mark.parametrize(("edit_name", "code"), [
    ("head_moved", "HEAD_MOVED"), ("conflict", "NOT_MERGEABLE"),
    ("merged", "ALREADY_MERGED"), ("closed", "PR_CLOSED")])
def test_merge_refuses_what_githubs_pull_request_shows(remote: Remote, edit_name: str,
                                                       code: str) -> None:
    # control: SEC-9
    pushed(remote)
    edits: dict[str, Callable[[dict[str, Any]], None]] = {
        "head_moved": lambda b: b["head"].update(sha=remote.base),
        "conflict": lambda b: b.update(mergeable=False, mergeable_state="dirty"),
        "merged": lambda b: b.update(state="closed", merged=True),
        "closed": lambda b: b.update(state="closed")}
    replay = Replay({("GET", f"{PULLS}/42"): [
        recorded("get_pull_200.json", remote.values(), edit=edits[edit_name])]})
    before, origin_main = tree_snapshot(remote.local), rev_parse(remote.origin, "main")
    with pytest.raises(GithubRefused) as caught:
        provider(replay).merge(remote.local, remote.pr, message=MESSAGE)
    assert caught.value.code == code
    assert isinstance(caught.value, MergeRefused) and caught.value.exit_code == 1
    assert replay.calls() == [("GET", f"{PULLS}/42")]  # never asked GitHub to merge
    _unchanged(remote, before, origin_main)


@pytest.mark.parametrize(("fixture", "code"), [("merge_405.json", "NOT_MERGEABLE"),
                                               ("merge_409.json", "HEAD_MOVED")])
def test_merge_maps_githubs_refusals_to_codes(remote: Remote, fixture: str, code: str) -> None:
    pushed(remote)
    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json", remote.values())],
                     ("PUT", f"{PULLS}/42/merge"): [recorded(fixture)]})
    before, origin_main = tree_snapshot(remote.local), rev_parse(remote.origin, "main")
    with pytest.raises(GithubRefused) as caught:
        provider(replay).merge(remote.local, remote.pr, message=MESSAGE)
    assert caught.value.code == code
    assert json.loads(replay.requests[1].content)["sha"] == remote.head
    _unchanged(remote, before, origin_main)


def test_merge_rejects_a_merge_commit_without_the_approved_head(remote: Remote) -> None:
    pushed(remote)
    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json", remote.values())],
                     ("PUT", f"{PULLS}/42/merge"): [merge_handler(remote,
                                                                  second_parent=False)]})
    with pytest.raises(GithubError) as caught:
        provider(replay).merge(remote.local, remote.pr, message=MESSAGE)
    assert caught.value.code == "MERGE_MISMATCH"
    assert rev_parse(remote.local, "main") == remote.base
    assert (remote.local / CATALOG).read_text() == "strategies: []\n"


def test_merge_needs_the_published_number(remote: Remote) -> None:
    replay = Replay({})
    unpublished = PullRequestRef(BRANCH, remote.head)
    with pytest.raises(GithubError) as caught:
        provider(replay).merge(remote.local, unpublished, message=MESSAGE)
    assert caught.value.code == "NOT_PUBLISHED" and replay.requests == []


EARLIER = "9f2c4e1a7b3d5f60718293a4b5c6d7e8f9a0b1c2"  # a head the PR had before


def reviews(remote: Remote, *, edit: Callable[[Any], None] | None = None) -> httpx.Response:
    return recorded("list_reviews_200.json", remote.values(earlier_sha=EARLIER), edit=edit)


def test_status_reports_githubs_view(remote: Remote) -> None:
    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json", remote.values())],
                     ("GET", f"{PULLS}/42/reviews"): [reviews(remote)]})
    status = provider(replay).status(remote.pr)
    assert {k: v for k, v in status.items() if k != "reviews"} == {
        "provider": "github", "number": 42, "state": "open", "merged": False,
        "head_sha": remote.head, "head_matches": True, "mergeable": True,
        "mergeable_state": "clean",
        "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
        "html_url": "https://github.com/torghut-demo/gitops/pull/42",
        "review_state": "approved"}
    # bob's later approval replaces his request for changes; alice's comment is no verdict
    assert [(r["user"], r["state"], r["on_head"]) for r in status["reviews"]] == [
        ("alice-quant", "approved", True), ("bob-risk", "approved", True)]
    get, listed = replay.requests
    for request in (get, listed):
        assert_github_headers(request)
    assert listed.url.params["per_page"] == "100"


def test_status_outstanding_changes_requested_outweigh_approvals(remote: Remote) -> None:
    def bob_never_approved(body: Any) -> None:
        body[:] = [r for r in body if not (r["user"]["login"] == "bob-risk"
                                           and r["state"] == "APPROVED")]

    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json", remote.values())],
                     ("GET", f"{PULLS}/42/reviews"): [reviews(remote, edit=bob_never_approved)]})
    status = provider(replay).status(remote.pr)
    assert status["review_state"] == "changes_requested"
    bob = next(r for r in status["reviews"] if r["user"] == "bob-risk")
    assert (bob["state"], bob["commit_id"], bob["on_head"]) == (
        "changes_requested", EARLIER, False)


def test_status_errors_are_githubs_not_a_partial_answer(remote: Remote) -> None:
    replay = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_404.json")]})
    with pytest.raises(GithubError) as caught:
        provider(replay).status(remote.pr)
    err = caught.value
    assert err.code == "GITHUB_API_ERROR" and err.exit_code == 2
    assert "404" in str(err) and "Not Found" in str(err) and "TORGHUT_GITHUB_REPO" in str(err)
    assert replay.calls() == [("GET", f"{PULLS}/42")]
    not_a_list = Replay({("GET", f"{PULLS}/42"): [recorded("get_pull_200.json",
                                                           remote.values())],
                         ("GET", f"{PULLS}/42/reviews"): [httpx.Response(200, json={})]})
    with pytest.raises(GithubError, match="JSON array"):
        provider(not_a_list).status(remote.pr)


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize(("env", "variable"), [
    ({}, "TORGHUT_GITHUB_REPO"),
    ({"TORGHUT_GITHUB_REPO": OWNER_REPO}, "GITHUB_TOKEN"),
    ({"TORGHUT_GITHUB_REPO": OWNER_REPO, "GITHUB_TOKEN": "  "}, "GITHUB_TOKEN"),
    ({"TORGHUT_GITHUB_REPO": "not-a-repo", "GITHUB_TOKEN": TOKEN}, "TORGHUT_GITHUB_REPO"),
    ({"TORGHUT_GITHUB_REPO": OWNER_REPO, "GITHUB_TOKEN": TOKEN,
      "TORGHUT_GITHUB_API": "ftp://x"}, "TORGHUT_GITHUB_API")])
def test_settings_from_env_name_the_missing_or_bad_variable(env: dict[str, str],
                                                            variable: str) -> None:
    with pytest.raises(TorghutError) as caught:
        GithubSettings.from_env(env)
    assert caught.value.exit_code == 2 and caught.value.field == variable
    assert TOKEN not in str(caught.value)


def test_settings_from_env() -> None:
    settings = GithubSettings.from_env({"TORGHUT_GITHUB_REPO": OWNER_REPO,
                                        "GITHUB_TOKEN": TOKEN})
    assert (settings.repo, settings.api_url, settings.token) == (
        OWNER_REPO, "https://api.github.com", TOKEN)
    ghe = GithubSettings.from_env({"TORGHUT_GITHUB_REPO": OWNER_REPO, "GITHUB_TOKEN": TOKEN,
                                   "TORGHUT_GITHUB_API": "https://ghe.example/api/v3/"})
    assert ghe.api_url == "https://ghe.example/api/v3"


def test_cli_without_a_token_is_one_line_exit_2(ws: Workspace, torghut: CliRunner) -> None:
    open_ledger(ws).close()  # the CLI opens (creates) the ledger before building the provider
    before = tree_snapshot(ws.root)
    proc = torghut("--workspace", str(ws.root), "promote", "merge", "1", "--as", "alice",
                   "--provider", "github",
                   env={"TORGHUT_GITHUB_REPO": OWNER_REPO, "GITHUB_TOKEN": ""})
    assert_one_line_error(proc, "GITHUB_TOKEN", "not set")
    assert tree_snapshot(ws.root) == before


# ----------------------------------------------------------------------------- promotion lane


@pytest.fixture(scope="module")
def research(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FinishedRun]:
    ws = init_workspace(tmp_path_factory.mktemp("github-lane") / "ws")
    build_synth(ws, EDGE, name="synth-edge")
    spec = candidate(name="tsmom-edge", dataset="synth-edge", universe=["SYN000", "SYN001"],
                     stress=["pessimistic_costs"], param_grid={"lookback": [16, 20, 24]})
    return ws, run_research(ws, CandidateSpec.model_validate(spec),
                            RunOptions(executor="serial", bootstrap_reps=200))


def github_from_origin(origin: Path) -> Replay:
    """GitHub answering from the bare ``origin``: the PR's head is whatever was pushed."""
    state: dict[str, str] = {}

    def create(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        state.update(branch=sent["head"], title=sent["title"], body=sent["body"],
                     head_sha=rev_parse(origin, f"refs/heads/{sent['head']}") or "",
                     base_sha=rev_parse(origin, "refs/heads/main") or "")
        return recorded("create_pull_201.json", state)

    def get(request: httpx.Request) -> httpx.Response:
        return recorded("get_pull_200.json", state)

    def merge(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        message = f"{sent['commit_title']}\n\n{sent['commit_message']}\n"
        return recorded("merge_200.json", {"merge_sha": github_merges(origin, sent["sha"],
                                                                      message)})

    return Replay({("POST", PULLS): [create], ("GET", f"{PULLS}/42"): [get],
                   ("PUT", f"{PULLS}/42/merge"): [merge]})


def test_promotion_lane_proposes_and_merges_through_github(
        tmp_path: Path, research: tuple[Workspace, FinishedRun]) -> None:
    ws = init_workspace(tmp_path / "ws")
    shutil.copytree(research[0].datasets_dir, ws.datasets_dir, dirs_exist_ok=True)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(ws.gitops_dir), str(origin))
    git(ws.gitops_dir, "remote", "add", "origin", str(origin))
    replay = github_from_origin(origin)
    github = provider(replay)
    book = open_ledger(ws)
    try:
        record_run(book, research[1], actor="research-agent")
        with book.read() as s:
            cid = str(s.scalars(select(Candidate.id)).one())
        evaluate_candidate(ws, book, cid, Target.PAPER, default_policy(),
                           now=datetime.now(UTC), actor="validation-agent")
        promotion.signoff(ws, book, cid, as_identity="validation-agent")
        proposed = promotion.propose(ws, book, cid, as_identity="promotion-agent",
                                     provider=github)
        assert proposed.url == "https://github.com/torghut-demo/gitops/pull/42"
        assert rev_parse(origin, f"refs/heads/{proposed.branch}") == proposed.head_sha
        promotion.approve(ws, book, proposed.pr_id, as_identity="alice")
        merged = promotion.merge(ws, book, proposed.pr_id, as_identity="promotion-agent",
                                 provider=github)

        assert merged == rev_parse(origin, "refs/heads/main") == rev_parse(ws.gitops_dir,
                                                                           "main")
        assert rev_parse(ws.gitops_dir, f"{merged}^2") == proposed.head_sha
        assert "tsmom-edge" in (ws.gitops_dir / CATALOG_PATH).read_text()  # checkout synced
        assert git(ws.gitops_dir, "status", "--porcelain") == ""
        (row,) = promotion.status(ws, book, proposed.pr_id)
        assert (row["provider"], row["state"], row["url"]) == (
            "github", "merged", proposed.url)
        with book.read() as s:
            assert current_state(s, cid) is State.PAPER
        put = replay.requests[-1]
        assert json.loads(put.content)["sha"] == proposed.head_sha
        assert replay.calls() == [("POST", PULLS), ("GET", f"{PULLS}/42"),
                                  ("PUT", f"{PULLS}/42/merge")]
    finally:
        book.close()


# ----------------------------------------------------------------------------- promote status

HEAD = "4b2e0c9d1f3a5b7c9e1d3f5a7b9c1e3d5f7a9b1c"
BASE = "0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796"
MOVED = "7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"  # someone pushed to the branch on GitHub


def github_row(ws: Workspace, *, provider_name: str = "github", pr_id: int = 1,
               merged: bool = False) -> None:
    """A pull request as ``propose --provider github`` records it (ledger rows only)."""
    with open_ledger(ws) as book, book.write() as s:
        published = provider_name == "github"
        audit.record(s, PullRequest(
            id=pr_id, provider=provider_name, kind="promotion", target="paper",
            branch=f"{BRANCH}-{pr_id}", base_sha=BASE, head_sha=HEAD, title=TITLE,
            body_sha256=book.artifacts.put(BODY.encode()), proposer="promotion-agent",
            external_id="42" if published else None,
            url="https://github.com/torghut-demo/gitops/pull/42" if published else None),
            actor="promotion-agent", action="promotion.pr.open", subject=f"pr:{pr_id}")
        if merged:
            audit.record(s, PullRequestEvent(pull_request_id=pr_id, event="merged",
                                             actor="promotion-agent", head_sha=HEAD,
                                             merge_sha="e" * 40, reasons=[]),
                         actor="promotion-agent", action="promotion.pr.merged",
                         subject=f"pr:{pr_id}")


def github_view(head: str, **pull: Any) -> dict[str, httpx.Response]:
    """GitHub's answers for pull request #42 with ``head`` as its head (path → response)."""
    values = {"branch": f"{BRANCH}-1", "head_sha": head, "base_sha": BASE, "title": TITLE,
              "body": BODY}
    return {f"{PULLS}/42": recorded("get_pull_200.json", values, edit=lambda b: b.update(pull)),
            f"{PULLS}/42/reviews": recorded("list_reviews_200.json",
                                            {**values, "earlier_sha": EARLIER})}


def test_lane_status_asks_github_and_flags_a_changed_head(ws: Workspace) -> None:
    github_row(ws, pr_id=1)
    github_row(ws, provider_name="local", pr_id=2)  # never sent to GitHub
    answers = [github_view(HEAD), github_view(MOVED), github_view(HEAD, state="closed",
                                                                  merged=True)]
    with open_ledger(ws) as book:
        seen = []
        for answer in answers:
            replay = Replay({("GET", path): [r] for path, r in answer.items()})
            seen.append(promotion.status(ws, book, remote=provider(replay)))
            assert len(replay.requests) == 2
        offline = promotion.status(ws, book)
    same, moved, merged_elsewhere = seen
    assert same[0]["flags"] == [] and same[0]["remote"]["review_state"] == "approved"
    assert same[0]["remote"]["head_matches"] and same[0]["remote"]["number"] == 42
    assert moved[0]["flags"] == ["HEAD_CHANGED"]
    assert (moved[0]["head_sha"], moved[0]["remote"]["head_sha"]) == (HEAD, MOVED)
    assert not moved[0]["remote"]["head_matches"]
    assert merged_elsewhere[0]["flags"] == ["STATE_DIFFERS"]  # merged outside Torghut
    for rows in (*seen, offline):
        assert rows[1]["provider"] == "local" and rows[1]["remote"] is None
    assert offline[0]["remote"] is None and offline[0]["flags"] == []


@dataclass
class FakeGithub:
    """A real HTTP server on localhost answering recorded responses (for the CLI)."""

    url: str
    answers: dict[str, httpx.Response]
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # path, authorization


@pytest.fixture
def fake_github() -> Iterator[FakeGithub]:
    fake = FakeGithub("", {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            fake.seen.append((path, self.headers.get("Authorization")))
            answer = fake.answers.get(path, httpx.Response(599, text="unexpected"))
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _status(torghut: CliRunner, ws: Workspace, fake: FakeGithub, *args: str,
            token: str = TOKEN) -> Any:
    return torghut("-w", str(ws.root), "promote", "status", *args,
                   env={"TORGHUT_GITHUB_REPO": OWNER_REPO, "GITHUB_TOKEN": token,
                        "TORGHUT_GITHUB_API": fake.url})


def test_cli_status_shows_github_and_flags_a_changed_head(
        ws: Workspace, torghut: CliRunner, fake_github: FakeGithub) -> None:
    github_row(ws)
    fake_github.answers = github_view(MOVED)
    proc = _status(torghut, ws, fake_github, "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["flags"] == ["HEAD_CHANGED"] and row["head_sha"] == HEAD
    assert row["remote"]["head_sha"] == MOVED and row["remote"]["state"] == "open"
    assert row["remote"]["mergeable"] is True and row["remote"]["review_state"] == "approved"
    table = _status(torghut, ws, fake_github)
    assert table.returncode == 0, table.stderr
    line = table.stdout.splitlines()[1]
    assert line.split() == ["github", "#42:", "open,", "mergeable,", "head", MOVED[:12] + ",",
                            "reviews:", "approved", "HEAD_CHANGED", "(ledger", HEAD[:12] + ")"]
    assert {auth for _, auth in fake_github.seen} == {f"Bearer {TOKEN}"}
    assert [path for path, _ in fake_github.seen] == [f"{PULLS}/42", f"{PULLS}/42/reviews"] * 2


def test_cli_status_github_error_is_one_line_and_offline_skips_github(
        ws: Workspace, torghut: CliRunner, fake_github: FakeGithub) -> None:
    github_row(ws, merged=True)
    fake_github.answers = {f"{PULLS}/42": recorded("get_pull_404.json")}
    proc = _status(torghut, ws, fake_github)
    assert_one_line_error(proc, "GITHUB_API_ERROR", "404", "Not Found")
    assert TOKEN not in proc.stderr and proc.stdout == ""
    asked = len(fake_github.seen)
    offline = _status(torghut, ws, fake_github, "--offline", "--json", token="")
    assert offline.returncode == 0, offline.stderr
    (row,) = json.loads(offline.stdout)
    assert row["state"] == "merged" and row["remote"] is None and row["flags"] == []
    assert len(fake_github.seen) == asked == 1  # --offline: no request, no token needed
    assert_one_line_error(_status(torghut, ws, fake_github, token=""), "GITHUB_TOKEN",
                          "not set", "--offline")
