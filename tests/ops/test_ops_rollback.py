"""``torghut ops rollback``: one commit restoring apps/torghut, signed, audited (FIA-6).

Real git (a promotion merge made with ``merge_branch``), the real CLI in a subprocess, the
ledger's audit chain verified after every change.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ops.ops_helpers import commit_on_main, main_sha, promotion_merge, tracked
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.repo import commit_files, git, rev_parse, show, update_ref
from torghut.governance.lifecycle import State, current_state, transition
from torghut.governance.refusal import Refusal
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import Candidate, PullRequest, PullRequestEvent, ResearchRun
from torghut.ops import rollback as rollback_mod
from torghut.ops.drift import desired_config
from torghut.workspace import Workspace

# control: FIA-6


def _rollback(torghut: CliRunner, ws: Workspace, *args: str,
              who: str = "oscar") -> subprocess.CompletedProcess[str]:
    return torghut("-w", str(ws.root), "ops", "rollback", *args, "--as", who)


def _actions(ws: Workspace) -> list[str]:
    ledger = open_ledger(ws)
    try:
        with ledger.read() as s:
            assert audit.verify(s, ledger.artifacts).ok
            return [e.action for e in audit.log(s)]
    finally:
        ledger.close()


def test_dry_run_proves_the_rollback_and_changes_nothing(ws: Workspace,
                                                         torghut: CliRunner) -> None:
    merged = promotion_merge(ws)
    before_actions = _actions(ws)
    before = tree_snapshot(ws.gitops_dir)
    proc = _rollback(torghut, ws, "--last-approved", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dry_run"] and out["commit"] is None and out["target"] == merged.before
    assert out["files"] == {CATALOG_PATH: "restored"} and out["disabled"] == ["tsmom"]
    assert out["undone_pull_requests"] == [1]
    assert tree_snapshot(ws.gitops_dir) == before and main_sha(ws) == merged.merge
    assert _actions(ws) == before_actions
    text = _rollback(torghut, ws, "--last-approved", "--dry-run")
    assert text.returncode == 0 and "disabled: tsmom" in text.stdout
    assert "dry run" in text.stdout


def test_last_approved_restores_the_pre_merge_config_in_one_commit(
        ws: Workspace, torghut: CliRunner) -> None:
    merged = promotion_merge(ws)
    other = commit_on_main(ws, {"docs/NOTES.md": "kept\n"}, "notes outside apps/torghut\n")
    proc = _rollback(torghut, ws, "--last-approved", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    repo, new = ws.gitops_dir, main_sha(ws)
    assert out["commit"] == new and out["checkout_synced"]
    assert git(repo, "rev-list", "--parents", "-n", "1", new).split() == [new, other]
    assert tracked(repo, new) == tracked(repo, merged.before)
    assert show(repo, "docs/NOTES.md", new) == "kept\n"
    enabled = {s.strategy_id for s in desired_config(repo).catalog.strategies if s.enabled}
    assert enabled == set()
    assert (repo / CATALOG_PATH).read_text() == show(repo, CATALOG_PATH, merged.before)
    message = git(repo, "log", "-1", "--format=%B", new)
    assert message.startswith(f"Rollback apps/torghut to {merged.before[:12]}")
    assert f"Torghut-Rollback: {merged.before}" in message
    assert "Torghut-Operator: oscar" in message
    assert git(repo, "status", "--porcelain").strip() == ""
    assert _actions(ws)[-1] == "ops.rollback"
    again = _rollback(torghut, ws, "--last-approved")
    assert again.returncode == 1 and "NOTHING_TO_ROLL_BACK" in again.stderr
    assert main_sha(ws) == new


def _candidate_in_paper(ws: Workspace, pr_id: int, merge_sha: str) -> str:
    """A candidate promoted to paper by pull request ``pr_id`` (rows as the lanes write)."""
    cid, now = "c" * 64, datetime.now(UTC)
    ledger = open_ledger(ws)
    try:
        with ledger.write() as s:
            for row, action in (
                (ResearchRun(id="r" * 64, strategy_type="tsmom", strategy_version="1.0.0",
                             code_version="test", feature_schema_version="1.0",
                             dataset_id="d", execution_model_id="e", cost_model_id="c",
                             runner_version="1", seed=0, status="finished", started_at=now),
                 "research.run"),
                (Candidate(id=cid, run_id="r" * 64, strategy_type="tsmom",
                           strategy_version="1.0.0", params={}, decision_count=1,
                           trade_count=1, symbols=["SPX"], universe="SPX",
                           spec_hash="a" * 64), "research.candidate"),
                (PullRequest(id=pr_id, provider="local", kind="promotion", candidate_id=cid,
                             target="paper", branch="codex/promote-tsmom", base_sha="0" * 40,
                             head_sha="1" * 40, title="Promote tsmom", body_sha256="b" * 64,
                             proposer="promotion-agent"), "promotion.pr.open"),
                (PullRequestEvent(pull_request_id=pr_id, event="merged", actor="test",
                                  head_sha="1" * 40, merge_sha=merge_sha, reasons=[]),
                 "promotion.pr.merged")):
                audit.record(s, row, actor="test", action=action, subject="setup")
            for state in (State.VALIDATED, State.PR_OPEN, State.APPROVED, State.PAPER):
                transition(s, cid, state, actor="test")
    finally:
        ledger.close()
    return cid


def test_candidates_whose_merge_is_undone_are_rolled_back(ws: Workspace,
                                                          torghut: CliRunner) -> None:
    merged = promotion_merge(ws, pr_id=1)
    cid = _candidate_in_paper(ws, 1, merged.merge)
    proc = _rollback(torghut, ws, "--to", merged.before[:10], "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rolled_back_candidates"] == [cid]
    ledger = open_ledger(ws)
    try:
        with ledger.read() as s:
            assert current_state(s, cid) is State.ROLLED_BACK
            event = [e for e in audit.log(s) if e.action == "ops.rollback"][-1]
    finally:
        ledger.close()
    assert event.payload["outcome"]["commit"] == main_sha(ws)
    assert event.payload["signed_action"]["actor"] == "oscar"


@pytest.mark.parametrize("who", ["promotion-agent", "alice"])
def test_non_operations_identities_are_refused_and_nothing_changes(
        ws: Workspace, torghut: CliRunner, who: str) -> None:
    merged = promotion_merge(ws)
    before = tree_snapshot(ws.gitops_dir)
    proc = _rollback(torghut, ws, "--last-approved", who=who)
    assert proc.returncode == 1 and "ROLE_NOT_PERMITTED" in proc.stderr, proc.stderr
    assert main_sha(ws) == merged.merge and tree_snapshot(ws.gitops_dir) == before
    assert _actions(ws)[-1] == "governance.refused"


def test_a_ref_outside_mains_history_is_bad_input(ws: Workspace, torghut: CliRunner) -> None:
    merged = promotion_merge(ws)
    repo = ws.gitops_dir
    stray = commit_files(repo, parent=merged.before, files={"x.txt": "x\n"}, message="stray\n")
    update_ref(repo, "side", stray, None)
    assert_one_line_error(_rollback(torghut, ws, "--to", "side"), "--to",
                          "not in main's history")
    assert_one_line_error(_rollback(torghut, ws, "--to", "no-such-ref"), "no such commit")
    assert_one_line_error(_rollback(torghut, ws, "--to", "side", "--last-approved"),
                          "exactly one of")
    assert main_sha(ws) == merged.merge


def test_a_target_that_does_not_validate_is_refused(ws: Workspace, torghut: CliRunner) -> None:
    repo = ws.gitops_dir
    good = show(repo, CATALOG_PATH)
    assert good is not None
    bad = commit_on_main(ws, {CATALOG_PATH: good.replace("enabled: false", "enabled: maybe",
                                                         1)}, "a type mismatch\n")
    fixed = commit_on_main(ws, {CATALOG_PATH: good}, "fix\n")
    before = tree_snapshot(repo)
    proc = _rollback(torghut, ws, "--to", bad, "--dry-run")
    assert proc.returncode == 1 and "ROLLBACK_CONFIG_INVALID" in proc.stderr, proc.stderr
    assert f"{bad[:12]}:apps/torghut/strategy-catalog.yaml" in proc.stderr
    proc = _rollback(torghut, ws, "--to", bad)
    assert proc.returncode == 1 and "ROLLBACK_CONFIG_INVALID" in proc.stderr
    assert main_sha(ws) == fixed and tree_snapshot(repo) == before
    assert _actions(ws)[-2:] == ["governance.refused", "governance.refused"]


def test_main_moving_during_the_rollback_is_a_race(ws: Workspace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent writer moves main between building the commit and publishing it."""
    merged = promotion_merge(ws)
    real = commit_files

    def commit_then_race(repo: Path, **kwargs: object) -> str:
        sha = real(repo, **kwargs)  # type: ignore[arg-type]
        commit_on_main(ws, {"docs/RACE.md": "won\n"}, "concurrent writer\n")
        return sha

    monkeypatch.setattr(rollback_mod, "commit_files", commit_then_race)
    ledger = open_ledger(ws)
    try:
        with pytest.raises(Refusal, match="ROLLBACK_RACE"):
            rollback_mod.rollback(ws, ledger, last_approved=True, as_identity="oscar")
    finally:
        ledger.close()
    assert show(ws.gitops_dir, "docs/RACE.md") == "won\n"
    assert rev_parse(ws.gitops_dir, "main~1") == merged.merge
    assert _actions(ws)[-1] == "governance.refused"
