"""``torghut ops rollback``: one commit restoring apps/torghut, signed, audited (FIA-6).

Real git (a promotion merge made with ``merge_branch``), the ledger's audit chain verified
after every change, on SQLite and on PostgreSQL (``$TORGHUT_TEST_POSTGRES_URL``, one schema
per test). The real CLI runs in a subprocess where its surface is under test (output, exit
codes) and where a process is killed; the rest calls the library in-process, as the CLI
does, to keep the two-backend matrix fast.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.lanes.lane_helpers import kill_at
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ops.ops_helpers import (
    candidate_in_paper,
    commit_on_main,
    main_sha,
    promotion_merge,
    tracked,
)
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.errors import NotFoundError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.repo import commit_files, git, rev_parse, show, update_ref
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import lookup
from torghut.governance.lifecycle import State, current_state
from torghut.governance.refusal import Refusal
from torghut.governance.signing import verify
from torghut.lanes import promotion
from torghut.ledger import audit, open_ledger
from torghut.ledger.audit import AuditEvent
from torghut.ops import rollback as rollback_mod
from torghut.ops.drift import desired_config
from torghut.workspace import Workspace

# control: FIA-6

FAILPOINT = "ops.rollback.before_record"


@pytest.fixture
def ows(ledger_ws: Workspace) -> Workspace:  # noqa: F811
    """A fresh workspace whose ledger is SQLite or PostgreSQL (the ``backend`` param)."""
    return ledger_ws


def _rollback(torghut: CliRunner, ws: Workspace, *args: str,
              who: str = "oscar") -> subprocess.CompletedProcess[str]:
    return torghut("-w", str(ws.root), "ops", "rollback", *args, "--as", who)


def _roll(ws: Workspace, *, who: str = "oscar", **kwargs: Any) -> rollback_mod.RolledBack:
    """What ``torghut ops rollback`` does, in-process (recovery first, unless a dry run)."""
    with open_ledger(ws) as ledger:
        if not kwargs.get("dry_run"):
            promotion.recover(ws, ledger)
        return rollback_mod.rollback(ws, ledger, as_identity=who, **kwargs)


def _events(ws: Workspace) -> list[AuditEvent]:
    with open_ledger(ws) as ledger, ledger.read() as s:
        assert audit.verify(s, ledger.artifacts).ok
        return audit.log(s)


def _actions(ws: Workspace) -> list[str]:
    return [e.action for e in _events(ws)]


def _state(ws: Workspace, cid: str) -> State:
    with open_ledger(ws) as ledger, ledger.read() as s:
        return current_state(s, cid)


# ----------------------------------------------------------------------------- dry run


def test_dry_run_proves_the_rollback_and_changes_nothing(ows: Workspace) -> None:
    ws = ows
    merged = promotion_merge(ws)
    before_actions, before = _actions(ws), tree_snapshot(ws.gitops_dir)
    done = _roll(ws, last_approved=True, dry_run=True).to_json()
    assert done["dry_run"] and done["commit"] is None and done["target"] == merged.before
    assert done["files"] == {CATALOG_PATH: "restored"} and done["disabled"] == ["tsmom"]
    assert done["undone_pull_requests"] == [1]
    assert tree_snapshot(ws.gitops_dir) == before and main_sha(ws) == merged.merge
    assert _actions(ws) == before_actions


def test_cli_dry_run_prints_the_plan(ws: Workspace, torghut: CliRunner) -> None:
    merged = promotion_merge(ws)
    proc = _rollback(torghut, ws, "--last-approved", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dry_run"] and out["target"] == merged.before and out["disabled"] == ["tsmom"]
    text = _rollback(torghut, ws, "--last-approved", "--dry-run")
    assert text.returncode == 0 and "disabled: tsmom" in text.stdout
    assert "dry run" in text.stdout and main_sha(ws) == merged.merge


# ----------------------------------------------------------------------------- rollback


def test_last_approved_restores_the_pre_merge_config_in_one_commit(
        ows: Workspace, torghut: CliRunner) -> None:
    ws = ows
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
    event = _events(ws)[-1]
    assert event.action == "ops.rollback" and event.payload["outcome"]["commit"] == new
    # The commit carries the very signed action the ledger holds (crash recovery reads it).
    (carried,) = [c for c in rollback_mod.rollback_commits(repo) if c.sha == new]
    assert rollback_mod.decode_signed(carried.signed) == signed_action_of(event)
    with pytest.raises(Refusal, match="NOTHING_TO_ROLL_BACK"):
        _roll(ws, last_approved=True)
    assert main_sha(ws) == new


def test_candidates_whose_merge_is_undone_are_rolled_back(ows: Workspace) -> None:
    ws = ows
    merged = promotion_merge(ws, pr_id=1)
    cid = candidate_in_paper(ws, 1, merged.merge)
    done = _roll(ws, to=merged.before[:10])
    assert done.rolled_back == (cid,) and done.commit == main_sha(ws)
    assert _state(ws, cid) is State.ROLLED_BACK
    event = [e for e in _events(ws) if e.action == "ops.rollback"][-1]
    assert event.payload["outcome"]["commit"] == main_sha(ws)
    assert event.payload["outcome"]["rolled_back_candidates"] == [cid]
    assert event.payload["signed_action"]["actor"] == "oscar"
    assert "recovered_by" not in event.payload["outcome"]


@pytest.mark.parametrize("who", ["promotion-agent", "alice"])
def test_non_operations_identities_are_refused_and_nothing_changes(
        ows: Workspace, who: str) -> None:
    ws = ows
    merged = promotion_merge(ws)
    before = tree_snapshot(ws.gitops_dir)
    with pytest.raises(Refusal) as refused:
        _roll(ws, last_approved=True, who=who)
    assert refused.value.code == "ROLE_NOT_PERMITTED" and refused.value.exit_code == 1
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


def test_a_target_that_does_not_validate_is_refused(ows: Workspace) -> None:
    ws, repo = ows, ows.gitops_dir
    good = show(repo, CATALOG_PATH)
    assert good is not None
    bad = commit_on_main(ws, {CATALOG_PATH: good.replace("enabled: false", "enabled: maybe",
                                                         1)}, "a type mismatch\n")
    fixed = commit_on_main(ws, {CATALOG_PATH: good}, "fix\n")
    before = tree_snapshot(repo)
    for dry_run in (True, False):
        with pytest.raises(Refusal) as refused:
            _roll(ws, to=bad, dry_run=dry_run)
        assert refused.value.code == "ROLLBACK_CONFIG_INVALID"
        assert f"{bad[:12]}:apps/torghut/strategy-catalog.yaml" in str(refused.value)
    assert main_sha(ws) == fixed and tree_snapshot(repo) == before
    assert _actions(ws)[-2:] == ["governance.refused", "governance.refused"]


def test_main_moving_during_the_rollback_is_a_race(ows: Workspace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent writer moves main between building the commit and publishing it."""
    ws = ows
    merged = promotion_merge(ws)
    real = commit_files

    def commit_then_race(repo: Path, **kwargs: Any) -> str:
        sha = real(repo, **kwargs)
        commit_on_main(ws, {"docs/RACE.md": "won\n"}, "concurrent writer\n")
        return sha

    monkeypatch.setattr(rollback_mod, "commit_files", commit_then_race)
    with pytest.raises(Refusal, match="ROLLBACK_RACE"):
        _roll(ws, last_approved=True)
    assert show(ws.gitops_dir, "docs/RACE.md") == "won\n"
    assert rev_parse(ws.gitops_dir, "main~1") == merged.merge
    assert _actions(ws)[-1] == "governance.refused"


# ----------------------------------------------------------------------------- crashes


class Crash(BaseException):
    """Stands in for the process dying at a fail point (no handler may catch it)."""


def _crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def failpoint(name: str) -> None:
        if name == point:
            raise Crash(name)

    monkeypatch.setattr(rollback_mod, "failpoint", failpoint)


def _rollbacks(ws: Workspace) -> list[AuditEvent]:
    return [e for e in _events(ws) if e.action.startswith("ops.rollback")]


def _assert_recorded_once(ws: Workspace, commit: str, cid: str, target: str) -> AuditEvent:
    """One signed ``ops.rollback`` for ``commit`` that re-verifies; the candidate moved."""
    (event,) = _rollbacks(ws)
    assert event.action == "ops.rollback" and event.payload["outcome"]["commit"] == commit
    assert event.payload["outcome"]["recovered_by"] == rollback_mod.RECOVERY_ACTOR
    assert event.payload["outcome"]["rolled_back_candidates"] == [cid]
    signed = signed_action_of(event)
    assert (signed.actor, signed.payload["target"], signed.payload["base"]) == (
        "oscar", target, rev_parse(ws.gitops_dir, f"{commit}^1"))
    verify(signed, lookup(ws.gitops_dir, "oscar"))
    assert _state(ws, cid) is State.ROLLED_BACK
    return event


def _next_command(ws: Workspace, entry: str) -> None:
    """The next rollback, merge or status call, each of which recovers first."""
    with open_ledger(ws) as ledger:
        if entry == "status":
            promotion.status(ws, ledger)
        elif entry == "merge":
            with pytest.raises(NotFoundError):  # recovery runs before the lookup
                promotion.merge(ws, ledger, 99, as_identity="promotion-agent")
    if entry == "rollback":
        with pytest.raises(Refusal, match="NOTHING_TO_ROLL_BACK"):
            _roll(ws, last_approved=True)


@pytest.mark.parametrize("entry", ["status", "merge", "rollback"])
def test_a_crash_after_main_moved_is_recorded_by_the_next_command(
        ows: Workspace, monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    ws = ows
    merged = promotion_merge(ws, pr_id=1)
    cid = candidate_in_paper(ws, 1, merged.merge)
    _crash_at(monkeypatch, FAILPOINT)
    with pytest.raises(Crash):
        _roll(ws, last_approved=True)
    new = main_sha(ws)
    assert new != merged.merge and tracked(ws.gitops_dir, new) == tracked(ws.gitops_dir,
                                                                          merged.before)
    assert _rollbacks(ws) == [] and _state(ws, cid) is State.PAPER  # the ledger lags
    _next_command(ws, entry)
    _assert_recorded_once(ws, new, cid, merged.before)
    for again in ("status", "rollback"):  # exactly once, however many commands follow
        _next_command(ws, again)
    _assert_recorded_once(ws, new, cid, merged.before)


def test_a_killed_rollback_is_recovered_exactly_once(ows: Workspace,
                                                    torghut: CliRunner) -> None:
    ws = ows
    merged = promotion_merge(ws, pr_id=1)
    cid = candidate_in_paper(ws, 1, merged.merge)
    kill_at(ws, FAILPOINT, "ops", "rollback", "--last-approved", "--as", "oscar")
    new = main_sha(ws)
    assert new != merged.merge and rev_parse(ws.gitops_dir, f"{new}^1") == merged.merge
    assert _rollbacks(ws) == [] and _state(ws, cid) is State.PAPER
    proc = _rollback(torghut, ws, "--last-approved")  # the next rollback recovers first
    assert proc.returncode == 1 and "NOTHING_TO_ROLL_BACK" in proc.stderr, proc.stderr
    event = _assert_recorded_once(ws, new, cid, merged.before)
    with open_ledger(ws) as ledger:
        promotion.status(ws, ledger)
    assert _rollbacks(ws) == [event] and main_sha(ws) == new


def test_a_rollback_commit_that_does_not_verify_moves_nothing(ows: Workspace) -> None:
    """Trailers anyone with git access can write are not a signature: a hand-made rollback
    commit, one carrying another commit's signed action, or a second commit replaying a
    recorded one, is recorded once as unverified and moves no candidate."""
    ws, repo = ows, ows.gitops_dir
    merged = promotion_merge(ws, pr_id=1)
    cid = candidate_in_paper(ws, 1, merged.merge)
    restore = {CATALOG_PATH: show(repo, CATALOG_PATH, merged.before)}
    forged = commit_on_main(ws, restore, f"Rollback by hand\n\nTorghut-Rollback: "
                            f"{merged.before}\nTorghut-Operator: oscar\n")
    real = _roll(ws, to=merged.merge).commit  # undo the hand-made one, properly signed
    assert real is not None
    message = git(repo, "log", "-1", "--format=%B", real)
    (trailer,) = [c.signed for c in rollback_mod.rollback_commits(repo) if c.sha == real]
    moved = commit_on_main(ws, restore, f"Moved\n\nTorghut-Rollback: {merged.before}\n"
                           f"Torghut-Operator: oscar\nTorghut-Signed-Action: {trailer}\n")
    # The same rollback made again beside the real one (same parent, tree and signed
    # action), then merged into main's history.
    twin = commit_files(repo, parent=forged, files={CATALOG_PATH: show(repo, CATALOG_PATH,
                                                                        real)},
                        message=message.replace("Rollback", "Rollback again", 1))
    tip = main_sha(ws)
    merge = git(repo, "commit-tree", f"{tip}^{{tree}}", "-p", tip, "-p", twin, "-m",
                "merge").strip()
    update_ref(repo, "main", merge, tip)
    for _ in range(2):
        with open_ledger(ws) as ledger:
            promotion.status(ws, ledger)
    events = _rollbacks(ws)
    recorded = {e.payload.get("commit") or e.payload["outcome"]["commit"]:
                (e.action, e.payload.get("code")) for e in events}
    assert len(events) == len(recorded) == 4
    assert recorded == {forged: ("ops.rollback.unverified", "ROLLBACK_UNSIGNED"),
                        real: ("ops.rollback", None),
                        moved: ("ops.rollback.unverified", "ROLLBACK_MISMATCH"),
                        twin: ("ops.rollback.unverified", "SIGNATURE_REUSED")}
    assert _state(ws, cid) is State.PAPER  # nothing verified undid its merge
