"""Benchmark gate evaluation of one candidate; prints one JSON object.

A real research run (synthetic snapshot with a planted edge, 3-point grid, pessimistic-cost
stress) supplies the MetricsBundle and the quality report — that part is excluded from the
timing. Timed, end to end: parse the default policy YAML and checksum it, evaluate the
candidate for every target (paper: Gates 0+1, paper_verified: Gates 2+3, live: Gate 4; each
with the hard stops), and serialise each report as canonical JSON and Markdown. Then the
recorded validation lane (``gates evaluate``'s work, minus process start-up) on a SQLite
ledger. The issue's target is <= 200 ms. Usage: ``python bench/gates.py [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.gates import GateInputs, Target, TrialFamily
from torghut.data.quality import check_snapshot
from torghut.data.snapshots import load_snapshot
from torghut.data.synth import SynthSpec, build_synth
from torghut.gates import (
    default_policy,
    evaluate,
    parse_policy,
    policy_checksum,
    render_markdown,
    render_policy_yaml,
)
from torghut.lanes.research import record_run
from torghut.lanes.validation import evaluate_candidate
from torghut.ledger import open_ledger
from torghut.research.run import ResearchRun, RunOptions, run_research
from torghut.workspace import Workspace, init_workspace

TARGET_SECONDS = 0.2
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HASH = "a" * 64


def _runtime_evidence() -> dict[str, object]:
    """Paper, TCA, live-review and hard-stop inputs as the runtime/ops would file them."""
    def iso(days: float = 0.0) -> str:
        return (NOW - timedelta(days=days)).isoformat()

    def sl(sharpe: float) -> dict[str, object]:
        return {"bars": 120, "net_pnl": 5e3, "sharpe_annual": sharpe, "cost_bps": 8.0,
                "max_drawdown": -0.03}

    segments = [{"regime": r, "start": iso(40 - d), "end": iso(30 - d),
                 "challenger": sl(1.8), "champion": sl(1.0)}
                for r, d in (("high_vol", 0), ("normal", 10))]
    drill = {"passed": True, "at": iso(0.2), "evidence_sha256": HASH}
    return {
        "paper": {"strategy": "tsmom@1.0.0", "champion": "legacy_macd_rsi@2.1.0",
                  "mode": "paper", "start": iso(40), "end": iso(1), "sessions": 28,
                  "divergence": {"pnl_divergence": 0.002, "intent_agreement": 0.99,
                                 "fill_ratio_divergence": 0.02},
                  "stability": {"plugin_errors": 0, "circuit_open_count": 0,
                                "risk_limit_breaches": 0, "max_drawdown": -0.04},
                  "segments": segments},
        "tca": {"strategy": "tsmom@1.0.0", "start": iso(40), "end": iso(), "orders": 400,
                "fills": 380, "slippage_bps": 6.5, "shortfall_bps": 9.0, "churn": 0.2},
        "live_review": {"strategy": "tsmom@1.0.0", "proposer": "research-agent",
                        "paper_started_at": iso(30), "kill_switch_drill": drill,
                        "rollback_drill": drill, "rollback_target": "catalog@3f2a9c1",
                        "approvals": [{"identity": "alice", "role": "approver",
                                       "at": iso(0.1)}]},
        "hard_stops": {"ledger": {"events": 100, "head_hash": HASH, "broken": None},
                       "config": {"config_sha256": HASH, "valid": True},
                       "drift": {"gitops_sha256": HASH, "runtime_sha256": HASH},
                       "risk": {"violations": []},
                       "llm": {"advisory_stage": 1, "requests": 400, "error_ratio": 0.03,
                               "latency_p95_ms": 120.0},
                       "kill_switch": {"state": "active", "scope": "firm"}},
    }


def _research(root: Path) -> tuple[Workspace, ResearchRun]:
    ws = init_workspace(root / "ws")
    build_synth(ws, SynthSpec(symbols=2, bars=2000, seed=3, planted_edge=3.0),
                name="synth-edge")
    spec = CandidateSpec(name="tsmom-edge", strategy_type="tsmom", version="1.0.0",
                         param_grid={"lookback": (16, 20, 24)}, dataset="synth-edge",
                         universe=("SYN000", "SYN001"), author="research-agent",
                         hypothesis="planted trend", stress=("pessimistic_costs",), seed=7,
                         split={"kind": "expanding", "n_folds": 4, "test_bars": 250,
                                "min_train_bars": 400, "purge_bars": 1})
    return ws, run_research(ws, spec, RunOptions(executor="serial", bootstrap_reps=200))


def _inputs(ws: Workspace, run: ResearchRun) -> GateInputs:
    bundle = run.bundle
    family = TrialFamily(strategy_type="tsmom", n_trials=bundle.statistics.n_trials_run,
                         var_trial_sharpe=bundle.statistics.var_trial_sharpe)
    quality = check_snapshot(load_snapshot(ws, "synth-edge"))
    return GateInputs.model_validate({"candidate_id": "bench", "quality": quality,
                                      "bundle": bundle, "trial_family": family,
                                      **_runtime_evidence()})


def _lane_times(ws: Workspace, run: ResearchRun, repeats: int) -> tuple[list[float], str]:
    """The validation lane end to end on a SQLite ledger: read the bundle from the store,
    recompute the quality report from the snapshot, count the family's trials, measure
    the hard stops (verify the chain, validate the catalog on GitOps main), evaluate and
    record the decision with its gate results."""
    ledger = open_ledger(ws)
    try:
        record_run(ledger, run, actor="bench")
        with ledger.read() as s:
            cid = s.execute(text("SELECT id FROM candidates")).scalar_one()
        policy = default_policy()
        times, decision = [], ""
        for i in range(repeats + 1):
            start = time.perf_counter()
            decided = evaluate_candidate(ws, ledger, cid, Target.PAPER, policy,
                                         now=NOW + timedelta(seconds=i), actor="bench")
            if i:  # the first call is the warm-up
                times.append(time.perf_counter() - start)
            decision = decided.report.decision.value
    finally:
        ledger.close()
    return times, decision


def _once(inputs: GateInputs, policy_text: str) -> dict[str, str]:
    policy = parse_policy(policy_text, file="gate-policy.yaml")
    policy_checksum(policy)
    out = {}
    for target in Target:
        report = evaluate(inputs, target, policy, evaluated_at=NOW)
        render_markdown(report)
        report.canonical_json()
        out[target.value] = report.decision.value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, run = _research(Path(tmp))
        inputs = _inputs(ws, run)
        lane, lane_decision = _lane_times(ws, run, max(5, args.repeats // 2))
    policy_text = render_policy_yaml()
    decisions = _once(inputs, policy_text)  # warm-up (imports, schema caches)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        _once(inputs, policy_text)
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "benchmark": "gates_evaluate_one_candidate",
        "targets": decisions, "trials": len(inputs.bundle.trials) if inputs.bundle else 0,
        "seconds_best": round(min(times), 5), "seconds_median": round(statistics.median(times), 5),
        "lane_recorded_paper": {"decision": lane_decision,
                                "seconds_best": round(min(lane), 5),
                                "seconds_median": round(statistics.median(lane), 5)},
        "target_seconds": TARGET_SECONDS,
        "pass": max(statistics.median(times), statistics.median(lane)) <= TARGET_SECONDS,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
    }))


if __name__ == "__main__":
    main()
