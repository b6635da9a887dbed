"""Steps 3-4: research intake, research runs with every trial recorded, then Gate 1.

Each candidate comes in through a ``torghut-v3-research-intake-v1`` AgentRun and is
researched by a ``torghut-v3-backtest-robustness-v1`` AgentRun, both executed as the
research agent (bounded, signed, recorded, each with its artifact bundle). The research lane
records the run, every trial, the candidate, folds, stress and the bundle in the ledger;
Gate 1 then judges it under the policy on GitOps ``main``. Both are idempotent: a spec whose
candidate the ledger already holds is not run again (that would count its trials twice), and
a candidate with a recorded ``paper`` decision is not judged again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from torghut.agentrun import RunResult, execute_run, load_run
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.features import FEATURE_SCHEMA_VERSION
from torghut.contracts.gates import Target
from torghut.contracts.research import MetricsBundle
from torghut.demo.decisions import decide
from torghut.demo.plan import RESEARCH_AGENT
from torghut.demo.runner import DemoContext
from torghut.errors import TorghutError
from torghut.ledger.models import Candidate
from torghut.research.candidate import load_candidate
from torghut.yamlio import dump_yaml

INTAKE_DIR = "intake"
INTAKE_SPEC = "torghut-v3-research-intake-v1"
RESEARCH_SPEC = "torghut-v3-backtest-robustness-v1"
RESEARCH_DIR = "research"
AGENT_REF = "codex"  # the agent the AgentRun names (spec.agentRef)


def intake_step(ctx: DemoContext) -> dict[str, Any]:
    """One ``torghut-v3-research-intake-v1`` AgentRun per candidate, executed as the
    research agent: the lane writes the validated CandidateSpec into ``demo/intake/``."""
    folder = ctx.state.path.parent / INTAKE_DIR
    specs: dict[str, Any] = dict(ctx.state.scratch.get("intake", {}))
    for raw in ctx.plan.candidates():
        name = raw["name"]
        if name not in specs:
            specs[name] = _intake(ctx, raw, folder)
            ctx.state.note("intake", specs)
        info = specs[name]
        ctx.say(f"{name:17} → {info['spec_name']:24} {info['strategy']:22} "
                f"{info['trials']:3} trials on {info['dataset']} (AgentRun {info['run']})")
    return {"specs": specs}


def _intake(ctx: DemoContext, raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    grid = {**{k: [v] for k, v in raw.get("params", {}).items()}, **raw["param_grid"]}
    run_name = f"demo-intake-{raw['name']}"
    result = _execute(ctx, run_name, "research-intake", INTAKE_SPEC, 300, {
        "researchPrompt": raw["hypothesis"], "universe": raw["universe"],
        "featureSchemaVersion": FEATURE_SCHEMA_VERSION,
        "outputPath": str(folder.relative_to(ctx.ws.root)),
        "strategyType": raw["strategy_type"], "dataset": raw["dataset"],
        "paramGrid": grid, "stress": raw["stress"], "split": raw["split"]})
    spec_path = Path(result.outputs["spec_paths"][0])
    spec = load_candidate(spec_path)
    trials = 1
    for values in (spec.param_grid or {}).values():
        trials *= len(values)
    return {"path": str(spec_path), "spec_name": spec.name, "spec_hash": spec.content_hash(),
            "strategy": spec.strategy_ref, "dataset": spec.dataset, "trials": trials,
            "run": run_name, "bundle": str(result.bundle_dir)}


def _execute(ctx: DemoContext, run_name: str, lane: str, spec_name: str, timeout: int,
             parameters: dict[str, Any]) -> RunResult:
    """Write an AgentRun manifest into ``demo/agentruns/`` and execute it as the research
    agent (bounded, signed, recorded, with its bundle under ``agentruns/``)."""
    doc = {"apiVersion": "agents.proompteng.ai/v1alpha1", "kind": "AgentRun",
           "metadata": {"name": run_name, "labels": {"lane": lane, "stage": "demo"}},
           "spec": {"agentRef": {"name": AGENT_REF},
                    "implementationSpecRef": {"name": spec_name},
                    "runtime": {"type": "workflow"}, "ttlSecondsAfterFinished": 3600,
                    "vcsPolicy": {"required": False, "mode": "none"},
                    "parameters": parameters,
                    "workflow": {"steps": [{"name": lane, "retries": 0,
                                            "retryBackoffSeconds": 15,
                                            "timeoutSeconds": timeout}]}}}
    path = ctx.state.path.parent / "agentruns" / f"{run_name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(doc), encoding="utf-8")
    result = execute_run(ctx.ws, ctx.ledger, load_run(path), as_identity=RESEARCH_AGENT)
    if result.status != "succeeded":
        raise TorghutError(f"AgentRun {run_name} failed ({result.failure_class}): "
                           f"{result.failure}", file=path, field="spec.parameters")
    return result


def research_step(ctx: DemoContext) -> dict[str, Any]:
    """Run and record every candidate's research, then evaluate Gate 1 (target paper)."""
    specs = ctx.state.steps["intake"]["result"]["specs"]
    out: dict[str, Any] = {}
    for name, info in specs.items():
        spec = load_candidate(Path(info["path"]))
        cid = _recorded(ctx, spec) or _run(ctx, name, info, spec)
        decision = decide(ctx, cid, Target.PAPER)
        out[name] = {"candidate_id": cid, "strategy": spec.strategy_ref,
                     "strategy_id": spec.name,
                     "strategy_type": spec.strategy_type, **decision}
        verdict = "PASS" if decision["allowed"] else "REJECT"
        codes = ", ".join(decision["reason_codes"]) or "-"
        ctx.say(f"Gate 1 {name:17} {verdict:6} {codes}")
    return {"candidates": out}


def _recorded(ctx: DemoContext, spec: CandidateSpec) -> str | None:
    with ctx.ledger.read() as session:
        return session.scalars(select(Candidate.id).where(
            Candidate.spec_hash == spec.content_hash()).limit(1)).first()


def _run(ctx: DemoContext, name: str, info: dict[str, Any], spec: CandidateSpec) -> str:
    """The research run, as a ``torghut-v3-backtest-robustness-v1`` AgentRun (within the
    spec's trial budget); the lane records the run, every trial and the candidate."""
    root = ctx.state.path.parent / RESEARCH_DIR
    attempt = 1 + sum(1 for _ in root.glob(f"{spec.name}-*")) if root.exists() else 1
    result = _execute(ctx, f"demo-research-{name}-{attempt}", "backtest-robustness",
                      RESEARCH_SPEC, 1800, {
                          "datasetSnapshotId": spec.dataset, "strategyId": spec.strategy_type,
                          "strategyVersion": spec.version, "costModelVersion": spec.cost_model,
                          "candidateSpecPath": str(Path(info["path"]).relative_to(ctx.ws.root)),
                          "artifactPath": str((root / f"{spec.name}-{attempt}")
                                              .relative_to(ctx.ws.root)),
                          "bootstrapReps": ctx.plan.bootstrap_reps})
    b = MetricsBundle.model_validate_json(Path(result.outputs["bundle_path"]).read_text())
    s = b.statistics
    ctx.say(f"{spec.name}: {len(b.trials)} trials recorded, OOS Sharpe "
            f"{_fmt(s.oos.sharpe_annual)}, DSR {_fmt(s.dsr)}, "
            f"PBO {_fmt(s.pbo.pbo if s.pbo else None)} (AgentRun {result.run})")
    return str(result.outputs["candidate_id"])


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
