"""``torghut advisory …`` end to end in subprocesses, on a real research run and gate
decision: status, ask about a decision, evaluate, a human's signed decision (AI-R2), and
``gates evaluate`` denied by the ``llm_reliability`` hard stop once the model degrades
(AI-R1). SQLite only: the ledger paths are run on both backends by the other files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.advisory.advisory_helpers import enable, events
from tests.advisory.llm_server import ReplayServer
from tests.lanes.lane_helpers import edge_workspace
from tests.runtime.test_runtime_config import commit_main
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.advisory.config import ADVISORY_PATH
from torghut.advisory.evaluate import EVALUATED_ACTION
from torghut.advisory.records import CALL_ACTION, DECIDE_ACTION
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import lookup
from torghut.governance.signing import verify
from torghut.lanes.research import record_run
from torghut.ledger import open_ledger
from torghut.workspace import Workspace

AS_VALIDATION = ("--as", "validation-agent")


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A workspace with one research run and its allowed paper decision (built once)."""
    from tests.support import run_torghut

    ws, run = edge_workspace(tmp_path_factory.mktemp("advisory-cli") / "ws")
    with open_ledger(ws) as ledger:
        record_run(ledger, run, actor="research-agent")
        with ledger.read() as s:
            cid = str(s.execute(text("SELECT id FROM candidates")).scalar_one())
    proc = run_torghut("-w", str(ws.root), "gates", "evaluate", "--candidate", cid,
                       "--target", "paper", "--json", *AS_VALIDATION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ws.root, cid, json.loads(proc.stdout)["decision_id"]


@pytest.fixture
def ws(decided: tuple[Path, str, str], tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(decided[0], root, symlinks=True)
    return Workspace.load(root)


def _json(proc: object) -> dict:
    return json.loads(proc.stdout)  # type: ignore[attr-defined]


def test_status_is_off_by_default(ws: Workspace, torghut: CliRunner) -> None:
    proc = torghut("-w", str(ws.root), "advisory", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    body = _json(proc)
    assert (body["stage"], body["status"], body["config"]["stage"]) == (0, "off", 0)
    assert body["config"]["api_key_set"] is False


def test_ask_evaluate_ask_decide(ws: Workspace, decided: tuple[Path, str, str],
                                 server: ReplayServer, torghut: CliRunner) -> None:
    # control: AI-R2 (the call, its prompt/model versions and the human's decision)
    decision = decided[2]
    enable(ws, server.url)
    w = ("-w", str(ws.root), "advisory")
    first = torghut(*w, "summarise", decision[:12], "--as", "research-agent", "--json")
    assert first.returncode == 1 and _json(first)["reason"] == "forced_off"  # unmeasured
    assert server.received == []
    status = _json(torghut(*w, "status", "--json"))
    assert status["status"] == "forced_off"
    assert "HARD_STOP_LLM_REQUESTS_BELOW_MIN" in status["reasons"][0]

    evaluated = torghut(*w, "evaluate", "--as", "research-agent", "--json")
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    report = _json(evaluated)
    assert report["passed"] and report["reliability"]["calls"] == 60
    assert report["reliability"]["agreement_rate"] == 1.0
    with open_ledger(ws) as ledger:
        (ev,) = events(ledger, EVALUATED_ACTION)
        assert ev.artifact_refs == (report["report_sha256"],)
        assert json.loads(ledger.artifacts.get(report["report_sha256"]))["passed"] is True
    assert _json(torghut(*w, "status", "--json"))["status"] == "on"

    asked = {task: torghut(*w, task, decision, "--as", "research-agent", "--json", *extra)
             for task, extra in (("summarise", ()), ("propose", ()),
                                 ("review", ("--rationale", "Clean out of sample.")))}
    outcomes = {task: (p.returncode, _json(p).get("outcome")) for task, p in asked.items()}
    assert outcomes == {"summarise": (0, "pass"), "propose": (0, "pass_through"),
                        "review": (0, "allow")}
    review_sent = server.received[-1]["messages"][1]["content"]
    assert "Clean out of sample." in review_sent and '"allowed"' not in review_sent
    call_id = _json(asked["review"])["call_id"]

    accepted = torghut(*w, "decide", call_id, "--accept", "--note", "agreed", "--as", "alice")
    assert accepted.returncode == 0, accepted.stderr
    again = torghut(*w, "decide", call_id, "--reject", "--as", "alice")
    assert again.returncode == 1 and "ADVISORY_ALREADY_DECIDED" in again.stderr
    agent = torghut(*w, "decide", call_id, "--reject", "--as", "research-agent")
    assert agent.returncode == 1 and "ADVISORY_DECIDER_NOT_HUMAN" in agent.stderr
    with open_ledger(ws) as ledger:
        calls = {e.payload["call_id"]: e for e in events(ledger, CALL_ACTION)}
        (decision_event,) = events(ledger, DECIDE_ACTION)
        refused = [e for e in events(ledger, "governance.refused")
                   if e.subject == f"advisory:{call_id}"]
    review = calls[call_id].payload
    assert calls[call_id].actor == "research-agent"
    assert (review["expected"], review["agreed"], review["context"]["decision_id"]) == (
        "allow", True, decision)
    signed = signed_action_of(decision_event)
    verify(signed, lookup(ws.gitops_dir, "alice"))  # the human's decision is signed
    assert (signed.actor, signed.payload["decision"], signed.payload["note"]) == (
        "alice", "accept", "agreed")
    assert [e.payload["code"] for e in refused] == ["ADVISORY_ALREADY_DECIDED",
                                                    "ADVISORY_DECIDER_NOT_HUMAN"]


def test_degraded_model_denies_gates_evaluate(ws: Workspace, decided: tuple[Path, str, str],
                                              server: ReplayServer,
                                              torghut: CliRunner) -> None:
    """The issue's "done when": the hard stop trips when reliability drops below policy."""
    # control: AI-R1
    enable(ws, server.url)
    w = ("-w", str(ws.root))
    assert torghut(*w, "advisory", "evaluate", "--as", "research-agent").returncode == 0
    server.degrade("malformed_content", "server_error_500", "schema_invalid")
    bad = torghut(*w, "advisory", "evaluate", "--as", "research-agent")
    assert bad.returncode == 1 and "HARD_STOP_LLM_ERROR_RATIO_ABOVE_MAX" in bad.stdout
    gate = torghut(*w, "gates", "evaluate", "--candidate", decided[1], "--target", "paper",
                   "--json", *AS_VALIDATION)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    codes = _json(gate)["reason_codes"]
    assert "HARD_STOP_LLM_ERROR_RATIO_ABOVE_MAX" in codes
    assert "HARD_STOP_LLM_SCHEMA_VALID_RATE_BELOW_MIN" in codes
    status = _json(torghut(*w, "advisory", "status", "--json"))
    assert status["status"] == "forced_off"
    # switched off, the same history blocks nothing
    enable(ws, server.url, stage=0)
    again = torghut(*w, "gates", "evaluate", "--candidate", decided[1], "--target", "paper",
                    "--json", *AS_VALIDATION)
    assert again.returncode == 0, again.stdout


def test_bad_input_is_one_line_and_changes_nothing(ws: Workspace, server: ReplayServer,
                                                   torghut: CliRunner) -> None:
    w = ("-w", str(ws.root), "advisory")
    before = tree_snapshot(ws.root / "artifacts")
    assert_one_line_error(torghut(*w, "decide", "nope", "--accept", "--as", "alice"),
                          "call_id", "no advisory call")
    assert_one_line_error(torghut(*w, "decide", "x", "--accept", "--reject", "--as", "alice"),
                          "--accept or --reject")
    assert_one_line_error(torghut(*w, "summarise", "ffffff", "--as", "research-agent"),
                          "decision")
    assert_one_line_error(torghut(*w, "summarise", "ffffff", "--as", "nobody"), "nobody")
    commit_main(ws, {ADVISORY_PATH: "stage: 1\nendpoint: http://x/v1\nmodel: m\n"
                                    "api_key: sk-live-123\n"})
    bad = torghut(*w, "status")
    assert_one_line_error(bad, "advisory.yaml", "api_key")
    commit_main(ws, {ADVISORY_PATH: "stage: '1'\n"})
    assert_one_line_error(torghut(*w, "status"), "advisory.yaml", "stage")
    assert tree_snapshot(ws.root / "artifacts") == before
