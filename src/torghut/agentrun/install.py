"""Install the shipped ImplementationSpecs into the GitOps repo, as a reviewed PR.

The specs land under ``apps/agents/implementation-specs/`` on a new ``codex/`` branch,
recorded as a local pull request that goes through the same approve → merge path as any
GitOps change (a spec decides what agents may do, so installing one is reviewed like one).
Opening it takes the promotion lane's right to open GitOps PRs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from torghut.agentrun.catalog import load_catalog, spec_text
from torghut.agentrun.keys import VALIDATORS
from torghut.agentrun.lane_research import open_pr
from torghut.errors import TorghutError
from torghut.gitops.repo import MAIN, Author, commit_files, rev_parse, show
from torghut.governance import guard
from torghut.governance.rights import Action
from torghut.ledger import Ledger
from torghut.workspace import Workspace

SPECS_DIR = "apps/agents/implementation-specs"


@dataclass(frozen=True)
class Installed:
    pr_id: int | None  # None: main already holds every spec byte for byte
    branch: str
    head_sha: str | None
    files: tuple[str, ...]


def install_specs(ws: Workspace, ledger: Ledger, *, as_identity: str,
                  head: str | None = None, now: datetime | None = None) -> Installed:
    """Open a PR adding or updating every shipped spec that differs from ``main``."""
    branch = head or f"codex/agentrun-specs-{(now or datetime.now(UTC)):%Y%m%d%H%M%S}"
    problem = VALIDATORS["codexBranch"](branch)
    if problem:
        raise TorghutError(problem, field="--head")
    repo = ws.gitops_dir
    base = rev_parse(repo, MAIN)
    if base is None:
        raise TorghutError(f"the GitOps repo has no {MAIN}", file=repo)
    files: dict[str, str | None] = {}
    for name in load_catalog():
        path = f"{SPECS_DIR}/{name}.yaml"
        text = spec_text(name)
        if show(repo, path, base) != text:
            files[path] = text
    if not files:
        return Installed(None, branch, None, ())
    signed = guard.check(ws, ledger, as_identity, Action.PROMOTION_PROPOSE,
                         f"pr:{branch}", {"branch": branch, "files": sorted(files)})
    title = f"Install {len(files)} ImplementationSpec(s)"
    sha = commit_files(repo, parent=base, files=files, message=f"{title}\n",
                       author=Author.of(as_identity))
    pr_id = open_pr(ws, ledger, branch=branch, head_sha=sha, actor=as_identity,
                    kind="agentrun-specs", title=title,
                    body="".join(f"- `{p}`\n" for p in sorted(files)))
    with ledger.write() as session:
        guard.record(session, signed, outcome={"pull_request": pr_id, "head_sha": sha})
    return Installed(pr_id, branch, sha, tuple(sorted(files)))
