"""Failure classes, retries, bounds and pausing; render and the exec/install CLI.

The lanes are the real ones (research-intake writes real candidate specs); a transient
failure is injected in front of one as what SQLite raises on a locked database, and the
backoff clock is injected so nothing sleeps. SQLite and PostgreSQL for the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.agentrun.agentrun_helpers import agent_run, run_doc, write_run
from tests.ledger.conftest import backend, ledger, ledger_ws, pg_database  # noqa: F401
from tests.research.research_helpers import write_candidate
from tests.support import CliRunner
from torghut.agentrun import RunViolations, execute_run
from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.failures import backoff_seconds
from torghut.agentrun.lanes import LANES, LaneFn
from torghut.agentrun.render import render_manifests, render_text
from torghut.gitops.repo import MAIN, rev_parse, show
from torghut.governance.refusal import Refusal
from torghut.ledger import Ledger, audit
from torghut.workspace import Workspace
from torghut.yamlio import load_yaml_text

INTAKE = {"researchPrompt": "sma crossover on the index sample", "universe": ["SPX"],
          "featureSchemaVersion": "3.1", "outputPath": "candidates"}


def _flaky(times: int) -> tuple[dict[str, LaneFn], list[int]]:
    """research-intake behind a database that is locked for the first ``times`` calls."""
    calls: list[int] = []

    def lane(ctx: LaneContext) -> LaneOutcome:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise OperationalError("INSERT INTO audit_events", {},
                                   Exception("database is locked"))
        return LANES["research-intake"](ctx)

    return {**LANES, "research-intake": lane}, calls


def _failures(book: Ledger, name: str) -> list[dict[str, Any]]:
    with book.read() as s:
        return [e.payload for e in audit.log(s, name) if e.action == "agentrun.failed"]


def test_backoff_doubles_from_15_to_a_300_second_cap() -> None:
    assert [backoff_seconds(n) for n in range(1, 7)] == [15, 30, 60, 120, 240, 300]


def test_transient_failure_retries_with_backoff_then_succeeds(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    lanes, calls = _flaky(2)
    slept: list[float] = []
    run = agent_run(tmp_path, "i-1", "research-intake", INTAKE,
                    steps=[{"name": "research-intake", "retries": 4,
                            "retryBackoffSeconds": 15}])
    result = execute_run(ledger_ws, ledger, run, as_identity="research-agent",
                         sleep=slept.append, lanes=lanes)
    assert (result.status, result.attempts, calls, slept) == ("succeeded", 3, [1, 2, 3],
                                                              [15, 30])
    assert Path(result.outputs["spec_paths"][0]).name.startswith("sma-crossover-")
    failed = _failures(ledger, "i-1")
    assert [(f["failure_class"], f["attempt"], f["retrying"]) for f in failed] == [
        ("transient", 1, True), ("transient", 2, True)]
    metrics = json.loads((result.bundle_dir / "metrics.json").read_text())
    assert metrics["attempts"] == 3 and len(metrics["failures"]) == 2


def test_transient_retries_stop_at_the_cap_and_five_in_a_row_pause(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    lanes, calls = _flaky(99)
    slept: list[float] = []
    run = agent_run(tmp_path, "i-1", "research-intake", INTAKE, steps=[])  # default: cap 4
    result = execute_run(ledger_ws, ledger, run, as_identity="research-agent",
                         sleep=slept.append, lanes=lanes)
    assert (result.status, result.failure_class, result.attempts) == ("failed", "transient", 5)
    assert slept == [15, 30, 60, 120] and len(calls) == 5
    assert result.paused
    with pytest.raises(Refusal, match="LANE_PAUSED"):
        execute_run(ledger_ws, ledger, agent_run(tmp_path, "i-2", "research-intake", INTAKE),
                    as_identity="research-agent", sleep=slept.append)


def test_deterministic_failure_never_retries_and_two_pause(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    (ledger_ws.root / "bt" / "1").mkdir(parents=True)  # the output folder already exists
    params = {"datasetSnapshotId": "synth-x", "strategyId": "tsmom", "strategyVersion": "1.0.0",
              "costModelVersion": "costs-v1", "artifactPath": "bt/1", "universe": ["SPX"]}

    def refuse_sleep(seconds: float) -> None:
        raise AssertionError("deterministic failures do not back off")

    first = execute_run(ledger_ws, ledger, agent_run(tmp_path, "b-1", "backtest-robustness",
                                                     params),
                        as_identity="research-agent", sleep=refuse_sleep)
    assert (first.failure_class, first.attempts, first.paused) == ("deterministic", 1, False)
    assert first.failure is not None and "already exists" in first.failure
    second = execute_run(ledger_ws, ledger, agent_run(tmp_path, "b-2", "backtest-robustness",
                                                      params),
                         as_identity="research-agent", sleep=refuse_sleep)
    assert second.paused


def test_trial_budget_is_a_policy_bound_checked_before_any_trial(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide\nstrategy_type: tsmom\nversion: 1.0.0\ndataset: nowhere\n"
                    "universe: [SPX]\nauthor: research-agent\nhypothesis: too many\n"
                    "param_grid: {lookback: [" + ", ".join(str(n) for n in range(2, 102))
                    + "]}\n")
    (ledger_ws.root / "wide.yaml").write_text(spec.read_text())
    params = {"datasetSnapshotId": "nowhere", "strategyId": "tsmom", "strategyVersion": "1.0.0",
              "costModelVersion": "costs-v1", "artifactPath": "bt/w",
              "candidateSpecPath": "wide.yaml"}
    result = execute_run(ledger_ws, ledger, agent_run(tmp_path, "w-1", "backtest-robustness",
                                                      params), as_identity="research-agent")
    assert result.failure_class == "policy" and result.failure is not None
    assert result.failure.startswith("TRIAL_BUDGET_EXCEEDED: 100 trials exceed the budget of 64")
    assert not (ledger_ws.root / "bt/w").exists()


def test_wall_time_is_enforced_with_an_injected_clock(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    ticks = [0.0]  # the start; every later reading is far past the 300 s bound

    def clock() -> float:
        return ticks.pop() if ticks else 10_000.0

    result = execute_run(ledger_ws, ledger, agent_run(tmp_path, "i-1", "research-intake",
                                                      INTAKE),
                         as_identity="research-agent", clock=clock)
    assert result.failure_class == "policy" and result.failure is not None
    assert result.failure.startswith("WALL_TIME_EXCEEDED")


def test_artifact_size_is_a_policy_bound(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    def bloated(ctx: LaneContext) -> LaneOutcome:  # the real lane, then a 2 MB diff
        done = LANES["research-intake"](ctx)
        (ctx.work_dir / "diffs").mkdir(exist_ok=True)
        (ctx.work_dir / "diffs" / "huge.diff").write_bytes(b"+" * 2_000_000)
        return done

    result = execute_run(ledger_ws, ledger, agent_run(tmp_path, "i-1", "research-intake",
                                                      INTAKE),
                         as_identity="research-agent",
                         lanes={**LANES, "research-intake": bloated})
    assert result.failure_class == "policy" and result.failure is not None
    assert result.failure.startswith("ARTIFACT_TOO_LARGE")


def test_an_invalid_run_is_a_contract_failure_and_writes_no_bundle(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    bad = agent_run(tmp_path, "i-1", "research-intake", {**INTAKE, "universe": []}, ttl=None)
    with pytest.raises(RunViolations) as err:
        execute_run(ledger_ws, ledger, bad, as_identity="research-agent")
    assert [v.field for v in err.value.violations] == ["spec.ttlSecondsAfterFinished",
                                                       "spec.parameters.universe"]
    assert err.value.exit_code == 2
    assert not (ledger_ws.root / "agentruns").exists()
    assert _failures(ledger, "i-1")[0]["failure_class"] == "contract"


def test_recovery_for_an_unknown_incident_rolls_nothing_back(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    main = rev_parse(ledger_ws.gitops_dir, MAIN)
    run = agent_run(tmp_path, "r-1", "incident-recovery", {
        "torghutNamespace": "torghut", "incidentId": "INC-404", "rollbackTarget": "main",
        "confirm": True})
    result = execute_run(ledger_ws, ledger, run, as_identity="oscar")
    assert result.failure_class == "contract" and result.failure is not None
    assert "no such incident: 'INC-404'" in result.failure
    assert rev_parse(ledger_ws.gitops_dir, MAIN) == main


def test_a_run_writes_only_to_the_repository_it_names(
        tmp_path: Path, ledger_ws: Workspace, ledger: Ledger) -> None:  # noqa: F811
    write_candidate(ledger_ws.root / "c.yaml")
    params = {"repository": "git@example.com:other/gitops.git", "base": "main",
              "head": "codex/c-1", "candidateSpecPath": "c.yaml",
              "strategyCatalogPath": "apps/torghut/strategy-catalog.yaml"}
    result = execute_run(ledger_ws, ledger, agent_run(tmp_path, "c-1", "candidate-build",
                                                      params), as_identity="research-agent")
    assert result.failure_class == "contract" and result.failure is not None
    assert "is not this workspace's GitOps repo" in result.failure
    assert rev_parse(ledger_ws.gitops_dir, "codex/c-1") is None
    ok = execute_run(ledger_ws, ledger, agent_run(tmp_path, "c-2", "candidate-build",
                                                  {**params, "repository": "gitops",
                                                   "head": "codex/c-2"}),
                     as_identity="research-agent")
    assert ok.status == "succeeded" and rev_parse(ledger_ws.gitops_dir, "codex/c-2")


def test_render_writes_spec_run_configmap_and_job(tmp_path: Path) -> None:
    run = agent_run(tmp_path, "i-1", "research-intake", INTAKE)
    docs = render_manifests(run, as_identity="research-agent", namespace="agents")
    text = render_text(docs)
    assert "&id" not in text  # plain documents, no anchors shared between them
    parsed = [load_yaml_text(d, file="render") for d in text.split("---\n")]
    assert [d["kind"] for d in parsed] == ["ImplementationSpec", "AgentRun", "ConfigMap", "Job"]
    job = parsed[3]
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600 and job["spec"]["backoffLimit"] == 0
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["-w", "/workspace", "agentrun", "exec", "/config/run.yaml", "--as",
                    "research-agent"]
    mounted = load_yaml_text(parsed[2]["data"]["run.yaml"], file="configmap")
    assert mounted["spec"]["parameters"] == INTAKE and "schemaVersion" not in mounted


def test_exec_cli_runs_and_fails_with_the_right_exit_codes(
        tmp_path: Path, ws: Workspace, torghut: CliRunner) -> None:
    good = write_run(tmp_path / "good.yaml", run_doc("i-1", "research-intake", INTAKE))
    proc = torghut("-w", str(ws.root), "agentrun", "exec", str(good), "--as",
                   "research-agent", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "succeeded" and Path(out["bundle_dir"], "manifest.json").is_file()
    wrong = write_run(tmp_path / "wrong.yaml", run_doc("i-2", "research-intake", INTAKE))
    refused = torghut("-w", str(ws.root), "agentrun", "exec", str(wrong), "--as", "oscar")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "policy failure: ROLE_NOT_PERMITTED" in refused.stderr
    paused = torghut("-w", str(ws.root), "agentrun", "exec", str(good), "--as",
                     "research-agent")
    assert paused.returncode == 1 and "LANE_PAUSED" in paused.stderr
    status = torghut("-w", str(ws.root), "agentrun", "status", "--json")
    assert json.loads(status.stdout)["research-intake"]["state"] == "paused"
    resumed = torghut("-w", str(ws.root), "agentrun", "resume", "research-intake",
                      "--reason", "wrong identity in the run", "--as", "oscar")
    assert resumed.returncode == 0, resumed.stderr


def test_install_opens_a_pr_with_every_shipped_spec(ws: Workspace, torghut: CliRunner) -> None:
    proc = torghut("-w", str(ws.root), "agentrun", "install", "--as", "promotion-agent",
                   "--head", "codex/specs-1", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["files"]) == 9 and out["pr_id"] == 1
    text = show(ws.gitops_dir, out["files"][0], "codex/specs-1")
    assert text is not None and "kind: ImplementationSpec" in text
    denied = torghut("-w", str(ws.root), "agentrun", "install", "--as", "research-agent",
                     "--head", "codex/specs-2")
    assert denied.returncode == 1 and "ROLE_NOT_PERMITTED" in denied.stderr
