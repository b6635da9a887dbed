"""Step 10: the exit criteria (:mod:`torghut.demo.criteria`) and the final summary."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from torghut.demo.criteria import criteria
from torghut.demo.plan import PANEL, RESEARCH
from torghut.demo.runner import DemoContext
from torghut.governance.lifecycle import current_state

TIME_BUDGET_S = 180.0


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
    console.print(f"Data: the real S&P 500 / NASDAQ sample passed Gate 0; the lanes ran on the "
                  f"seeded synthetic panel {PANEL} (planted momentum edge, regimes): research "
                  f"on {RESEARCH}, paper on the held-out window from "
                  f"{r['data']['paper_start']} — two index series cannot give three families "
                  "an edge that survives Gate 1, and the policy is never loosened.",
                  markup=False, soft_wrap=True)
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
