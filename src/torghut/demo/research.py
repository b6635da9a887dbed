"""Steps 3-4: research intake, research runs with every trial recorded, then Gate 1.

Each candidate spec is written into the workspace as a research agent would hand it in and
read back through the same loader ``torghut research run`` uses; each run is recorded in
the ledger (run, every trial, candidate, folds, stress, bundle) and judged by Gate 1 under
the policy on GitOps ``main``. Both are idempotent: a spec whose candidate the ledger
already holds is not run again (that would count its trials twice), and a candidate with a
recorded ``paper`` decision is not judged again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.gates import Target
from torghut.demo.plan import VALIDATION_AGENT
from torghut.demo.runner import DemoContext
from torghut.lanes.research import candidate_id, record_run
from torghut.lanes.validation import evaluate_candidate, gitops_policy
from torghut.ledger.models import Candidate, PromotionDecision
from torghut.research.bundle import default_output, write_run
from torghut.research.candidate import load_candidate
from torghut.research.run import RunOptions, run_research
from torghut.yamlio import dump_yaml

INTAKE_DIR = "intake"


def intake_step(ctx: DemoContext) -> dict[str, Any]:
    """Write each candidate spec into ``demo/intake/`` and load it back, validated."""
    # TODO(agentrun): once torghut.agentrun lands, write a torghut-v3-research-intake-v1
    # AgentRun manifest per spec here and execute_run() it as research-agent instead.
    folder = ctx.state.path.parent / INTAKE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    specs = {}
    for raw in ctx.plan.candidates():
        path = folder / f"{raw['name']}.yaml"
        path.write_text(dump_yaml(raw), encoding="utf-8")
        spec = load_candidate(path)
        grid = spec.param_grid or {}
        trials = 1
        for values in grid.values():
            trials *= len(values)
        specs[spec.name] = {"path": str(path), "spec_hash": spec.content_hash(),
                            "strategy": spec.strategy_ref, "dataset": spec.dataset,
                            "trials": trials}
        ctx.say(f"{spec.name:17} {spec.strategy_ref:22} {trials:3} trials on {spec.dataset}")
    return {"specs": specs}


def research_step(ctx: DemoContext) -> dict[str, Any]:
    """Run and record every candidate's research, then evaluate Gate 1 (target paper)."""
    specs = ctx.state.steps["intake"]["result"]["specs"]
    out: dict[str, Any] = {}
    for name, info in specs.items():
        spec = load_candidate(Path(info["path"]))
        cid = _recorded(ctx, spec) or _run(ctx, spec)
        decision = _gate1(ctx, cid)
        out[name] = {"candidate_id": cid, "strategy": spec.strategy_ref,
                     "strategy_type": spec.strategy_type, **decision}
        verdict = "PASS" if decision["allowed"] else "REJECT"
        codes = ", ".join(decision["reason_codes"]) or "-"
        ctx.say(f"Gate 1 {name:17} {verdict:6} {codes}")
    return {"candidates": out}


def _recorded(ctx: DemoContext, spec: CandidateSpec) -> str | None:
    with ctx.ledger.read() as session:
        return session.scalars(select(Candidate.id).where(
            Candidate.spec_hash == spec.content_hash()).limit(1)).first()


def _run(ctx: DemoContext, spec: CandidateSpec) -> str:
    run = run_research(ctx.ws, spec, RunOptions(executor="serial",
                                                bootstrap_reps=ctx.plan.bootstrap_reps,
                                                progress=ctx.progress))
    write_run(run, default_output(ctx.ws, spec), force=True, report=False)
    run_id = record_run(ctx.ledger, run, actor=spec.author)
    b = run.bundle
    s = b.statistics
    ctx.say(f"{spec.name}: {len(b.trials)} trials recorded, OOS Sharpe "
            f"{_fmt(s.oos.sharpe_annual)}, DSR {_fmt(s.dsr)}, "
            f"PBO {_fmt(s.pbo.pbo if s.pbo else None)}")
    return candidate_id(run_id, b)


def _gate1(ctx: DemoContext, cid: str) -> dict[str, Any]:
    with ctx.ledger.read() as session:
        row = session.scalars(select(PromotionDecision).where(
            PromotionDecision.candidate_id == cid, PromotionDecision.target == "paper")
            .order_by(PromotionDecision.decided_at.desc()).limit(1)).first()
        if row is not None:
            return {"decision_id": row.id, "allowed": row.allowed,
                    "reason_codes": [str(r) for r in row.reasons]}
    decided = evaluate_candidate(ctx.ws, ctx.ledger, cid, Target.PAPER,
                                 gitops_policy(ctx.ws).policy, now=datetime.now(UTC),
                                 actor=VALIDATION_AGENT, sign=True)
    return {"decision_id": decided.decision_id,
            "allowed": decided.report.decision.value == "allow",
            "reason_codes": list(decided.report.reason_codes)}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
