"""``torghut validate signoff`` and ``torghut promote propose|approve|merge|status``."""

from __future__ import annotations

from typing import Any

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.errors import TorghutError
from torghut.gitops.merge import LocalProvider
from torghut.gitops.pulls import PullRequestProvider
from torghut.lanes import promotion
from torghut.ledger import open_ledger

validate_app = typer.Typer(help="The validation lane's sign-off (→ validated, "
                           "→ paper_verified).", no_args_is_help=True)
app = typer.Typer(help="Promotion pull requests: propose, approve, merge, status.",
                  no_args_is_help=True)

AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The identity acting (signs with keys/IDENTITY.key).")
PROVIDER_OPTION = typer.Option("local", "--provider", help="local (branch + ledger record, "
                               "real git merge) or github (REST API; env TORGHUT_GITHUB_REPO, "
                               "GITHUB_TOKEN).")


def provider_named(name: str) -> PullRequestProvider:
    if name == "local":
        return LocalProvider()
    if name == "github":
        from torghut.gitops.github import GithubProvider, GithubSettings

        return GithubProvider(GithubSettings.from_env())
    raise TorghutError(f"unknown provider {name!r} (local, github)", field="--provider")


@validate_app.command("signoff")
def signoff(ctx: typer.Context,
            candidate: str = typer.Argument(..., help="Candidate id (or unique prefix)."),
            as_identity: str = AS_OPTION,
            reject: bool = typer.Option(False, "--reject", help="Reject readiness instead."),
            reason: str | None = typer.Option(None, "--reason", help="Why (required with "
                                              "--reject)."),
            json_out: bool = JSON_OPTION) -> None:
    """Sign off the candidate's next state, or reject it: proposed → validated after an
    allowing Gate 0+1 decision, paper → paper_verified after an allowing Gate 2+3 one."""
    if reject and not reason:
        raise TorghutError("--reject needs --reason", field="--reason")
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        state = promotion.signoff(ws, ledger, candidate, as_identity=as_identity,
                                  reject=reject, reason=reason)
    if json_out:
        emit_json({"candidate": candidate, "state": state.value})
    else:
        console.print(f"candidate {candidate} is now {state.value}", markup=False)


@app.command("propose")
def propose(ctx: typer.Context,
            candidate: str = typer.Argument(..., help="Candidate id (or unique prefix)."),
            target: str = typer.Option("paper", "--target", help="Mode to promote to."),
            as_identity: str = AS_OPTION, provider: str = PROVIDER_OPTION,
            json_out: bool = JSON_OPTION) -> None:
    """Open a promotion pull request on a new codex/promote-… branch."""
    if target != "paper":
        raise TorghutError("only --target paper is promoted by pull request; live needs "
                           "Gate 4 and a live review", field="--target")
    ws = workspace(ctx)
    chosen = provider_named(provider)  # bad settings fail before anything is opened
    with open_ledger(ws) as ledger:
        done = promotion.propose(ws, ledger, candidate, as_identity=as_identity,
                                 target=target, provider=chosen)
    if json_out:
        emit_json({"pull_request": done.pr_id, "branch": done.branch,
                   "head_sha": done.head_sha, "url": done.url})
    else:
        console.print(f"Opened pull request {done.pr_id}: {done.branch} at "
                      f"{done.head_sha[:12]}" + (f" ({done.url})" if done.url else ""),
                      markup=False, soft_wrap=True)


@app.command("approve")
def approve(ctx: typer.Context, pr: int = typer.Argument(..., help="Pull request id."),
            as_identity: str = AS_OPTION,
            reject: bool = typer.Option(False, "--reject", help="Reject instead."),
            reason: str | None = typer.Option(None, "--reason", help="Why."),
            json_out: bool = JSON_OPTION) -> None:
    """Approve (or reject) a pull request's head commit, as a human approver."""
    if reject and not reason:
        raise TorghutError("--reject needs --reason", field="--reason")
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        verdict = promotion.approve(ws, ledger, pr, as_identity=as_identity, reject=reject,
                                    reason=reason)
    if json_out:
        emit_json({"pull_request": pr, "verdict": verdict})
    else:
        console.print(f"pull request {pr} {verdict} by {as_identity}", markup=False)


@app.command("merge")
def merge(ctx: typer.Context, pr: int = typer.Argument(..., help="Pull request id."),
          as_identity: str = AS_OPTION, provider: str = PROVIDER_OPTION,
          json_out: bool = JSON_OPTION) -> None:
    """Merge an approved pull request into GitOps main (every precondition re-checked)."""
    ws = workspace(ctx)
    chosen = provider_named(provider)
    with open_ledger(ws) as ledger:
        sha = promotion.merge(ws, ledger, pr, as_identity=as_identity, provider=chosen)
    if json_out:
        emit_json({"pull_request": pr, "merge_sha": sha})
    else:
        console.print(f"merged pull request {pr} into main at {sha[:12]}", markup=False)


@app.command("status")
def status(ctx: typer.Context,
           pr: int | None = typer.Argument(None, help="One pull request (default: all)."),
           offline: bool = typer.Option(False, "--offline", help="Ledger only: do not ask "
                                        "GitHub about github-provider pull requests."),
           json_out: bool = JSON_OPTION) -> None:
    """Pull requests with their reviews, merges and the candidate's lifecycle state.

    For pull requests opened with --provider github, GitHub is asked too (state, mergeable,
    head sha, reviews; HEAD_CHANGED when its head is not the ledger's), unless --offline.
    """
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        rows = promotion.status(ws, ledger, pr)
    if not offline and any(r["provider"] == "github" for r in rows):
        from torghut.gitops.github import GithubProvider, GithubSettings

        try:
            settings = GithubSettings.from_env()
        except TorghutError as exc:
            raise TorghutError(f"{exc.message}; or pass --offline to show the ledger only",
                               field=exc.field) from None
        with GithubProvider(settings) as github:  # asked after the ledger is closed
            rows = promotion.annotate_remote(rows, github)
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        console.print(f"#{r['id']:<4} {r['state']:<9} {r['kind']:<10} {r['branch']}  "
                      f"by {r['proposer']}  candidate: {r['candidate_state'] or '—'}",
                      markup=False, soft_wrap=True)
        if r["remote"] is not None:
            console.print(_remote_line(r), markup=False, soft_wrap=True)


def _remote_line(row: dict[str, Any]) -> str:
    """One indented line with the provider's view of a pull request and any flags."""
    seen = row["remote"]
    state = "merged" if seen["merged"] else str(seen["state"])
    mergeable = {True: "mergeable", False: "not mergeable"}.get(seen["mergeable"],
                                                                 "mergeable: unknown")
    line = (f"      {seen['provider']} #{seen['number']}: {state}, {mergeable}, head "
            f"{str(seen['head_sha'])[:12]}, reviews: {seen['review_state']}")
    if "HEAD_CHANGED" in row["flags"]:
        line += f"  HEAD_CHANGED (ledger {row['head_sha'][:12]})"
    return line + "".join(f"  {flag}" for flag in row["flags"] if flag != "HEAD_CHANGED")
