"""Research-side lane workflows: research-intake, candidate-build, backtest-robustness.

* research-intake turns a prompt into CandidateSpec YAML without any randomness: the plugin
  family is the one the parameters (or, failing that, the prompt) name, the grid comes from
  the parameters or the plugin's own defaults, and the name hashes the inputs — the same run
  always writes the same bytes.
* candidate-build commits a candidate spec to the GitOps repo on the run's ``codex/`` head
  branch (a real branch, recorded as a local pull request) and puts the diff in ``diffs/``.
* backtest-robustness is ``torghut research run`` under the run's trial budget and wall time:
  the budget is checked against the expanded grid *before* any trial runs, the wall time
  between trials.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

from pydantic import ValidationError

from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.failures import BoundExceeded, ContractFailure
from torghut.contracts.base import canonical_json, sha256_text
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.features import FEATURE_SCHEMA_VERSION
from torghut.errors import TorghutError, from_validation_error
from torghut.fsutil import atomic_write_text
from torghut.gitops.manifests import parse_catalog
from torghut.gitops.repo import Author, RefMoved, commit_files, rev_parse, show, update_ref
from torghut.governance.refusal import Refusal
from torghut.lanes.promotion import register_pull_request
from torghut.lanes.research import candidate_id, record_run
from torghut.ledger import Ledger
from torghut.research.bundle import check_output, write_run
from torghut.research.candidate import load_candidate
from torghut.research.grid import expand_grid
from torghut.research.run import RunOptions, run_research
from torghut.sim.models import get_cost_model
from torghut.strategies.registry import Registry
from torghut.strategies.sdk import StrategyPlugin
from torghut.workspace import Workspace
from torghut.yamlio import dump_yaml

DEFAULT_DATASET = "sample-us-indices-1d"
CANDIDATES_DIR = "candidates"


def _contract(exc: TorghutError, key: str) -> ContractFailure:
    return ContractFailure(exc.message, file=exc.file, field=exc.field or
                           f"spec.parameters.{key}")


def _plugin(registry: Registry, family: str, version: str | None, key: str) -> StrategyPlugin:
    versions = registry.versions(family)
    if not versions or (version is not None and version not in versions):
        known = ", ".join(sorted({r.strategy_type for r in registry.records()
                                  if r.strategy_type}))
        raise ContractFailure(f"no plugin {family}@{version or '*'} (registered: {known})",
                              field=f"spec.parameters.{key}")
    return registry.get(family, version or versions[-1])


def _family_in_prompt(prompt: str, registry: Registry) -> str:
    """The registered family the prompt names first (``tsmom``, ``sma crossover`` …)."""
    text = prompt.lower()
    found: list[tuple[int, str]] = []
    for family in {r.strategy_type for r in registry.records() if r.strategy_type}:
        for spelling in {family, family.replace("_", " "), family.replace("_", "-")}:
            m = re.search(rf"\b{re.escape(spelling)}\b", text)
            if m:
                found.append((m.start(), family))
    if not found:
        raise ContractFailure("names no registered plugin family; set strategyType",
                              field="spec.parameters.researchPrompt")
    return min(found)[1]


def default_grid(plugin: StrategyPlugin) -> dict[str, list[Any]]:
    """Half, once and twice the default of the plugin's first integer parameter."""
    for name, info in plugin.Params.model_fields.items():
        default = info.default
        if info.annotation is int and isinstance(default, int) and default > 1:
            return {name: sorted({max(2, default // 2), default, default * 2})}
    return {}


def intake_candidate(ctx: LaneContext, registry: Registry) -> dict[str, Any]:
    """The candidate spec (plain data, validated) the intake parameters describe."""
    p = ctx.params
    if p["featureSchemaVersion"] != FEATURE_SCHEMA_VERSION:
        raise ContractFailure(f"this build serves feature schema {FEATURE_SCHEMA_VERSION}",
                              field="spec.parameters.featureSchemaVersion")
    family = p.get("strategyType") or _family_in_prompt(p["researchPrompt"], registry)
    plugin = _plugin(registry, family, None, "strategyType")
    digest = sha256_text(canonical_json({k: p[k] for k in sorted(p)}))[:8]
    data: dict[str, Any] = {
        "name": f"{family.replace('_', '-')}-{digest}", "strategy_type": family,
        "version": plugin.version, "dataset": p.get("dataset", DEFAULT_DATASET),
        "universe": list(p["universe"]), "author": ctx.actor,
        "hypothesis": p["researchPrompt"].strip().splitlines()[0][:400],
        "feature_schema_version": p["featureSchemaVersion"], "seed": 0}
    grid = p.get("paramGrid") or default_grid(plugin)
    if grid:
        data["param_grid"] = grid
    for key in ("stress", "split"):
        if key in p:
            data[key] = p[key]
    spec = _validated(data)
    try:
        expand_grid(spec, plugin)
    except TorghutError as exc:
        raise _contract(exc, "paramGrid") from None
    return data


def _validated(data: dict[str, Any]) -> CandidateSpec:
    try:
        return CandidateSpec.model_validate(data)
    except ValidationError as exc:
        raise _contract(from_validation_error(exc, prefix="candidate"), "researchPrompt") \
            from None


def research_intake(ctx: LaneContext) -> LaneOutcome:
    registry = Registry.from_entry_points()
    data = intake_candidate(ctx, registry)
    out = ctx.path("outputPath") / f"{data['name']}.yaml"
    text = dump_yaml(data)
    atomic_write_text(out, text)
    ctx.decide("candidate-spec-written", evidence_refs=[sha256_text(text)],
               path=str(out), strategy_type=data["strategy_type"],
               param_grid=data.get("param_grid"))
    return LaneOutcome(outputs={"spec_paths": [str(out)], "candidate_names": [data["name"]]},
                       metrics={"candidate_specs": 1}, written=(out,))


# ----------------------------------------------------------------------- candidate-build


def candidate_build(ctx: LaneContext) -> LaneOutcome:
    p = ctx.params
    source = ctx.existing("candidateSpecPath")
    try:
        spec = load_candidate(source)
    except TorghutError as exc:
        raise _contract(exc, "candidateSpecPath") from None
    repo = ctx.gitops_repo()
    base = rev_parse(repo, p["base"])
    if base is None:
        raise ContractFailure(f"no ref {p['base']!r} in the GitOps repo",
                              field="spec.parameters.base")
    catalog = show(repo, p["strategyCatalogPath"], base)
    if catalog is None:
        raise ContractFailure(f"not in the GitOps repo at {p['base']}",
                              field="spec.parameters.strategyCatalogPath")
    parse_catalog(catalog, file=f"{p['base']}:{p['strategyCatalogPath']}")
    path = f"{CANDIDATES_DIR}/{spec.name}.yaml"
    title = f"Candidate {spec.name} ({spec.strategy_ref})"
    head = commit_files(repo, parent=base, files={path: source.read_text(encoding="utf-8")},
                        message=f"{title}\n\nTorghut-AgentRun: {ctx.run.name}\n",
                        author=Author.of(ctx.actor))
    pr_id = open_branch_pr(ctx, head, base, kind="candidate", title=title,
                           body=f"{spec.hypothesis}\n\nCatalog: `{p['strategyCatalogPath']}`\n")
    ctx.decide("candidate-committed", evidence_refs=[spec.content_hash()], path=path,
               branch=p["head"], head_sha=head, pr_id=pr_id)
    return LaneOutcome(outputs={"pr_id": pr_id, "branch": p["head"], "head_sha": head,
                                "candidate_hash": spec.content_hash()},
                       metrics={"files_changed": 1})


def open_branch_pr(ctx: LaneContext, head_sha: str, base_sha: str, *, kind: str, title: str,
                   body: str) -> int:
    """Point the run's new ``head`` branch at ``head_sha``, diff it, record a local PR."""
    branch = ctx.params["head"]
    pr_id = open_pr(ctx.ws, ctx.ledger, branch=branch, head_sha=head_sha, actor=ctx.actor,
                    kind=kind, title=title, body=body)
    ctx.write_diff(branch, base_sha, head_sha)
    return pr_id


def open_pr(ws: Workspace, ledger: Ledger, *, branch: str, head_sha: str, actor: str,
            kind: str, title: str, body: str) -> int:
    """Create ``branch`` at ``head_sha`` (never an existing one) and record a local PR."""
    try:
        update_ref(ws.gitops_dir, branch, head_sha, None)
    except RefMoved:
        raise Refusal("BRANCH_EXISTS", f"branch {branch!r} already exists; heads are never "
                      "reused") from None
    with ledger.write() as session:
        pr = register_pull_request(session, ledger, kind=kind, branch=branch,
                                   head_sha=head_sha, title=title, body=body,
                                   proposer=actor, repo=ws.gitops_dir)
        return int(pr.id)


# ------------------------------------------------------------------- backtest-robustness


def backtest_candidate(ctx: LaneContext, registry: Registry) -> CandidateSpec:
    """The candidate to run: the given spec or one from the plugin defaults, on the run's
    snapshot and cost model; a spec for another strategy is a contract failure."""
    p = ctx.params
    plugin = _plugin(registry, p["strategyId"], p["strategyVersion"], "strategyId")
    try:
        get_cost_model(p["costModelVersion"], field="spec.parameters.costModelVersion")
    except TorghutError as exc:
        raise _contract(exc, "costModelVersion") from None
    if "candidateSpecPath" in p:
        try:
            base = load_candidate(ctx.existing("candidateSpecPath")).model_dump(mode="json")
        except TorghutError as exc:
            raise _contract(exc, "candidateSpecPath") from None
        if (base["strategy_type"], base["version"]) != (p["strategyId"], p["strategyVersion"]):
            raise ContractFailure(f"the candidate spec is {base['strategy_type']}@"
                                  f"{base['version']}", field="spec.parameters.strategyId")
    else:
        base = {"name": f"{p['strategyId'].replace('_', '-')}-{ctx.run.name}"[:63],
                "strategy_type": p["strategyId"], "version": p["strategyVersion"],
                "author": ctx.actor, "hypothesis": f"AgentRun {ctx.run.name}",
                "universe": _universe(ctx), "param_grid": default_grid(plugin) or None}
    return _validated({**base, "dataset": p["datasetSnapshotId"],
                       "cost_model": p["costModelVersion"]})


def _universe(ctx: LaneContext) -> list[str]:
    if "universe" in ctx.params:
        return list(ctx.params["universe"])
    from torghut.data.snapshots import load_snapshot

    try:
        return list(load_snapshot(ctx.ws, ctx.params["datasetSnapshotId"]).manifest.symbols)
    except TorghutError as exc:
        raise _contract(exc, "datasetSnapshotId") from None


def backtest_robustness(ctx: LaneContext) -> LaneOutcome:
    registry = Registry.from_entry_points()
    spec = backtest_candidate(ctx, registry)
    plugin = registry.get(spec.strategy_type, spec.version)
    trials = len(expand_grid(spec, plugin).points)
    budget = ctx.spec.spec.bounds.trial_budget
    if trials > budget:
        raise BoundExceeded("TRIAL_BUDGET_EXCEEDED", f"{trials} trials exceed the budget of "
                            f"{budget} for {ctx.spec.name}")
    ctx.decide("trial-budget", trials=trials, budget=budget)
    out = ctx.path("artifactPath")
    check_output(out, force=False)
    reps = int(ctx.params.get("bootstrapReps", 1000))
    result = run_research(ctx.ws, spec, RunOptions(
        executor="serial", workers=1, bootstrap_reps=reps,
        progress=lambda _label, _total: lambda _n: ctx.check_deadline()))
    ctx.check_deadline()
    bundle_path = write_run(result, out, report=False)
    try:
        run_id = record_run(ctx.ledger, result, actor=ctx.actor)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    b = result.bundle
    cid = candidate_id(run_id, b)
    s = b.statistics
    ctx.decide("research-run-recorded", evidence_refs=[run_id], candidate_id=cid,
               trials=len(b.trials), selected_trial=b.selected_trial)
    return LaneOutcome(
        outputs={"run_id": run_id, "candidate_id": cid, "candidate_ids": [cid],
                 "bundle_path": str(bundle_path)},
        metrics={"trials": len(b.trials), "folds": len(b.folds),
                 "oos_sharpe_annual": s.oos.sharpe_annual, "psr": s.psr, "dsr": s.dsr,
                 "pbo": s.pbo.pbo if s.pbo else None},
        written=(out,))
