"""The validation sign-off and the promotion lane: propose → approve → merge, all signed.

Validation signs off the two moves it owns — proposed → validated (Gates 0+1) and paper →
paper_verified (Gates 2+3) — whichever is next for the candidate (:func:`signoff`).

Every step goes through the governance guard (signature, role, separation of duties) and the
candidate state machine (:mod:`torghut.governance.lifecycle`); a refusal is audited as
``governance.refused`` and changes nothing. Each step's rows, its lifecycle move and its
signed audit event are written in one transaction.

Git is the source of truth for the config: a merge first moves ``main`` (compare-and-swap)
and is then recorded. If a crash falls between the two, :func:`recover_merges` (run by
every promotion command) finds the merge commit by its ``Torghut-Pull-Request`` trailer and
records it, so ``main`` and the ledger always converge. :func:`recover` does the same for
rollbacks (:func:`torghut.ops.rollback.recover_rollbacks`).

``status`` reads the ledger; for pull requests opened with the ``github`` provider it can
also ask GitHub (:func:`annotate_remote`): state, mergeability, head sha, reviews, and a
``HEAD_CHANGED`` flag when GitHub's head is not the head the ledger holds (the one an
approval is bound to).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.contracts.gates import GateReport
from torghut.contracts.research import MetricsBundle
from torghut.errors import NotFoundError
from torghut.faults import failpoint
from torghut.gates.policy import policy_checksum
from torghut.gates.report import TITLES
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.merge import PR_TRAILER, LocalProvider, MergeRefused, promotion_merges
from torghut.gitops.patch import ensure_strategy_limits, upsert_catalog_entry
from torghut.gitops.pulls import PullRequestProvider, PullRequestRef
from torghut.gitops.repo import MAIN, Author, RefMoved, commit_files, rev_parse, show, update_ref
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.governance import guard
from torghut.governance.lifecycle import (
    State,
    allowed,
    check_forward,
    current_state,
    transition,
)
from torghut.governance.material import (
    MATERIAL_REVIEWER_ROLE,
    describe,
    material_reasons,
    reviewer_problem,
)
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.lanes.validation import find_candidate, gitops_policy
from torghut.ledger import Ledger, audit
from torghut.ledger.models import (
    Approval,
    Candidate,
    PullRequest,
    PullRequestEvent,
    ResearchRun,
)
from torghut.ops.rollback import RECOVERY_ACTOR, recover_rollbacks
from torghut.workspace import Workspace


def _refused(ledger: Ledger, actor: str, action: Action, subject: str, exc: Refusal) -> Refusal:
    """Audit a lane-level refusal exactly like the guard audits its own."""
    guard.record_refusal(ledger, actor, action.value, subject, exc)
    return exc


def _author(ledger: Ledger, session: Session, candidate: Candidate) -> MetricsBundle:
    run = session.get(ResearchRun, candidate.run_id)
    if run is None or run.bundle_hash is None:
        raise NotFoundError("the candidate's research bundle is not recorded",
                            field="candidate")
    return MetricsBundle.model_validate_json(ledger.artifacts.get(run.bundle_hash))


def _checked_forward(ws: Workspace, ledger: Ledger, actor: str, action: Action,
                     candidate_id: str, dst: State) -> tuple[Any, str]:
    """Lifecycle preconditions for ``dst`` (refusals audited); (evidence, policy checksum)."""
    policy = gitops_policy(ws).policy
    checksum = policy_checksum(policy)
    with ledger.read() as session:
        try:
            return check_forward(ws, ledger, session, candidate_id, dst, policy,
                                 checksum), checksum
        except Refusal as exc:
            raise _refused(ledger, actor, action, f"candidate:{candidate_id}", exc) from None


# ----------------------------------------------------------------------------- sign-off


#: The move validation signs off from each state it owns a way out of.
SIGNOFF_NEXT: dict[State, State] = {State.PROPOSED: State.VALIDATED,
                                    State.PAPER: State.PAPER_VERIFIED}


def signoff(ws: Workspace, ledger: Ledger, candidate_ref: str, *, as_identity: str,
            reject: bool = False, reason: str | None = None) -> State:
    """Validation signs off the candidate's next validation-owned state, or rejects it
    (→ rejected): proposed → validated on an allowing Gate 0+1 decision, paper →
    paper_verified on an allowing Gate 2+3 decision, every hard stop clear. The next state
    follows from the current one, so there is nothing to choose and nothing to get wrong;
    from any other state the lifecycle refuses (audited)."""
    with ledger.read() as session:
        cand = find_candidate(session, candidate_ref)
        author = _author(ledger, session, cand).candidate.author
        src = current_state(session, cand.id)
    subject = f"candidate:{cand.id}"
    dst = State.REJECTED if reject else SIGNOFF_NEXT.get(src, State.VALIDATED)
    evidence = None
    if not reject:
        evidence, _ = _checked_forward(ws, ledger, as_identity, Action.VALIDATION_SIGNOFF,
                                       cand.id, dst)
    refs = (evidence.report_hash,) if evidence is not None and evidence.report_hash else ()
    signed = guard.check(ws, ledger, as_identity, Action.VALIDATION_SIGNOFF, subject,
                         {"verdict": dst.value, "reason": reason,
                          "decision_id": evidence.decision_id if evidence else None},
                         evidence_refs=refs, author=author)
    with ledger.write() as session:
        transition(session, cand.id, dst, actor=as_identity,
                   decision_id=evidence.decision_id if evidence else None,
                   reasons=(reason,) if reason else (), artifact_refs=refs)
        guard.record(session, signed, evidence_refs=refs)
    return dst


# ----------------------------------------------------------------------------- propose


@dataclass(frozen=True)
class Proposed:
    pr_id: int
    branch: str
    head_sha: str
    url: str | None


def branch_name(candidate_id: str, now: datetime) -> str:
    return f"codex/promote-{candidate_id[:12]}-{now.astimezone(UTC):%Y%m%d%H%M}"


def catalog_entry(bundle: MetricsBundle, params: dict[str, Any], mode: str) -> dict[str, Any]:
    spec = bundle.candidate
    return {"strategy_id": spec.name, "strategy_type": spec.strategy_type,
            "version": spec.version, "params": params, "enabled": True, "mode": mode}


def strategy_limits(bundle: MetricsBundle) -> dict[str, Any]:
    """RTS-8 limits a new strategy starts with (reviewers see and may tighten them)."""
    spec = bundle.candidate
    return {"instruments": list(spec.universe), "max_order_value": float(spec.capital) / 4,
            "max_orders_per_day": 500, "max_position_notional": float(spec.capital),
            "venues": ["paper"]}


def propose(ws: Workspace, ledger: Ledger, candidate_ref: str, *, as_identity: str,
            target: str = "paper", provider: PullRequestProvider | None = None,
            now: datetime | None = None, branch: str | None = None) -> Proposed:
    """Open the promotion pull request of a validated candidate (on ``branch``, a new
    ``codex/`` branch an AgentRun names, else one named after the candidate and time)."""
    provider = provider or LocalProvider()
    now = now or datetime.now(UTC)
    recover(ws, ledger)
    with ledger.read() as session:
        cand = find_candidate(session, candidate_ref)
        bundle = _author(ledger, session, cand)
    subject = f"candidate:{cand.id}"
    evidence, _ = _checked_forward(ws, ledger, as_identity, Action.PROMOTION_PROPOSE, cand.id,
                                   State.PR_OPEN)
    refs = (evidence.report_hash,) if evidence.report_hash else ()
    branch = branch or branch_name(cand.id, now)
    signed = guard.check(ws, ledger, as_identity, Action.PROMOTION_PROPOSE, subject,
                         {"branch": branch, "target": target,
                          "decision_id": evidence.decision_id}, evidence_refs=refs)
    report = GateReport.model_validate_json(ledger.artifacts.get(evidence.report_hash or ""))
    repo = ws.gitops_dir
    base = rev_parse(repo, MAIN)
    files = _promotion_files(repo, bundle, cand.params, target)
    title = f"Promote {bundle.candidate.name} ({bundle.inputs.strategy}) to {target}"
    message = (f"{title}\n\n{_trailers(cand.id, evidence.decision_id, evidence.report_hash)}")
    head = commit_files(repo, parent=base or "", files=files, message=message,
                        author=Author.of(as_identity))
    try:
        update_ref(repo, branch, head, None)
    except RefMoved:
        raise _refused(ledger, as_identity, Action.PROMOTION_PROPOSE, subject, Refusal(
            "BRANCH_EXISTS", f"branch {branch!r} already exists; branch names are never "
            "reused")) from None
    material = material_reasons(repo, base or "", head)  # control: RTS-11
    body = pr_body(cand.id, report, evidence.decision_id, bundle, material=material)
    published = provider.publish(repo, PullRequestRef(branch, head), title=title, body=body)
    body_hash = ledger.artifacts.put(body.encode("utf-8"))
    with ledger.write() as session:
        pr = PullRequest(provider=provider.name, kind="promotion", candidate_id=cand.id,
                         decision_id=evidence.decision_id, target=target, branch=branch,
                         base_sha=base or "", head_sha=head, title=title,
                         body_sha256=body_hash, evidence_sha256=evidence.report_hash,
                         proposer=as_identity, external_id=published.external_id,
                         url=published.url)
        audit.record(session, pr, actor=as_identity, action="promotion.pr.open",
                     subject=subject, artifact_refs=(body_hash, *refs))
        transition(session, cand.id, State.PR_OPEN, actor=as_identity,
                   decision_id=evidence.decision_id, patch_ref=f"pr:{pr.id}",
                   artifact_refs=refs)
        guard.record(session, signed, evidence_refs=refs,
                     outcome={"pull_request": pr.id, "branch": branch, "head_sha": head,
                              "material": list(material)})
    return Proposed(pr.id, branch, head, published.url)


def _promotion_files(repo: Any, bundle: MetricsBundle, params: dict[str, Any],
                     mode: str) -> dict[str, str | None]:
    catalog = show(repo, CATALOG_PATH, MAIN)
    runtime = show(repo, RUNTIME_CONFIG_PATH, MAIN)
    if catalog is None or runtime is None:
        raise NotFoundError(f"GitOps main lacks {CATALOG_PATH} or {RUNTIME_CONFIG_PATH}",
                            file=repo)
    return {CATALOG_PATH: upsert_catalog_entry(catalog, catalog_entry(bundle, params, mode)),
            RUNTIME_CONFIG_PATH: ensure_strategy_limits(runtime, bundle.candidate.name,
                                                        strategy_limits(bundle))}


def _trailers(candidate_id: str, decision_id: str, evidence: str | None) -> str:
    return (f"Torghut-Candidate: {candidate_id}\nTorghut-Decision: {decision_id}\n"
            f"Torghut-Evidence: {evidence}\n")


def pr_body(candidate_id: str, report: GateReport, decision_id: str,
            bundle: MetricsBundle, *, material: Sequence[str]) -> str:
    """The pull request's description: what changes, whether it is material and why
    (RTS-11, computed from the commits), the gate table, the evidence."""
    s = bundle.statistics
    rows = [f"| {TITLES[r.gate_id.value]} | **{r.status.value.upper()}** | "
            + (", ".join(f"`{x.code}`" for x in r.reasons) or "—") + " |"
            for r in report.results]
    lines = [
        f"Promotes candidate `{candidate_id}` ({bundle.inputs.strategy}, "
        f"`{bundle.candidate.name}`) to **{report.target.value}**.", "",
        describe(material), "",
        "| gate | status | reasons |", "|---|---|---|", *rows, "",
        f"- decision: `{decision_id}` (policy {report.policy_version}, "
        f"`{report.policy_checksum[:12]}…`, code {report.code_version})",
        f"- out-of-sample Sharpe (annual): {s.oos.sharpe_annual}; DSR {s.dsr}; PBO "
        f"{s.pbo.pbo if s.pbo else None}",
        f"- evidence: report `{report.content_hash()}`; reproduce with `torghut ledger "
        f"reproduce {decision_id[:12]}`",
    ]
    return "\n".join(lines) + "\n"


def register_pull_request(session: Session, ledger: Ledger, *, kind: str, branch: str,
                          head_sha: str, title: str, body: str, proposer: str,
                          repo: Any) -> PullRequest:
    """Record a non-promotion change (e.g. an identity) as a local pull request, so it is
    reviewed and merged through the same approve → merge path (inside a write txn)."""
    body_hash = ledger.artifacts.put(body.encode("utf-8"))
    pr = PullRequest(provider="local", kind=kind, branch=branch,
                     base_sha=rev_parse(repo, MAIN) or "", head_sha=head_sha, title=title,
                     body_sha256=body_hash, proposer=proposer)
    audit.record(session, pr, actor=proposer, action=f"{kind}.pr.open", subject=f"pr:{branch}",
                 artifact_refs=(body_hash,))
    return pr


# ----------------------------------------------------------------------------- review


def find_pr(session: Session, pr_id: int) -> PullRequest:
    row = session.get(PullRequest, pr_id)
    if row is None:
        raise NotFoundError(f"no pull request {pr_id} in the ledger (`torghut promote "
                            "status` lists them)", field="pull_request")
    return row


def pr_events(session: Session, pr_id: int) -> list[PullRequestEvent]:
    return list(session.scalars(select(PullRequestEvent)
                                .where(PullRequestEvent.pull_request_id == pr_id)
                                .order_by(PullRequestEvent.id)))


def approve(ws: Workspace, ledger: Ledger, pr_id: int, *, as_identity: str,
            reject: bool = False, reason: str | None = None) -> str:
    """An approver approves (or rejects) the pull request's current head sha."""
    recover(ws, ledger)
    with ledger.read() as session:
        pr = find_pr(session, pr_id)
        cand = session.get(Candidate, pr.candidate_id) if pr.candidate_id else None
        author = _author(ledger, session, cand).candidate.author if cand else None
        closed = [e.event for e in pr_events(session, pr_id) if e.event in ("merged", "closed")]
    subject = f"pr:{pr_id}"
    head = rev_parse(ws.gitops_dir, f"refs/heads/{pr.branch}")
    problem = ("PR_CLOSED", f"pull request {pr_id} is {closed[0]}") if closed else (
        ("HEAD_MOVED", f"branch {pr.branch!r} is at {(head or 'nothing')[:12]}, not the "
         f"proposed {pr.head_sha[:12]}") if head != pr.head_sha else None)
    if problem is not None:
        raise _refused(ledger, as_identity, Action.PROMOTION_APPROVE, subject,
                       Refusal(*problem))
    verdict = "rejected" if reject else "approved"
    refs = (pr.evidence_sha256,) if pr.evidence_sha256 else ()
    material = material_reasons(ws.gitops_dir, pr.base_sha, pr.head_sha)  # RTS-11
    signed = guard.check(ws, ledger, as_identity, Action.PROMOTION_APPROVE, subject,
                         {"verdict": verdict, "head_sha": pr.head_sha, "reason": reason,
                          "material": list(material)},
                         evidence_refs=refs, proposer=pr.proposer, author=author)
    with ledger.write() as session:
        event = PullRequestEvent(pull_request_id=pr_id, event=verdict, actor=as_identity,
                                 head_sha=pr.head_sha, reasons=[reason] if reason else [],
                                 signature=signed.signature)
        audit.record(session, event, actor=as_identity, action=f"promotion.pr.{verdict}",
                     subject=subject, artifact_refs=refs)
        if pr.candidate_id is not None:
            state = transition(session, pr.candidate_id,
                               State.REJECTED if reject else State.APPROVED, actor=as_identity,
                               decision_id=pr.decision_id, patch_ref=f"pr:{pr_id}",
                               reasons=(reason,) if reason else ())
            audit.record(session, Approval(promotion_id=state.id, approver=as_identity,
                                           role=MATERIAL_REVIEWER_ROLE.value, verdict=verdict,
                                           reasons=[reason] if reason else [],
                                           signature=signed.signature),
                         actor=as_identity, action="promotion.approval.record",
                         subject=subject)
        guard.record(session, signed, evidence_refs=refs)
    return verdict


# ----------------------------------------------------------------------------- merge


def merge(ws: Workspace, ledger: Ledger, pr_id: int, *, as_identity: str,
          provider: PullRequestProvider | None = None) -> str:
    """Merge an approved pull request into ``main`` (module docstring); the merge sha."""
    provider = provider or LocalProvider()
    recover(ws, ledger)
    subject = f"pr:{pr_id}"
    with ledger.read() as session:
        pr = find_pr(session, pr_id)
        events = pr_events(session, pr_id)
    approval = _approval(ws, events, pr)
    material: tuple[str, ...] = ()
    if not isinstance(approval, Refusal):  # control: RTS-11 (a designated reviewer)
        material = material_reasons(ws.gitops_dir, pr.base_sha, approval.head_sha)
        approval = reviewer_problem(ws.gitops_dir, approval.actor, material) or approval
    if isinstance(approval, Refusal):
        raise _refused(ledger, as_identity, Action.PROMOTION_MERGE, subject, approval)
    evidence = None
    if pr.candidate_id is not None:
        evidence, _ = _checked_forward(ws, ledger, as_identity, Action.PROMOTION_MERGE,
                                       pr.candidate_id, State.PAPER)
    refs = (pr.evidence_sha256,) if pr.evidence_sha256 else ()
    signed = guard.check(ws, ledger, as_identity, Action.PROMOTION_MERGE, subject,
                         {"head_sha": approval.head_sha, "approved_by": approval.actor,
                          "material": list(material)},
                         evidence_refs=refs)
    message = (f"Merge pull request {pr_id} from {pr.branch}\n\n{pr.title}\n\n"
               f"{PR_TRAILER}: {pr_id}\nTorghut-Approved-By: {approval.actor}\n"
               + (f"Torghut-Material-Change: {', '.join(material)}\n" if material else ""))
    ref = PullRequestRef(pr.branch, approval.head_sha, external_id=pr.external_id)
    try:
        # The ledger's writer lock is held across the git merge, so two merges of one pull
        # request serialise: the second sees the first's record and is refused.
        with ledger.write() as session:
            if any(e.event in ("merged", "closed") for e in pr_events(session, pr_id)):
                raise MergeRefused("PR_CLOSED", f"pull request {pr_id} was merged meanwhile")
            merge_sha = provider.merge(ws.gitops_dir, ref, message=message)
            failpoint("promote.merge.before_record")
            _record_merge(session, pr, merge_sha, as_identity,
                          evidence.decision_id if evidence else pr.decision_id)
            guard.record(session, signed, evidence_refs=refs, outcome={"merge_sha": merge_sha})
    except MergeRefused as exc:
        raise _refused(ledger, as_identity, Action.PROMOTION_MERGE, subject,
                       Refusal(exc.code, exc.message)) from None
    return merge_sha


def _approval(ws: Workspace, events: list[PullRequestEvent],
              pr: PullRequest) -> PullRequestEvent | Refusal:
    """The approval a merge relies on, or why there is none."""
    if any(e.event in ("merged", "closed") for e in events):
        return Refusal("PR_CLOSED", f"pull request {pr.id} is already merged or closed")
    verdicts = [e for e in events if e.event in ("approved", "rejected")]
    if not verdicts or verdicts[-1].event != "approved":
        return Refusal("NOT_APPROVED", f"pull request {pr.id} has no standing approval")
    approval = verdicts[-1]
    if approval.actor == pr.proposer:
        return Refusal("APPROVER_IS_PROPOSER", "approved by its own proposer")
    head = rev_parse(ws.gitops_dir, f"refs/heads/{pr.branch}")
    if head != approval.head_sha:
        return Refusal("HEAD_MOVED", f"branch {pr.branch!r} changed after approval "
                       f"({approval.head_sha[:12]} → {(head or 'nothing')[:12]})")
    return approval


def _record_merge(session: Session, pr: PullRequest, merge_sha: str, actor: str,
                  decision_id: str | None) -> None:
    event = PullRequestEvent(pull_request_id=pr.id, event="merged", actor=actor,
                             head_sha=pr.head_sha, merge_sha=merge_sha, reasons=[],
                             signature=None)
    audit.record(session, event, actor=actor, action="promotion.pr.merged",
                 subject=f"pr:{pr.id}")
    # A recovered merge may find the candidate already moved on (or rolled back): the
    # merge is still recorded, the lifecycle only moves where the diagram allows.
    if pr.candidate_id is not None and allowed(current_state(session, pr.candidate_id),
                                               State.PAPER):
        transition(session, pr.candidate_id, State.PAPER, actor=actor,
                   decision_id=decision_id, patch_ref=f"merge:{merge_sha}", mode=pr.target
                   or "paper")


def recover(ws: Workspace, ledger: Ledger) -> None:
    """Converge the ledger with git after a crash: unrecorded merges, then rollbacks."""
    recover_merges(ws, ledger)
    recover_rollbacks(ws, ledger)


def _merged_ids(session: Session) -> set[int]:
    return {e.pull_request_id for e in session.scalars(
        select(PullRequestEvent).where(PullRequestEvent.event == "merged"))}


def recover_merges(ws: Workspace, ledger: Ledger) -> list[int]:
    """Record merges that reached ``main`` but not the ledger (a crash in between)."""
    with ledger.read() as session:
        merged = _merged_ids(session)
        open_prs = [pr for pr in session.scalars(select(PullRequest)) if pr.id not in merged]
    if not open_prs or rev_parse(ws.gitops_dir, MAIN) is None:
        return []
    on_main: dict[int, str] = {}  # pull request id → its merge commit (one history scan)
    for sha, number in promotion_merges(ws.gitops_dir, MAIN, first_parent=False):
        on_main.setdefault(number, sha)
    recovered = []
    for pr in (p for p in open_prs if p.id in on_main):
        with ledger.write() as session:
            if pr.id in _merged_ids(session):  # recorded meanwhile: exactly once
                continue
            _record_merge(session, pr, on_main[pr.id], RECOVERY_ACTOR, pr.decision_id)
        recovered.append(pr.id)
    return recovered


# ----------------------------------------------------------------------------- status


class RemoteStatus(Protocol):
    """A provider that can say how a pull request looks where it is reviewed (GitHub)."""

    name: str

    def status(self, pr: PullRequestRef) -> dict[str, Any]:
        """The provider's view: ``state``, ``merged``, ``head_sha``, ``mergeable``, …"""
        ...


def status(ws: Workspace, ledger: Ledger, pr_id: int | None = None, *,
           remote: RemoteStatus | None = None) -> list[dict[str, Any]]:
    """Pull requests as the ledger records them; with ``remote``, also as its provider
    shows them (:func:`annotate_remote`)."""
    recover(ws, ledger)
    with ledger.read() as session:
        prs = [find_pr(session, pr_id)] if pr_id is not None else list(
            session.scalars(select(PullRequest).order_by(PullRequest.id)))
        out = []
        for pr in prs:
            events = pr_events(session, pr.id)
            out.append({
                "id": pr.id, "kind": pr.kind, "provider": pr.provider, "branch": pr.branch,
                "head_sha": pr.head_sha, "title": pr.title, "proposer": pr.proposer,
                "candidate_id": pr.candidate_id, "url": pr.url,
                "external_id": pr.external_id,
                "state": events[-1].event if events else "open",
                "events": [{"event": e.event, "actor": e.actor, "head_sha": e.head_sha,
                            "merge_sha": e.merge_sha} for e in events],
                "candidate_state": (current_state(session, pr.candidate_id).value
                                    if pr.candidate_id else None),
                "remote": None, "flags": []})
    return annotate_remote(out, remote) if remote is not None else out


def annotate_remote(rows: Iterable[dict[str, Any]],
                    remote: RemoteStatus) -> list[dict[str, Any]]:
    """Add the provider's view (``remote``) and disagreements (``flags``) to the rows of
    pull requests opened with that provider; other rows are returned as they are.

    Flags: ``HEAD_CHANGED`` — the provider's head is not the head the ledger holds (the one
    an approval is bound to: someone pushed to the branch); ``STATE_DIFFERS`` — merged or
    closed on one side only (e.g. merged in GitHub's UI, outside Torghut's checks).
    """
    out = []
    for row in rows:
        if row["provider"] != remote.name:
            out.append(row)
            continue
        seen = remote.status(PullRequestRef(row["branch"], row["head_sha"],
                                            external_id=row.get("external_id")))
        out.append({**row, "remote": seen, "flags": remote_flags(row, seen)})
    return out


def remote_flags(row: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    """Where the ledger's row and the provider's view of one pull request disagree."""
    flags = []
    if seen.get("head_sha") != row["head_sha"]:
        flags.append("HEAD_CHANGED")
    theirs = "merged" if seen.get("merged") else (
        "closed" if seen.get("state") == "closed" else "open")
    ours = row["state"] if row["state"] in ("merged", "closed") else "open"
    if theirs != ours:
        flags.append("STATE_DIFFERS")
    return flags
