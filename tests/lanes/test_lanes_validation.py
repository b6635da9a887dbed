"""The validation lane end to end: evaluate → record → reproduce, and every fault path.

Each test records a real research run in a fresh ledger, on SQLite and (when
``$TORGHUT_TEST_POSTGRES_URL`` is set) PostgreSQL; the run itself is computed once per module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.lanes.lane_helpers import FAST, count_rows, edge_workspace
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ledger.helpers import drop_guards
from tests.support import CliRunner, assert_one_line_error
from torghut.contracts.gates import Decision, GateReport, Target
from torghut.gates import default_policy, policy_checksum
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import lookup
from torghut.governance.signing import verify
from torghut.lanes.reproduce import Tolerance, compare, reproduce
from torghut.lanes.research import record_run
from torghut.lanes.validation import Decided, evaluate_candidate
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import GateResultRow, PromotionDecision, Trial
from torghut.research.run import ResearchRun as FinishedRun
from torghut.research.run import run_research
from torghut.workspace import Workspace

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AS = ("--as", "validation-agent")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FinishedRun]:
    """A workspace with the planted-edge snapshot and one research run that passes Gate 1."""
    return edge_workspace(tmp_path_factory.mktemp("lane") / "ws")


@pytest.fixture
def vws(ledger_ws: Workspace, source: tuple[Workspace, FinishedRun]) -> Workspace:  # noqa: F811
    """A fresh ledger (per backend) whose workspace holds the source's snapshots."""
    shutil.copytree(source[0].datasets_dir, ledger_ws.datasets_dir, dirs_exist_ok=True)
    return ledger_ws


@pytest.fixture
def book(vws: Workspace) -> Iterator[Ledger]:
    opened = open_ledger(vws)
    yield opened
    opened.close()


@pytest.fixture
def cid(book: Ledger, source: tuple[Workspace, FinishedRun]) -> str:
    record_run(book, source[1], actor="research-agent")
    with book.read() as s:
        return str(s.execute(text("SELECT id FROM candidates")).scalar_one())


def _decide(vws: Workspace, book: Ledger, cid: str, target: Target = Target.PAPER) -> Decided:
    return evaluate_candidate(vws, book, cid, target, default_policy(), now=NOW,
                              actor="validation-agent")


def _codes(decided: Decided) -> list[str]:
    return list(decided.report.reason_codes)


def _corrupt(book: Ledger, digest: str) -> None:
    path = book.artifacts.path(digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"', b"'", 1))


# ----------------------------------------------------------------------------- evaluate


def test_a_passing_candidate_is_allowed_and_every_input_is_recorded(
        vws: Workspace, book: Ledger, cid: str, source: tuple[Workspace, FinishedRun]) -> None:
    decided = _decide(vws, book, cid)
    assert decided.report.decision is Decision.ALLOW, _codes(decided)
    bundle = source[1].bundle
    h = decided.input_hashes
    assert h["policy"] == policy_checksum(default_policy())
    with book.read() as s:
        run_id = s.execute(text("SELECT id FROM research_runs")).scalar_one()
        row = s.get(PromotionDecision, decided.decision_id)
        assert row is not None and row.allowed and row.report_hash == decided.report_hash
        assert row.input_hashes == h and row.policy_checksum == h["policy"]
        gates = s.scalars(select(GateResultRow.gate_id).where(
            GateResultRow.decision_id == decided.decision_id).order_by(GateResultRow.id)).all()
        assert gates == ["gate0", "gate1", "hard_stops"]
        assert audit.verify(s, book.artifacts).ok
    assert h["bundle"] == run_id
    for name in ("quality", "bundle", "trial_family", "hard_stops", "policy"):
        assert h[name] in book.artifacts, name  # every cited input is in the store
    assert h["paper"] is None and h["tca"] is None
    stored = GateReport.model_validate_json(book.artifacts.get(decided.report_hash))
    assert stored == decided.report
    gate1 = decided.report.results[1]
    assert gate1.observations["n_trials_family"] == len(bundle.trials)
    refs = {r.kind: r.sha256 for r in gate1.artifact_refs}
    assert refs["metrics_bundle"] == run_id and refs["trial_family"] == h["trial_family"]


def test_every_recorded_trial_of_the_family_counts_against_the_next_decision(
        vws: Workspace, book: Ledger, cid: str, source: tuple[Workspace, FinishedRun]) -> None:
    first = _decide(vws, book, cid)
    rerun = run_research(source[0], source[1].bundle.candidate, FAST)
    record_run(book, rerun, actor="research-agent")  # same sweep again: a new run
    second = _decide(vws, book, cid)
    n = [d.report.results[1].observations["n_trials_family"] for d in (first, second)]
    assert n == [3, 6] and count_rows(book, Trial) == 6


def test_targets_without_their_evidence_are_denied_with_missing_codes(
        vws: Workspace, book: Ledger, cid: str) -> None:
    verified = _decide(vws, book, cid, Target.PAPER_VERIFIED)
    live = _decide(vws, book, cid, Target.LIVE)
    assert _codes(verified) == ["GATE2_EVIDENCE_MISSING", "GATE3_EVIDENCE_MISSING"]
    assert _codes(live) == ["GATE4_EVIDENCE_MISSING"]
    assert "no --live-review evidence file" in live.report.results[0].reasons[0].message
    assert count_rows(book, PromotionDecision) == 2


def test_a_missing_snapshot_denies_gate0_and_says_why(vws: Workspace, book: Ledger,
                                                      cid: str) -> None:
    shutil.rmtree(vws.datasets_dir)
    vws.datasets_dir.mkdir()
    decided = _decide(vws, book, cid)
    assert decided.report.decision is Decision.DENY
    assert _codes(decided) == ["GATE0_EVIDENCE_MISSING"]
    assert "dataset snapshot" in decided.report.results[0].reasons[0].message


def test_a_corrupted_bundle_denies_and_breaks_the_ledger_hard_stop(
        vws: Workspace, book: Ledger, cid: str) -> None:
    with book.read() as s:
        run_id = s.execute(text("SELECT id FROM research_runs")).scalar_one()
    _corrupt(book, run_id)
    decided = _decide(vws, book, cid)
    codes = _codes(decided)
    assert codes[:2] == ["GATE0_EVIDENCE_MISSING", "GATE1_EVIDENCE_MISSING"]
    assert "HARD_STOP_LEDGER_BROKEN" in codes
    assert "does not match" in decided.report.results[1].reasons[0].message
    assert decided.input_hashes["bundle"] is None and count_rows(book, PromotionDecision) == 1


def test_an_engaged_kill_switch_and_an_open_risk_incident_are_hard_stops(
        vws: Workspace, book: Ledger, cid: str) -> None:
    from torghut.ledger.models import Incident, KillSwitchEvent

    with book.write() as s:
        audit.record(s, KillSwitchEvent(action="engage", reason="drill", actor="oscar"),
                     actor="oscar", action="ops.kill_switch.engage", subject="firm")
        audit.record(s, Incident(incident_id="inc-7", incident_class="B", severity="high",
                                 status="open", summary="reject burst", evidence=[],
                                 actor="oscar"),
                     actor="oscar", action="ops.incident.open", subject="incident:inc-7")
    assert _codes(_decide(vws, book, cid)) == ["HARD_STOP_RISK_VIOLATION_UNRESOLVED",
                                               "HARD_STOP_KILL_SWITCH_ENGAGED"]


def test_an_invalid_catalog_on_main_is_a_config_hard_stop(vws: Workspace, book: Ledger,
                                                          cid: str) -> None:
    from torghut.gitops.manifests import CATALOG_PATH
    from torghut.gitops.repo import commit_files, rev_parse, show, update_ref

    repo = vws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    bad = (show(repo, CATALOG_PATH) or "").replace("version: 1.0.0", "version: 9.9.9", 1)
    update_ref(repo, "main", commit_files(repo, parent=main, files={CATALOG_PATH: bad},
                                          message="bad"), main)
    decided = _decide(vws, book, cid)
    assert _codes(decided) == ["HARD_STOP_CONFIG_INVALID"]
    assert "main:" in decided.report.results[2].reasons[0].message


# ----------------------------------------------------------------------------- reproduce


def test_a_decision_reproduces_from_the_ledger_alone(vws: Workspace, book: Ledger,
                                                     cid: str) -> None:
    decided = _decide(vws, book, cid)
    shutil.rmtree(vws.datasets_dir)  # not needed: every input is in the artifact store
    outcome = reproduce(vws, book, decided.decision_id[:10], actor="auditor")
    assert outcome.reproduced and outcome.code is None
    with book.read() as s:
        actions = [e.action for e in audit.log(s, f"candidate:{cid}")]
    assert actions[-1] == "ledger.reproduce.ok"
    assert count_rows(book, PromotionDecision) == 1


def test_a_corrupted_input_artifact_is_a_recorded_deny(vws: Workspace, book: Ledger,
                                                       cid: str) -> None:
    decided = _decide(vws, book, cid)
    _corrupt(book, decided.input_hashes["quality"])
    outcome = reproduce(vws, book, decided.decision_id)
    assert not outcome.reproduced and outcome.code == "REPRODUCE_ARTIFACT_CORRUPTED"
    with book.read() as s:
        deny = s.get(PromotionDecision, outcome.deny_decision_id)
        assert deny is not None and not deny.allowed
        assert deny.reasons == ["REPRODUCE_ARTIFACT_CORRUPTED"]
        assert deny.input_hashes["reproduces"] == decided.decision_id
        assert deny.candidate_id == cid and deny.target == "paper"


def test_an_edited_decision_row_is_caught_by_reproduce_and_by_the_next_decision(
        vws: Workspace, book: Ledger, cid: str) -> None:
    decided = _decide(vws, book, cid, Target.LIVE)
    drop_guards(book.engine, "promotion_decisions")
    with book.engine.begin() as conn:
        conn.execute(text("UPDATE promotion_decisions SET allowed = :t WHERE id = :i"),
                     {"t": True, "i": decided.decision_id})
    outcome = reproduce(vws, book, decided.decision_id)
    assert outcome.code == "REPRODUCE_LEDGER_ROW_MODIFIED"
    assert "HARD_STOP_LEDGER_BROKEN" in _codes(_decide(vws, book, cid))


def test_rerun_re_executes_the_research_and_matches_every_metric(
        vws: Workspace, book: Ledger, cid: str) -> None:
    decided = _decide(vws, book, cid)
    outcome = reproduce(vws, book, decided.decision_id, rerun=True)
    assert outcome.reproduced, outcome
    shutil.rmtree(vws.datasets_dir)
    vws.datasets_dir.mkdir()
    missing = reproduce(vws, book, decided.decision_id, rerun=True)
    assert missing.code == "REPRODUCE_RERUN_FAILED" and "synth-edge" in missing.message


def test_compare_reports_each_leaf_beyond_tolerance() -> None:
    recorded = {"a": 1.0, "b": [1, 2.0], "c": "x", "d": {"e": None}}
    tol = Tolerance(rel=1e-9, abs=1e-12)
    assert compare(recorded, {"a": 1.0 + 1e-13, "b": [1, 2.0], "c": "x", "d": {"e": None}},
                   tol) == []
    diff = compare(recorded, {"a": 1.001, "b": [1, 2.0, 3], "c": "y", "d": {"e": 0.0}}, tol)
    assert [m.path for m in diff] == ["a", "b.length", "c", "d.e"]
    assert compare({"n": 1}, {"n": True}, tol)[0].path == "n"  # bool is not an int here


# ----------------------------------------------------------------------------- the CLI


def test_cli_exit_codes_json_and_show(vws: Workspace, book: Ledger, cid: str,
                                      torghut: CliRunner) -> None:
    allow = torghut("-w", str(vws.root), "gates", "evaluate", "--candidate", cid[:8],
                    "--target", "paper", "--json", *AS)
    assert allow.returncode == 0, allow.stderr
    body = json.loads(allow.stdout)
    assert body["allowed"] and body["reason_codes"] == []
    assert Path(body["report_dir"], "report.md").read_text().startswith("# Gate report")
    deny = torghut("-w", str(vws.root), "gates", "evaluate", "--candidate", cid,
                   "--target", "live", *AS)
    assert deny.returncode == 1 and "GATE4_EVIDENCE_MISSING" in deny.stdout
    shown = torghut("-w", str(vws.root), "gates", "show", body["decision_id"][:12])
    assert shown.returncode == 0 and "**Decision: ALLOW**" in shown.stdout
    again = torghut("-w", str(vws.root), "ledger", "reproduce", body["decision_id"], "--json",
                    *AS)
    assert again.returncode == 0 and json.loads(again.stdout)["reproduced"] is True
    with book.read() as s:  # each request is signed and recorded with what it produced
        signed = [signed_action_of(e) for e in audit.log(s)
                  if e.action == "validation.evaluate"]
    assert [(a.actor, a.subject) for a in signed] == [
        ("validation-agent", f"candidate:{cid}"), ("validation-agent", f"candidate:{cid}"),
        ("validation-agent", f"decision:{body['decision_id']}")]
    for action in signed:
        verify(action, lookup(vws.gitops_dir, action.actor))


def test_cli_evaluating_needs_the_validation_role(vws: Workspace, book: Ledger, cid: str,
                                                 torghut: CliRunner) -> None:
    refused = torghut("-w", str(vws.root), "gates", "evaluate", "--candidate", cid,
                      "--target", "paper", "--as", "research-agent")
    assert refused.returncode == 1 and "ROLE_NOT_PERMITTED" in refused.stderr
    assert count_rows(book, PromotionDecision) == 0
    with book.read() as s:
        assert [e.action for e in audit.log(s)][-1] == "governance.refused"


def test_cli_bad_input_is_one_line_and_records_nothing(
        vws: Workspace, book: Ledger, cid: str, torghut: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("gate1:\n  min_folds: '4'\n")
    ws = ("-w", str(vws.root))
    assert_one_line_error(torghut(*ws, "gates", "evaluate", "--candidate", cid,
                                  "--target", "paper", "--policy", str(bad), *AS),
                          f"{bad}:2", "gate1.min_folds")
    assert_one_line_error(torghut(*ws, "gates", "evaluate", "--candidate", "nope",
                                  "--target", "paper", *AS), "candidate")
    paper = tmp_path / "paper.json"
    paper.write_text('{"strategy": 3}')
    assert_one_line_error(torghut(*ws, "gates", "evaluate", "--candidate", cid,
                                  "--target", "paper_verified", "--paper", str(paper), *AS),
                          str(paper))
    assert_one_line_error(torghut(*ws, "ledger", "reproduce", "feedfacefeed", *AS), "decision")
    assert count_rows(book, PromotionDecision) == 0


def test_sigkill_while_recording_a_decision_leaves_the_ledger_consistent(
        vws: Workspace, book: Ledger, cid: str) -> None:
    env = {**os.environ, "TORGHUT_FAILPOINT": "gates.decision.recording"}
    env.pop("TORGHUT_WORKSPACE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "torghut.cli.main", "-w", str(vws.root), "gates", "evaluate",
         "--candidate", cid, "--target", "paper", *AS],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the decision row and its audit event are written
    assert "failpoint gates.decision.recording reached" in line, line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert count_rows(book, PromotionDecision) == 0 and count_rows(book, GateResultRow) == 0
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
    decided = _decide(vws, book, cid)  # the writer lock died with the process
    assert decided.report.decision is Decision.ALLOW and count_rows(book, GateResultRow) == 3
