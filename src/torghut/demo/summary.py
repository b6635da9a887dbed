"""Step 10: the exit criteria, checked against the ledger and the GitOps repo (never
against printed text), and the final summary table."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from sqlalchemy import select

from torghut.demo.drill import CANCELS_ACTION
from torghut.demo.paper import BAD_ENTRY
from torghut.demo.plan import APPROVER, IDENTITIES, OVERFIT, RESERVE
from torghut.demo.promote import promoted_ids, promoted_names
from torghut.demo.runner import DemoContext
from torghut.gitops.repo import MAIN, git, is_ancestor
from torghut.governance.identities import load_identities
from torghut.governance.lifecycle import current_state
from torghut.ledger import audit
from torghut.ledger.models import (
    KillSwitchEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
)
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION, desired_config_sha256
from torghut.ops.drift import DRIFT_CHECKED_ACTION

OVERFIT_CODES = ("GATE1_DSR_", "GATE1_PBO_")
TIME_BUDGET_S = 180.0


def criteria(ctx: DemoContext) -> dict[str, bool]:
    """Every exit criterion of the demo, each read from the ledger or from git."""
    r = {k: v["result"] for k, v in ctx.state.steps.items()}
    cands = r["research"]["candidates"]
    promoted = promoted_names(ctx)
    with ctx.ledger.read() as s:
        events = audit.log(s)
        decisions = list(s.scalars(select(PromotionDecision)))
        states = {n: current_state(s, c["candidate_id"]).value for n, c in cands.items()}
        history = {n: {p.state for p in s.scalars(select(Promotion).where(
            Promotion.candidate_id == c["candidate_id"]))} for n, c in cands.items()}
        prs = {p.candidate_id: p for p in s.scalars(select(PullRequest))}
        pr_events = list(s.scalars(select(PullRequestEvent)))
        kills = list(s.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id)))
        drill = r["drill"]
        chain_ok = audit.verify(s, ctx.ledger.artifacts).ok
    allowed = {(d.candidate_id, d.target) for d in decisions if d.allowed}
    families = {c["strategy_type"] for c in cands.values()
                if (c["candidate_id"], "paper") in allowed}
    overfit = [d for d in decisions if d.candidate_id == cands[OVERFIT]["candidate_id"]]
    repo = ctx.ws.gitops_dir
    ids = {i.name: i for i in load_identities(repo).identities}

    def pr_ok(name: str) -> bool:
        pr = prs.get(cands[name]["candidate_id"])
        if pr is None or not pr.branch.startswith("codex/"):
            return False
        evs = [e for e in pr_events if e.pull_request_id == pr.id]
        merged = [e.merge_sha for e in evs if e.event == "merged" and e.merge_sha]
        return (any(e.event == "approved" and e.actor == APPROVER for e in evs)
                and bool(merged) and _is_merge_of(repo, merged[0], pr.head_sha))

    applied = [e for e in events if e.action == RUNTIME_APPLIED_ACTION]
    drift = [e for e in events if e.action == DRIFT_CHECKED_ACTION]
    refused = [e for e in events if e.action == "governance.refused"
               and "KILL_SWITCH" in str(e.payload.get("code", ""))]
    incident = drill["incident"]
    agent_runs = {(e.payload.get("lane"), json.dumps(e.payload.get("outputs"), sort_keys=True))
                  for e in events if e.action == "agentrun.finished"
                  and e.payload.get("status") == "succeeded"}
    researched = {json.loads(o).get("candidate_id") for lane, o in agent_runs
                  if lane == "backtest-robustness"}
    return {
        "identities: 3 agents + approver + operator on main":
            all(n in ids for n in IDENTITIES) and ids[APPROVER].kind.value == "human",
        "intake and research ran as AgentRuns": len(
            [lane for lane, _ in agent_runs if lane == "research-intake"]) >= len(cands)
            and {c["candidate_id"] for c in cands.values()} <= researched,
        "Gate 0 passes on every snapshot": all(g["passed"] for g in r["data"]["gate0"].values()),
        ">= 3 plugin families pass Gate 1": len(families) >= 3,
        "overfit candidate rejected with DSR/PBO codes": bool(overfit) and not any(
            d.allowed for d in overfit) and any(str(c).startswith(OVERFIT_CODES)
                                                for d in overfit for c in d.reasons),
        "promotions: codex/ PR, human approval, merge commit":
            len(promoted) >= 3 and all(pr_ok(n) for n in promoted),
        "type-mismatched entry disabled, then reverted": any(
            any(x.get("strategy_id") == BAD_ENTRY and not x.get("enabled") and x.get("reason")
                for x in e.payload.get("entries", [])) for e in applied)
            and _on_main(repo, r["runtime"]["revert_sha"]),
        "paper session ran every promoted plugin at once":
            set(promoted_ids(ctx)) <= set(r["runtime"]["session"]["strategies"]),
        "Gates 2+3 → paper_verified for every promoted plugin": all(
            "paper_verified" in history[n] for n in promoted),
        "kill switch: engaged, open orders cancelled and acknowledged":
            any(k.action == "engage" and k.incident_id == incident for k in kills)
            and any(e.action == CANCELS_ACTION and e.payload["requested"]
                    and set(e.payload["acknowledged"]) == set(e.payload["requested"])
                    for e in events),
        "promotion frozen while engaged": bool(refused) and states[RESERVE] == "validated",
        "rollback to last approved config on main": _on_main(repo,
                                                              drill["rollback"]["commit"])
            and "rolled_back" in states.values(),
        "runtime converged, drift check clean": bool(applied) and bool(drift)
            and applied[-1].payload.get("config_sha256") == desired_config_sha256(repo)
            and bool(drift[-1].payload.get("in_sync")),
        "kill switch released with reason + incident id": bool(kills)
            and kills[-1].action == "release" and kills[-1].incident_id == incident,
        "audit chain verifies": chain_ok,
        "every decision reproduces": all(x["reproduced"] for x in
                                         r["audit"]["reproduced"].values()),
        "audit pack verifies": not r["audit"]["pack"]["problems"],
    }


def _on_main(repo: Any, sha: str) -> bool:
    return bool(sha) and is_ancestor(repo, sha, MAIN)


def _is_merge_of(repo: Any, merge_sha: str, head: str) -> bool:
    parents = git(repo, "rev-list", "--parents", "-n", "1", merge_sha).split()
    return len(parents) == 3 and parents[2] == head and _on_main(repo, merge_sha)


def summary_step(ctx: DemoContext) -> dict[str, Any]:
    checks = criteria(ctx)
    return {"criteria": checks, "passed": all(checks.values())}


def render(ctx: DemoContext, checks: dict[str, bool]) -> None:
    """The final tables: candidates, PRs, paper metrics, drill, artifacts, criteria, time."""
    r = {k: v["result"] for k, v in ctx.state.steps.items()}
    console = ctx.console
    cands, proms = r["research"]["candidates"], r["promote"]["promotions"]
    verified = r.get("gates23", {}).get("verified", {})
    session = r["runtime"]["session"]["strategies"]
    t = Table(title="Candidates")
    for col in ("candidate", "plugin", "Gate 1", "reasons", "PR", "Gates 2+3", "state",
                "paper net PnL", "fills", "slippage bps"):
        t.add_column(col)
    with ctx.ledger.read() as s:
        states = {n: current_state(s, c["candidate_id"]).value for n, c in cands.items()}
    for name, c in cands.items():
        p, v = proms.get(name, {}), verified.get(name, {})
        m = session.get(c["strategy_id"], {})
        t.add_row(f"{name} ({c['strategy_id']})", c["strategy"],
                  "pass" if c["allowed"] else "reject",
                  ", ".join(c["reason_codes"])[:60] or "-",
                  f"#{p['pr_id']} {p['branch']}" if p.get("pr_id") else "-",
                  ("pass" if v.get("allowed") else "fail") if v else "-", states[name],
                  _num(m.get("net_pnl")), str(m.get("fills", "-")), _num(m.get("slippage_bps")))
    console.print(t)
    d = r["drill"]
    console.print(f"Drill: incident {d['incident']}; {len(d['cancels']['acknowledged'])}/"
                  f"{len(d['cancels']['requested'])} cancels acknowledged; frozen with "
                  f"{d['frozen']['code']}; rollback {d['rollback']['commit'][:12]} → "
                  f"{d['rollback']['target'][:12]}; converged "
                  f"{d['converged']['applied'] == d['converged']['desired']}; drift clean "
                  f"{d['converged']['in_sync']}", markup=False)
    console.print(f"Artifacts: workspace {ctx.ws.root}; paper evidence "
                  f"{r['runtime']['session_folder']}; audit pack {r['audit']['pack']['path']}; "
                  f"gates reports {ctx.ws.artifacts_dir / 'gates'}; GitOps {ctx.ws.gitops_dir}",
                  markup=False, soft_wrap=True)
    c = Table(title="Exit criteria")
    c.add_column("criterion")
    c.add_column("held")
    for k, ok in checks.items():
        c.add_row(k, "[green]yes[/green]" if ok else "[red]NO[/red]")
    console.print(c)
    total = sum(ctx.timings.values())
    console.print("Step timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in ctx.timings.items())
                  + f"; total {total:.1f}s (budget {TIME_BUDGET_S:.0f}s)", markup=False)


def _num(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "-"
