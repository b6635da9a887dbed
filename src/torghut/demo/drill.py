"""Step 8: the rollback drill (FIA-6) with the kill switch (RTS-12, FIA-1, FIA-3).

An incident is opened; a paper runtime replays the held-out window one clock step at a
time until it has working orders; the operator engages the firm kill switch, the runtime
adopts the latched state and cancels every open order (done only when the adapter
acknowledges each cancel); promotion is frozen (the reserve candidate's pull request is
refused by the kill-switch hard stop); main is rolled back to the last approved config; the
runtime reconciles to it (applied hash == desired hash); a drift check comes back clean;
and the operator releases the kill switch with a reason and the incident id.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from torghut.contracts.orders import KillState
from torghut.demo.paper import reconcile
from torghut.demo.plan import OPERATOR, PANEL, PROMOTION_AGENT, RESERVE
from torghut.demo.promote import promoted_ids
from torghut.demo.runner import DemoContext
from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_text
from torghut.governance import guard
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.lanes import promotion
from torghut.ledger import audit
from torghut.ops import kill_switch as ops_kill
from torghut.ops.conditions import desired_config_sha256
from torghut.ops.drift import drift_check
from torghut.ops.incidents import IncidentChange, close_incident, open_incident, update_incident
from torghut.ops.rollback import rollback
from torghut.risk.kill_switch import KillBoard
from torghut.runtime.config import RUNTIME_ACTOR, ConfigReconciler
from torghut.runtime.engine import Engine, EngineOptions
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.firewall import CancelReport

# A planned drill is a runtime exercise (class C), not a failed risk control: an open
# class-B incident is itself a promotion hard stop, which would hide the kill switch's.
DRILL_CLASS, DRILL_SEVERITY = "C", "medium"
SCOPE = "firm"
CANCELS_ACTION = "runtime.kill_switch.cancels"
DRILL_REASON = "rollback drill: halt, cancel, freeze promotion, roll back"


def drill_step(ctx: DemoContext) -> dict[str, Any]:
    done: dict[str, Any] = dict(ctx.state.scratch.get("drill", {}))

    def once(key: str, action: Any) -> Any:
        if key not in done:
            done[key] = action()
            ctx.state.note("drill", done)
        return done[key]

    incident = once("incident", lambda: open_incident(
        ctx.ws, ctx.ledger, incident_class=DRILL_CLASS, severity=DRILL_SEVERITY,
        summary="Drill: firm kill switch and rollback to the last approved config",
        as_identity=OPERATOR, strategies=promoted_ids(ctx)).incident_id)
    ctx.say(f"incident {incident} opened")
    cancels = once("cancels", lambda: _halt_with_open_orders(ctx, incident))
    ctx.say(f"kill switch engaged (firm, halted): {len(cancels['requested'])} open orders, "
            f"{len(cancels['acknowledged'])} cancels acknowledged")
    frozen = once("frozen", lambda: _frozen(ctx))
    ctx.say(f"promotion frozen: proposing {RESERVE} refused with {frozen['code']}")
    once("contained", lambda: _note(ctx, incident, "contained_at", "contained: firm halted, "
                                    f"{len(cancels['acknowledged'])} cancels acknowledged, "
                                    "promotion frozen"))
    rolled = once("rollback", lambda: _rollback(ctx))
    ctx.say(f"rolled back main to {rolled['target'][:12]} as {rolled['commit'][:12]} "
            f"(rolled back: {', '.join(c[:12] for c in rolled['candidates']) or 'none'})")
    once("rolled_back", lambda: _note(ctx, incident, "rolled_back_at", "main rolled back to "
                                      f"{rolled['target'][:12]} ({rolled['commit'][:12]})"))
    converged = once("converged", lambda: _converge(ctx))
    clean = "clean" if converged["in_sync"] else "DRIFT"
    ctx.say(f"runtime converged: applied {converged['applied'][:12]} == desired "
            f"{converged['desired'][:12]}; drift check {clean}")
    released = once("released", lambda: _release(ctx, incident))
    once("closed", lambda: _close(ctx, incident, rolled))
    ctx.say(f"kill switch released ({released['reason']}); incident {incident} closed")
    return {"incident": incident, "cancels": cancels, "frozen": frozen, "rollback": rolled,
            "converged": converged, "released": released}


def _halt_with_open_orders(ctx: DemoContext, incident: str) -> dict[str, Any]:
    """Step a paper runtime until it has working orders, engage, cancel, await the acks."""
    ws, ledger = ctx.ws, ctx.ledger
    applied = ConfigReconciler(ws).reconcile()
    start = datetime.fromisoformat(ctx.state.steps["data"]["result"]["paper_start"])
    feed = ReplayFeed.from_snapshot(ws, PANEL, start=start)
    session_id = f"drill-{applied.config_sha256[:12]}"
    signed = guard.act(ws, ledger, OPERATOR, Action.RUNTIME_SESSION, f"session:{session_id}",
                       {"dataset": feed.source, "mode": "paper", "purpose": "kill drill",
                        "config_sha256": applied.config_sha256})
    engine = Engine(applied, feed, EngineOptions(session_id=session_id, operator=signed.actor),
                    board=KillBoard())
    steps = feed.steps()
    for i, step in enumerate(steps):
        engine.step(step)
        if engine.open_orders:
            break
        if i >= ctx.plan.drill_bars:
            raise TorghutError(f"no working order within {i} paper steps", field="drill")
    ops_kill.engage(ws, ledger, scope=SCOPE, state=KillState.HALTED, reason=DRILL_REASON,
                    as_identity=OPERATOR, incident_id=incident)
    with ledger.read() as session:
        engine.refresh_board(ops_kill.board(session))
    report = engine.stats.cancels[-1]
    for step in steps:  # acknowledgements arrive with the adapter's next events
        if engine.firewall.cancel_progress(report).done:
            break
        engine.step(step)
    final: CancelReport = engine.firewall.cancel_progress(report)
    engine.records.flush(ledger)
    # A one-line summary of the firewall's report; the record itself (and what the exit
    # criterion reads) is the cancel_requested / cancel_ack order-event rows (RTS-28).
    with ledger.write() as session:
        audit.append(session, RUNTIME_ACTOR, CANCELS_ACTION, f"session:{session_id}",
                     {"scope": SCOPE, "incident_id": incident,
                      **final.model_dump(mode="json")})
    return {"session_id": session_id, "requested": list(final.requested),
            "acknowledged": list(final.acknowledged), "pending": list(final.pending),
            "done": final.done, "rejected_while_halted": dict(engine.stats.rejects)}


def _frozen(ctx: DemoContext) -> dict[str, Any]:
    """A forward transition while the kill switch is engaged must be refused."""
    cid = ctx.state.steps["research"]["result"]["candidates"][RESERVE]["candidate_id"]
    try:
        promotion.propose(ctx.ws, ctx.ledger, cid, as_identity=PROMOTION_AGENT)
    except Refusal as refusal:
        return {"candidate_id": cid, "code": refusal.code, "message": str(refusal)}
    raise TorghutError("a promotion went through while the kill switch was engaged",
                       field="kill_switch")


def _rollback(ctx: DemoContext) -> dict[str, Any]:
    done = rollback(ctx.ws, ctx.ledger, last_approved=True, as_identity=OPERATOR)
    return {"commit": done.commit or "", "target": done.plan.target,
            "base": done.plan.base, "candidates": list(done.rolled_back),
            "disabled": list(done.plan.disabled), "undone_prs": list(done.plan.undone_prs)}


def _converge(ctx: DemoContext) -> dict[str, Any]:
    """Reconcile to main, then check drift against what the runtime applied."""
    applied = reconcile(ctx.ws, ctx.ledger)
    desired = desired_config_sha256(ctx.ws.gitops_dir)
    snapshot = ctx.state.path.parent / "drill" / "applied-config.json"
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(snapshot, json.dumps(applied.effective.model_dump(mode="json"),
                                           indent=2, sort_keys=True) + "\n")
    result = drift_check(ctx.ws, ctx.ledger, snapshot=snapshot, runtime_url=None,
                         as_identity=OPERATOR)
    return {"applied": applied.config_sha256, "desired": desired, "commit": applied.commit,
            "in_sync": not result.differences, "snapshot": str(snapshot),
            "differences": [d.to_json() for d in result.differences]}


def _note(ctx: DemoContext, incident: str, moment: str, text: str) -> str:
    update_incident(ctx.ws, ctx.ledger, incident, IncidentChange(
        timeline={moment: datetime.now(UTC)}), note=text, as_identity=OPERATOR)
    return text


def _close(ctx: DemoContext, incident: str, rolled: dict[str, Any]) -> str:
    """Close with the recovery verified; the preventive action concerns the pull request
    whose promotion the drill rolled back (it must be re-reviewed before it returns)."""
    undone = rolled["undone_prs"]
    text = "drill complete: runtime converged, drift check clean, kill switch released"
    close_incident(ctx.ws, ctx.ledger, incident, IncidentChange(
        root_cause="config_change",
        root_cause_detail="drill: the newest promotion was treated as a bad config change",
        preventive_action="re-review the rolled-back promotion before it is proposed again; "
        "repeat the drill before Gate 4 (max drill age 72 h)",
        preventive_pr=f"PR-{undone[0]}" if undone else None), note=text,
        as_identity=OPERATOR)
    return text


def _release(ctx: DemoContext, incident: str) -> dict[str, Any]:
    reason = "drill complete: rolled back, converged, drift clean"
    ops_kill.release(ctx.ws, ctx.ledger, scope=SCOPE, reason=reason, incident_id=incident,
                     as_identity=OPERATOR)
    return {"scope": SCOPE, "reason": reason, "incident": incident}
