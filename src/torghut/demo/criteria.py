"""The demo's exit criteria, each read back from the ledger or the GitOps repo.

Nothing here trusts what a step printed or wrote into the state file about its outcome:
the state file only says *which* candidate, incident or pack to look at; whether it passed
is read from the ledger's rows and audit events, from git, or recomputed (the audit chain,
the audit pack).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from torghut.demo.paper import BAD_ENTRY
from torghut.demo.plan import APPROVER, IDENTITIES, OVERFIT, RESERVE
from torghut.demo.promote import promoted_ids, promoted_names
from torghut.demo.runner import DemoContext
from torghut.gitops.repo import MAIN, git, is_ancestor
from torghut.governance.identities import load_identities
from torghut.governance.lifecycle import current_state
from torghut.ledger import audit
from torghut.ledger.audit import AuditEvent
from torghut.ledger.models import (
    KillSwitchEvent,
    OrderEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
    RuntimeSession,
)
from torghut.ops.audit_verify import verify_pack
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION, desired_config_sha256
from torghut.ops.drift import DRIFT_CHECKED_ACTION
from torghut.runtime.records import CANCEL_REQUESTED_EVENT

OVERFIT_CODES = ("GATE1_DSR_", "GATE1_PBO_")
Checks = dict[str, bool]


@dataclass
class Facts:
    """One read of the ledger (a single snapshot) plus what the state file points at."""

    steps: dict[str, Any]
    cands: dict[str, Any]
    promoted: list[str]
    repo: Path
    events: list[AuditEvent]
    decisions: list[PromotionDecision]
    states: dict[str, str]
    history: dict[str, set[str]]
    prs: dict[str, PullRequest]
    pr_events: list[PullRequestEvent]
    kills: list[KillSwitchEvent]
    sessions: list[RuntimeSession]
    drill_orders: list[OrderEvent]  # the kill drill's session, oldest first
    chain_ok: bool

    def actions(self, action: str) -> list[AuditEvent]:
        return [e for e in self.events if e.action == action]


def gather(ctx: DemoContext) -> Facts:
    steps = {k: v["result"] for k, v in ctx.state.steps.items()}
    cands = steps["research"]["candidates"]
    with ctx.ledger.read() as s:
        ids = {n: c["candidate_id"] for n, c in cands.items()}
        return Facts(
            steps=steps, cands=cands, promoted=promoted_names(ctx), repo=ctx.ws.gitops_dir,
            events=audit.log(s), decisions=list(s.scalars(select(PromotionDecision))),
            states={n: current_state(s, cid).value for n, cid in ids.items()},
            history={n: {p.state for p in s.scalars(select(Promotion).where(
                Promotion.candidate_id == cid))} for n, cid in ids.items()},
            prs={p.candidate_id or "": p for p in s.scalars(select(PullRequest))},
            pr_events=list(s.scalars(select(PullRequestEvent))),
            kills=list(s.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id))),
            sessions=list(s.scalars(select(RuntimeSession))),
            drill_orders=list(s.scalars(select(OrderEvent).where(
                OrderEvent.session_id == _drill_session(steps)).order_by(OrderEvent.id))),
            chain_ok=audit.verify(s, ctx.ledger.artifacts).ok)


def criteria(ctx: DemoContext) -> Checks:
    """Every exit criterion, by name → held."""
    f = gather(ctx)
    return {**_research(f), **_promotion(f), **_runtime(ctx, f), **_drill(f), **_audit(f)}


def _research(f: Facts) -> Checks:
    ids = {i.name: i for i in load_identities(f.repo).identities}
    finished = [e.payload for e in f.actions("agentrun.finished")
                if e.payload.get("status") == "succeeded"]
    intake = {n for p in finished if p.get("lane") == "research-intake"
              for n in p["outputs"].get("candidate_names", [])}
    researched = {p["outputs"].get("candidate_id") for p in finished
                  if p.get("lane") == "backtest-robustness"}
    allowed = {d.candidate_id for d in f.decisions if d.allowed and d.target == "paper"}
    families = {c["strategy_type"] for c in f.cands.values() if c["candidate_id"] in allowed}
    overfit = [d for d in f.decisions if d.candidate_id == f.cands[OVERFIT]["candidate_id"]]
    return {
        "identities: 3 agents + approver + operator on main":
            all(n in ids for n in IDENTITIES) and ids[APPROVER].kind.value == "human",
        "intake and research ran as AgentRuns":
            {c["strategy_id"] for c in f.cands.values()} <= intake
            and {c["candidate_id"] for c in f.cands.values()} <= researched,
        "Gate 0 passes on every snapshot":
            all(g["passed"] for g in f.steps["data"]["gate0"].values()),
        ">= 3 plugin families pass Gate 1": len(families) >= 3,
        "overfit candidate rejected with DSR/PBO codes": bool(overfit)
            and not any(d.allowed for d in overfit)
            and any(str(c).startswith(OVERFIT_CODES) for d in overfit for c in d.reasons),
    }


def _promotion(f: Facts) -> Checks:
    def pr_ok(name: str) -> bool:
        pr = f.prs.get(f.cands[name]["candidate_id"])
        if pr is None or not pr.branch.startswith("codex/"):
            return False
        evs = [e for e in f.pr_events if e.pull_request_id == pr.id]
        merged = [e.merge_sha for e in evs if e.event == "merged" and e.merge_sha]
        return (any(e.event == "approved" and e.actor == APPROVER for e in evs)
                and bool(merged) and _is_merge_of(f.repo, merged[0], pr.head_sha))

    return {"promotions: codex/ PR, human approval, merge commit":
            len(f.promoted) >= 3 and all(pr_ok(n) for n in f.promoted)}


def _runtime(ctx: DemoContext, f: Facts) -> Checks:
    applied = f.actions(RUNTIME_APPLIED_ACTION)
    wanted = set(promoted_ids(ctx))
    return {
        "type-mismatched entry disabled, then reverted": any(
            x.get("strategy_id") == BAD_ENTRY and not x.get("enabled") and x.get("reason")
            for e in applied for x in e.payload.get("entries", []))
            and BAD_ENTRY not in (git(f.repo, "show", f"{MAIN}:apps/torghut/"
                                      "strategy-catalog.yaml") or ""),
        "paper session ran every promoted plugin at once": any(
            r.mode == "paper" and wanted <= set(r.summary.get("strategies", {}))
            for r in f.sessions),
        "Gates 2+3 → paper_verified for every promoted plugin":
            all("paper_verified" in f.history[n] for n in f.promoted),
    }


def _drill(f: Facts) -> Checks:
    incident = f.steps["drill"]["incident"]
    applied, drift = f.actions(RUNTIME_APPLIED_ACTION), f.actions(DRIFT_CHECKED_ACTION)
    refused = [e for e in f.actions("governance.refused")
               if str(e.payload.get("code", "")) == "HARD_STOP_KILL_SWITCH_ENGAGED"]
    rollbacks = git(f.repo, "log", MAIN, "--format=%(trailers:key=Torghut-Rollback,valueonly)")
    return {
        "kill switch: engaged, open orders cancelled and acknowledged":
            any(k.action == "engage" and k.incident_id == incident for k in f.kills)
            and _all_cancels_acknowledged(f.drill_orders),
        "promotion frozen while engaged": bool(refused) and f.states[RESERVE] == "validated",
        "rollback to last approved config on main": bool(rollbacks.strip())
            and "rolled_back" in f.states.values(),
        "runtime converged, drift check clean": bool(applied) and bool(drift)
            and applied[-1].payload.get("config_sha256") == desired_config_sha256(f.repo)
            and bool(drift[-1].payload.get("in_sync")),
        "kill switch released with reason + incident id": bool(f.kills)
            and f.kills[-1].action == "release" and f.kills[-1].incident_id == incident
            and bool(f.kills[-1].reason),
    }


def _drill_session(steps: dict[str, Any]) -> str | None:
    return ((steps.get("drill") or {}).get("cancels") or {}).get("session_id")


def _all_cancels_acknowledged(rows: list[OrderEvent]) -> bool:
    """RTS-28/RTS-12 from the order-event rows: at least one kill-switch cancel was
    requested, and each order's last event is the acknowledgement of it."""
    last = {r.order_id: r for r in rows}
    requested = {r.order_id for r in rows if r.event == CANCEL_REQUESTED_EVENT
                 and (r.code or "").startswith("KILL_SWITCH")}
    return bool(requested) and all(last[o].event == "cancel_ack" for o in requested)


def _audit(f: Facts) -> Checks:
    reproduced = {e.payload.get("decision_id") for e in f.actions("ledger.reproduce.ok")}
    pack = Path(f.steps["audit"]["pack"]["path"])
    return {
        "audit chain verifies": f.chain_ok,
        "every decision reproduces": bool(f.decisions) and all(
            d.id in reproduced for d in f.decisions),
        "audit pack verifies": pack.is_dir() and not verify_pack(pack),
    }


def _is_merge_of(repo: Path, merge_sha: str, head: str) -> bool:
    parents = git(repo, "rev-list", "--parents", "-n", "1", merge_sha).split()
    return len(parents) == 3 and parents[2] == head and is_ancestor(repo, merge_sha, MAIN)
