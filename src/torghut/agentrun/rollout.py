"""The governance-rollout lane: a documentation PR on the run's ``codex/`` head.

The rollout checklist is generated from the shipped spec catalog and the decision-rights
table, so it cannot disagree with what the executor enforces: one item per lane with the
governance action it runs under, the roles that hold it, its bounds and its required keys.
Incident templates come with it, and the operations runbooks when the package ships them
(:mod:`torghut.ops.runbook`).
"""

from __future__ import annotations

from torghut.agentrun.catalog import load_catalog
from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.failures import ContractFailure
from torghut.agentrun.lane_research import open_branch_pr
from torghut.gitops.repo import Author, commit_files, rev_parse, show
from torghut.governance.rights import permitted_roles

DOCS_DIR = "docs/torghut-v3"
INCIDENT_TEMPLATES = {
    "kill-switch-engaged": ("Kill switch engaged", "Scope (firm/strategy/symbol) and state",
                            "Trigger and alert time (RTS-16: within 5 s)",
                            "Open orders cancelled and acknowledged (RTS-12)",
                            "Release: operations identity, reason, incident id (FIA-3)"),
    "rollback": ("Rollback to last approved config", "Target commit and the PRs it undoes",
                 "Runtime converged to the restored catalog (drift check clean)",
                 "Candidates moved to rolled_back", "Follow-up PR, reviewed (SEC-9)"),
    "data-outage": ("Data freshness or quality failure", "Snapshot / feed and the gap",
                    "Gate 0 status and hard stops raised",
                    "Strategies halted by cancel-on-disconnect (FIA-2)",
                    "Replay after recovery reproduces the risk decisions (RTS-28)"),
}


def checklist(ctx: LaneContext) -> str:
    p = ctx.params
    lines = [f"# Torghut v3 governance rollout — {p['head']}", "",
             f"Design: [{p['designDoc']}]({p['designDoc']}); runtime namespace "
             f"`{p['torghutNamespace']}`, agents namespace `{p['agentsNamespace']}`, app "
             f"folder `{p['gitopsPath']}`.", "",
             "Each lane runs only as an identity holding its right (`torghut agentrun exec "
             "RUN.yaml --as IDENTITY`); failures pause the lane until operations resumes it.",
             ""]
    for spec in load_catalog().values():
        body = spec.spec
        roles = ", ".join(sorted(r.value for r in permitted_roles(body.identity_action)))
        keys = ", ".join(f"`{k.name}`" for k in body.contract.required_keys)
        b = body.bounds
        lines += [f"- [ ] **{body.lane}** (`{spec.name}`): `{body.identity_action}` by "
                  f"{roles}; bounds {b.wall_time_seconds} s, {b.trial_budget} trials, "
                  f"{b.artifact_bytes} bytes; keys {keys}"]
    lines += ["", "- [ ] ImplementationSpecs installed in the agents namespace",
              "- [ ] Kill-switch and rollback drills passed (RTS-5, FIA-6)",
              "- [ ] Incident templates reviewed by operations", ""]
    return "\n".join(lines)


def template(title: str, *items: str) -> str:
    return "\n".join([f"# Incident: {title}", "", "- Incident id:", "- Severity:",
                      "- Opened by / at:", *(f"- [ ] {item}" for item in items),
                      "- Root cause:", "- Preventive PR:", ""])


def runbooks() -> dict[str, str]:
    """The operations runbooks as Markdown pages, when the package ships them
    (:mod:`torghut.ops.runbook`); a build without them rolls out without them."""
    try:
        from torghut.ops.runbook import load_all, to_markdown
    except ImportError:
        return {}
    return {f"{DOCS_DIR}/runbooks/{rb.name}.md": to_markdown(rb) for rb in load_all()}


def governance_rollout(ctx: LaneContext) -> LaneOutcome:
    p = ctx.params
    repo = ctx.gitops_repo()
    base = rev_parse(repo, str(p["base"]))
    if base is None:
        raise ContractFailure(f"no ref {p['base']!r} in the GitOps repo",
                              field="spec.parameters.base")
    if show(repo, f"{str(p['gitopsPath']).rstrip('/')}/kustomization.yaml", base) is None:
        raise ContractFailure(f"no kustomization.yaml under {p['gitopsPath']!r} at "
                              f"{p['base']}", field="spec.parameters.gitopsPath")
    files: dict[str, str | None] = {f"{DOCS_DIR}/rollout-checklist.md": checklist(ctx)}
    files |= {f"{DOCS_DIR}/incident-templates/{name}.md": template(*parts)
              for name, parts in INCIDENT_TEMPLATES.items()}
    files |= runbooks()
    title = f"Torghut v3 governance rollout ({p['head']})"
    head = commit_files(repo, parent=base, files=files,
                        message=f"{title}\n\nTorghut-AgentRun: {ctx.run.name}\n",
                        author=Author.of(ctx.actor))
    pr_id = open_branch_pr(ctx, head, base, kind="docs", title=title,
                           body="Rollout checklist and incident templates.\n")
    ctx.decide("rollout-pr-opened", pr_id=pr_id, branch=p["head"], head_sha=head,
               files=sorted(files))
    return LaneOutcome(outputs={"pr_id": pr_id, "branch": p["head"], "head_sha": head,
                                "files": sorted(files)},
                       metrics={"files_changed": len(files)})
