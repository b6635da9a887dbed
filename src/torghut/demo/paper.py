"""Steps 6-7: the runtime reconciles to the new catalog, a bad hand edit is disabled
without a crash and reverted, a paper session replays the held-out window with every
promoted plugin at once, then Gates 2 and 3 decide per plugin and validation signs off
``paper_verified`` (:func:`torghut.lanes.promotion.signoff`, as ``torghut validate signoff``).

The bad edit is the mistake review exists to catch: a catalog entry whose ``lookback`` is a
string, committed straight onto ``main`` (as if the pre-commit hook had been skipped). The
runtime disables only that entry, records the located reason in ``runtime.config.applied``,
and keeps running the others; the edit is then reverted by another commit on ``main``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from torghut.contracts.gates import Target
from torghut.demo.decisions import candidate_state, decide
from torghut.demo.plan import PANEL, VALIDATION_AGENT
from torghut.demo.promote import promoted_names
from torghut.demo.runner import DemoContext
from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.patch import ensure_strategy_limits, upsert_catalog_entry
from torghut.gitops.repo import (
    MAIN,
    Author,
    commit_files,
    rev_parse,
    show,
    sync_checkout,
    update_ref,
)
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.governance.lifecycle import State
from torghut.lanes import promotion
from torghut.lanes.validation import EvidenceFiles
from torghut.ledger import Ledger
from torghut.ledger.models import RuntimeSession
from torghut.runtime.config import AppliedConfig, AppliedRecorder, ConfigReconciler
from torghut.runtime.session import SessionRequest, run_session
from torghut.workspace import Workspace

BAD_ENTRY = "tsmom-typo"
HAND_EDITOR = Author("hand-edit", "hand-edit@torghut.invalid")


def reconcile(ws: Workspace, ledger: Ledger) -> AppliedConfig:
    """Reconcile a runtime to ``main`` and record what it applied (the drift check reads it)."""
    applied = ConfigReconciler(ws).reconcile()
    with ledger.write() as session:
        AppliedRecorder().record(session, applied)
    return applied


def runtime_step(ctx: DemoContext) -> dict[str, Any]:
    ws, scratch = ctx.ws, ctx.state.scratch
    applied = reconcile(ws, ctx.ledger)
    promoted = promoted_names(ctx)
    running = sorted(e.definition.strategy_id for e in applied.runnable)
    ctx.say(f"reconciled to main {applied.commit[:12]}: running {', '.join(running)}")
    if "revert_sha" not in scratch:
        bad = scratch.get("bad_edit") or _bad_edit(ctx)
        shown = reconcile(ws, ctx.ledger)
        status = shown.status(BAD_ENTRY)
        if status is None or status.enabled:
            raise TorghutError("the runtime did not disable the type-mismatched entry",
                               field=BAD_ENTRY)
        still = sorted(e.definition.strategy_id for e in shown.runnable)
        ctx.say(f"bad hand edit {bad['sha'][:12]}: {BAD_ENTRY} disabled ({status.reason}); "
                f"still running {', '.join(still)}")
        scratch["disabled"] = {"strategy_id": BAD_ENTRY, "reason": status.reason,
                               "commit": shown.commit, "still_running": still}
        ctx.state.note("revert_sha", _revert(ws, bad))
        ctx.say(f"reverted on main as {scratch['revert_sha'][:12]}")
    session_id = scratch.get("session_id")
    if session_id is None or not _session_recorded(ctx, session_id):
        data = ctx.state.steps["data"]["result"]
        result = run_session(ws, ctx.ledger, SessionRequest(
            dataset=PANEL, as_identity=VALIDATION_AGENT,
            start=datetime.fromisoformat(data["paper_start"])))
        ctx.state.note("session_id", result.session_id)
        ctx.state.note("session", {"folder": str(result.folder), "summary": result.summary})
    summary = scratch["session"]["summary"]
    ctx.say(f"paper session {summary['session_id']}: {summary['steps']} steps, "
            f"{summary['submitted']} orders, {summary['fills']} fills, strategies "
            f"{', '.join(sorted(summary['strategies']))}")
    return {"promoted": promoted, "bad_edit": scratch["bad_edit"],
            "disabled": scratch["disabled"], "revert_sha": scratch["revert_sha"],
            "session_id": summary["session_id"], "session_folder":
            scratch["session"]["folder"], "session": summary}


def _bad_edit(ctx: DemoContext) -> dict[str, Any]:
    """Commit a type-mismatched catalog entry (with its limits) straight onto ``main``."""
    repo = ctx.ws.gitops_dir
    old = rev_parse(repo, MAIN) or ""
    catalog, runtime = show(repo, CATALOG_PATH), show(repo, RUNTIME_CONFIG_PATH)
    if catalog is None or runtime is None:
        raise TorghutError("GitOps main has no catalog or runtime config", file=repo)
    limits = {"instruments": ["SYN000"], "max_order_value": 1000.0, "max_orders_per_day": 10,
              "max_position_notional": 1000.0, "venues": ["paper"]}
    files: dict[str, str | None] = {
        CATALOG_PATH: upsert_catalog_entry(catalog, {
            "strategy_id": BAD_ENTRY, "strategy_type": "tsmom", "version": "1.0.0",
            "enabled": True, "mode": "paper", "params": {"lookback": "sixty"}}),
        RUNTIME_CONFIG_PATH: ensure_strategy_limits(runtime, BAD_ENTRY, limits)}
    new = commit_files(repo, parent=old, files=files, author=HAND_EDITOR,
                       message=f"hand edit: add {BAD_ENTRY} (lookback typed as a string; "
                       "review and the pre-commit hook skipped)")
    update_ref(repo, MAIN, new, old)
    sync_checkout(repo, old, new)
    bad = {"sha": new, "parent": old}
    ctx.state.note("bad_edit", bad)
    return bad


def _revert(ws: Workspace, bad: dict[str, Any]) -> str:
    """Restore the two files the bad edit changed, as one more commit on ``main``."""
    repo = ws.gitops_dir
    head = rev_parse(repo, MAIN) or ""
    files: dict[str, str | None] = {p: show(repo, p, bad["parent"])
                                    for p in (CATALOG_PATH, RUNTIME_CONFIG_PATH)}
    new = commit_files(repo, parent=head, files=files, author=HAND_EDITOR,
                       message=f"Revert hand edit {bad['sha'][:12]} ({BAD_ENTRY})")
    update_ref(repo, MAIN, new, head)
    sync_checkout(repo, head, new)
    return new


def _session_recorded(ctx: DemoContext, session_id: str) -> bool:
    with ctx.ledger.read() as session:
        return session.get(RuntimeSession, session_id) is not None


def gates23_step(ctx: DemoContext) -> dict[str, Any]:
    """Gate 2 + Gate 3 per promoted plugin on the session's evidence; → paper_verified."""
    folder = Path(ctx.state.steps["runtime"]["result"]["session_folder"])
    candidates = ctx.state.steps["research"]["result"]["candidates"]
    out: dict[str, Any] = {}
    for name in promoted_names(ctx):
        cid, sid = candidates[name]["candidate_id"], candidates[name]["strategy_id"]
        evidence = EvidenceFiles(paper=folder / f"paper-{sid}.json",
                                 tca=folder / f"tca-{sid}.json")
        decision = decide(ctx, cid, Target.PAPER_VERIFIED, evidence)
        if decision["allowed"] and candidate_state(ctx, cid) is State.PAPER:
            promotion.signoff(ctx.ws, ctx.ledger, cid, as_identity=VALIDATION_AGENT)
        out[name] = {"candidate_id": cid, **decision, "state": candidate_state(ctx, cid).value,
                     "paper_evidence": str(evidence.paper), "tca_evidence": str(evidence.tca)}
        codes = ", ".join(decision["reason_codes"]) or "-"
        ctx.say(f"Gates 2+3 {name:14} {'PASS' if decision['allowed'] else 'FAIL':5} "
                f"→ {out[name]['state']:15} {codes}")
    return {"verified": out}

