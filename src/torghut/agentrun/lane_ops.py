"""Validation, promotion and operations lane workflows, each on an existing use case.

* gate-evaluation → :func:`torghut.lanes.validation.evaluate_candidate` (signed) for the
  candidate a recorded metrics bundle names; the report goes to ``artifactPath``.
* shadow-paper-run → :func:`torghut.runtime.session.run_session` over the evaluation window,
  after checking the app folder and the strategy config patch under review.
* promotion → :func:`torghut.lanes.promotion.propose` on the run's ``codex/`` head (sign-off
  is validation's, so this lane only proposes).
* incident-recovery → :func:`torghut.ops.rollback.rollback` to the target, then
  :func:`torghut.ops.incidents.update_incident` (rolled-back moment and a note) on the open
  incident it answers.
* audit-pack → :func:`torghut.ops.audit_pack.build_pack` for the run's candidate, after
  checking every required artifact is in the store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.failures import ContractFailure
from torghut.agentrun.keys import LAST_APPROVED, window_parts
from torghut.contracts.gates import Target
from torghut.contracts.incidents import IncidentStatus
from torghut.contracts.research import MetricsBundle
from torghut.errors import TorghutError
from torghut.gitops.repo import MAIN, rev_parse, show
from torghut.lanes import promotion
from torghut.lanes.research import bundle_artifact, candidate_id
from torghut.lanes.validation import evaluate_candidate, file_policy, gitops_policy
from torghut.ledger.models import Candidate, ResearchRun
from torghut.ops.controls import catalogue
from torghut.ops.incidents import IncidentChange, find_incident, update_incident
from torghut.yamlio import read_yaml

GITOPS_PREFIX = "gitops:"
PROFILE_SOURCES = {"sec-15c3-5": ("15c3-5",), "mifid-rts6": ("RTS 6", "MiFID"),
                   "nist-ai-rmf": ("MAP", "MEASURE", "MANAGE")}


def _bundle_candidate(ctx: LaneContext) -> tuple[str, str]:
    """(run id, candidate id) of the recorded run whose bundle is at metricsBundlePath."""
    path = ctx.existing("metricsBundlePath")
    try:
        bundle = MetricsBundle.model_validate_json(path.read_bytes())
    except ValueError:
        raise ContractFailure("not a MetricsBundle", file=path,
                              field="spec.parameters.metricsBundlePath") from None
    run_id = ctx.ledger.artifacts.put(bundle_artifact(bundle))
    with ctx.ledger.read() as session:
        if session.get(ResearchRun, run_id) is None:
            raise ContractFailure("this bundle's run is not recorded in the ledger", file=path,
                                  field="spec.parameters.metricsBundlePath")
    return run_id, candidate_id(run_id, bundle)


def gate_evaluation(ctx: LaneContext) -> LaneOutcome:
    ref = str(ctx.params["gateConfigPath"])
    source = (gitops_policy(ctx.ws) if ref == f"{GITOPS_PREFIX}main"
              else file_policy(ctx.existing("gateConfigPath")))
    run_id, cid = _bundle_candidate(ctx)
    target = Target(ctx.params.get("target", "paper"))
    decided = evaluate_candidate(ctx.ws, ctx.ledger, cid, target, source.policy, now=ctx.now,
                                 actor=ctx.actor, sign=True)
    out = ctx.path("artifactPath")
    out.mkdir(parents=True, exist_ok=True)
    report = out / "gate-report.json"
    report.write_text(decided.report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    status = decided.report.decision.value
    ctx.decide("gates-evaluated", evidence_refs=[decided.report_hash, run_id],
               candidate_id=cid, decision_id=decided.decision_id, status=status,
               policy=source.origin)
    return LaneOutcome(outputs={"candidate_id": cid, "candidate_ids": [cid],
                                "decision_id": decided.decision_id, "decision": status,
                                "report_path": str(report)},
                       metrics={"gates": {r.gate_id.value: r.status.value
                                          for r in decided.report.results}},
                       written=(report,))


def shadow_paper_run(ctx: LaneContext) -> LaneOutcome:
    from torghut.runtime.session import SessionRequest, run_session

    p = ctx.params
    app = str(p["gitopsPath"]).rstrip("/")
    if show(ctx.ws.gitops_dir, f"{app}/kustomization.yaml", MAIN) is None:
        raise ContractFailure(f"no folder {app!r} on GitOps main",
                              field="spec.parameters.gitopsPath")
    patch = _patch(ctx)
    dataset, start, end = window_parts(str(p["evaluationWindow"]))
    mode = str(p.get("mode", "paper"))

    def day(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None

    result = run_session(ctx.ws, ctx.ledger, SessionRequest(
        dataset=dataset, as_identity=ctx.actor, mode=mode, start=day(start), end=day(end)))
    ctx.check_deadline()
    ctx.decide("session-recorded", evidence_refs=[patch], session_id=result.session_id,
               namespace=p["torghutNamespace"], mode=mode, folder=str(result.folder))
    return LaneOutcome(outputs={"session_id": result.session_id, "folder": str(result.folder),
                                "strategies": sorted(result.paper)},
                       metrics={"summary": result.summary}, written=(result.folder,))


def _patch(ctx: LaneContext) -> str:
    """The strategy config patch under review must be a YAML mapping; returns its sha256."""
    path = ctx.existing("strategyConfigPatchPath")
    try:
        data = read_yaml(path)
    except TorghutError as exc:
        raise ContractFailure(exc.message, file=exc.file,
                              field="spec.parameters.strategyConfigPatchPath") from None
    if not isinstance(data, dict):
        raise ContractFailure("must be a YAML mapping", file=path,
                              field="spec.parameters.strategyConfigPatchPath")
    return ctx.ledger.artifacts.put(path.read_bytes())


def promotion_lane(ctx: LaneContext) -> LaneOutcome:
    p = ctx.params
    repo = ctx.gitops_repo()
    if p["base"] != MAIN:
        raise ContractFailure(f"promotion PRs target {MAIN}", field="spec.parameters.base")
    base = rev_parse(repo, MAIN)
    proposed = promotion.propose(ctx.ws, ctx.ledger, str(p["candidateId"]),
                                 as_identity=ctx.actor, target=str(p.get("target", "paper")),
                                 now=ctx.now, branch=str(p["head"]))
    ctx.write_diff(proposed.branch, base or MAIN, proposed.head_sha)
    ctx.decide("promotion-proposed", evidence_refs=[], pr_id=proposed.pr_id,
               branch=proposed.branch, head_sha=proposed.head_sha)
    return LaneOutcome(outputs={"pr_id": proposed.pr_id, "branch": proposed.branch,
                                "head_sha": proposed.head_sha, "candidate_ids":
                                [str(p["candidateId"])]},
                       metrics={"pull_requests": 1})


def incident_recovery(ctx: LaneContext) -> LaneOutcome:
    from torghut.ops.rollback import rollback

    p = ctx.params
    incident_id = str(p["incidentId"])
    _open_incident(ctx, incident_id)
    target = str(p["rollbackTarget"])
    done = rollback(ctx.ws, ctx.ledger, to=None if target == LAST_APPROVED else target,
                    last_approved=target == LAST_APPROVED, as_identity=ctx.actor)
    if done.commit is not None:
        ctx.write_diff(f"rollback-{done.commit[:12]}", done.plan.base, done.commit)
    ctx.decide("rolled-back", incident_id=incident_id, commit=done.commit,
               target=done.plan.target, rolled_back=list(done.rolled_back))
    at = datetime.now(UTC)
    note = (f"rolled back {p['torghutNamespace']} to {target} ({done.plan.target[:12]}) by "
            f"AgentRun {ctx.run.name}")
    record = update_incident(ctx.ws, ctx.ledger, incident_id,
                             IncidentChange(timeline={"rolled_back_at": at}),
                             note=note, as_identity=ctx.actor, now=at)
    ctx.decide("incident-updated", incident_id=incident_id, note=note,
               status=record.status.value)
    return LaneOutcome(outputs={"commit": done.commit, "target": done.plan.target,
                                "incident_id": incident_id,
                                "rolled_back_candidates": list(done.rolled_back)},
                       metrics={"files_restored": len(done.plan.files)})


def _open_incident(ctx: LaneContext, incident_id: str) -> None:
    """The incident must exist and be open before anything is rolled back for it."""
    with ctx.ledger.read() as session:
        record = find_incident(session, incident_id)
    if record is None or record.status is IncidentStatus.CLOSED:
        state = "no such incident" if record is None else "the incident is closed"
        raise ContractFailure(f"{state}: {incident_id!r}", field="spec.parameters.incidentId")


def audit_pack_lane(ctx: LaneContext) -> LaneOutcome:
    from torghut.ops.audit_pack import build_pack

    p = ctx.params
    missing = [r for r in p["artifactRefs"] if ctx.ledger.artifacts.check(r) is not None]
    if missing:
        raise ContractFailure(f"not in the artifact store: {[m[:12] for m in missing]}",
                              field="spec.parameters.artifactRefs")
    with ctx.ledger.read() as session:
        cids = list(session.scalars(select(Candidate.id).where(Candidate.run_id == p["runId"])))
    if not cids:
        raise ContractFailure("no recorded research run has this id",
                              field="spec.parameters.runId")
    out = ctx.path("outputPath")
    pack = build_pack(ctx.ws, ctx.ledger, candidate=cids[0], incident=None, out=out,
                      now=ctx.now)
    controls = profile_controls(str(p["complianceProfile"]))
    ctx.decide("audit-pack-built", evidence_refs=[pack.manifest_sha256, *p["artifactRefs"]],
               candidate_id=cids[0], controls=controls, missing=list(pack.missing_artifacts))
    return LaneOutcome(outputs={"pack_path": str(pack.path), "candidate_ids": cids[:1],
                                "manifest_sha256": pack.manifest_sha256, "controls": controls},
                       metrics={"files": pack.files, "events": pack.events},
                       written=(Path(pack.path),))


def profile_controls(profile: str) -> list[str]:
    """The control ids of a compliance profile (``all``: every control)."""
    wanted = PROFILE_SOURCES.get(profile)
    return [c.id for c in catalogue()
            if wanted is None or any(w in c.source for w in wanted)]
