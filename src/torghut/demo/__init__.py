"""``torghut demo``: the end-to-end dry run on real components (issue 8).

One workspace, every lane by its real use case: identities, data and Gate 0, research
intake, research runs and Gate 1 (an overfit sweep rejected), sign-off, promotion pull
requests, human approval and merge, the runtime reconciling (a bad hand edit disabled, not
crashed on), a paper session with every promoted plugin, Gates 2 and 3, the rollback drill
with the kill switch and an incident, audit verification, reproduction of every decision
and an audit pack — then a summary whose exit criteria are read back from the ledger and
the GitOps repo. Re-running on the same workspace resumes after the last completed step.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from torghut.demo.audit_steps import audit_step
from torghut.demo.drill import drill_step
from torghut.demo.paper import gates23_step, runtime_step
from torghut.demo.plan import PLANS
from torghut.demo.promote import promote_step
from torghut.demo.research import intake_step, research_step
from torghut.demo.runner import DemoContext, Step, run_steps
from torghut.demo.setup import data_step, init_step
from torghut.demo.state import DEMO_DIR, STATE_FILE, DemoState, demo_lock
from torghut.demo.summary import render, summary_step
from torghut.errors import TorghutError
from torghut.workspace import CONFIG_FILE

STEPS = [
    Step("init", "Workspace and demo identities", init_step),
    Step("data", "Sample data, the synthetic panel and Gate 0", data_step),
    Step("intake", "Research intake: candidate specs", intake_step),
    Step("research", "Research runs (every trial recorded) and Gate 1", research_step),
    Step("promote", "Sign-off, promotion PRs, human approval, merge", promote_step),
    Step("runtime", "Runtime reconcile (bad edit disabled) and a paper session", runtime_step),
    Step("gates23", "Gates 2 and 3 → paper_verified", gates23_step),
    Step("drill", "Rollback drill: kill switch, rollback, converge, release", drill_step),
    Step("audit", "Audit verify, ledger reproduce, audit pack", audit_step),
    Step("summary", "Exit criteria from the ledger and the GitOps repo", summary_step),
]


def run_demo(root: Path, *, plan: str = "full", console: Console | None = None,
             ledger_url: str | None = None) -> bool:
    """Run (or resume) the demo in ``root``; True when every exit criterion held.

    ``ledger_url`` (e.g. ``postgresql+psycopg://…``) puts a new workspace's ledger there;
    a resumed workspace keeps the ledger it was created with."""
    root = root.resolve()
    console = console or Console()
    folder = root / DEMO_DIR
    if (root / CONFIG_FILE).exists() and not (folder / STATE_FILE).exists():
        raise TorghutError("is a workspace the demo did not create; refusing to run the demo "
                           "in it (choose a new directory)", file=root, field="--workspace")
    with demo_lock(folder):
        state = DemoState.load(folder / STATE_FILE, PLANS[plan].name)
        state.save()  # marks the directory as the demo's before anything else is created
        ctx = DemoContext(root=root, plan=PLANS[plan], state=state, console=console,
                          ledger_url=ledger_url)
        try:
            run_steps(ctx, STEPS)
            checks = summary_step(ctx)["criteria"]  # re-read: holds on a resumed run too
            render(ctx, checks)
        finally:
            ctx.close()
    return all(checks.values())
