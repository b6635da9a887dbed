"""`torghut demo --fast` end to end in a temporary workspace (real git; the ledger on SQLite,
and on PostgreSQL when ``$TORGHUT_TEST_POSTGRES_URL`` is set).

Every exit criterion is asserted by querying the ledger and the GitOps repo — never by
reading what the demo printed — and a second run on the same workspace must resume (no
step redone, no trial counted twice) with the audit chain still intact.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from sqlalchemy import func, select

from tests.lanes.lane_helpers import kill_at
from tests.ledger.conftest import BACKENDS, _pg_schema_url, pg_database  # noqa: F401
from tests.support import assert_one_line_error, run_torghut, tree_snapshot
from torghut.demo import run_demo
from torghut.demo.drill import CANCELS_ACTION
from torghut.demo.paper import BAD_ENTRY
from torghut.demo.plan import APPROVER, OPERATOR, OVERFIT, RESERVE
from torghut.demo.runner import STEP_ACTION
from torghut.demo.state import DEMO_DIR, STATE_FILE
from torghut.errors import TorghutError
from torghut.gitops.repo import git, is_ancestor
from torghut.governance.identities import load_identities
from torghut.governance.lifecycle import current_state
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import (
    Candidate,
    Incident,
    KillSwitchEvent,
    OrderEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
    ResearchRun,
    Trial,
)
from torghut.ops import kill_switch as ops_kill
from torghut.ops.audit_verify import verify_pack
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION, desired_config_sha256
from torghut.ops.drift import DRIFT_CHECKED_ACTION
from torghut.workspace import Workspace, init_workspace


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=160)


@pytest.fixture(scope="module", params=BACKENDS)
def demo_ws(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The whole demo once per ledger backend (SQLite; PostgreSQL when configured)."""
    url = None
    if request.param == "postgresql":
        url = _pg_schema_url(request.getfixturevalue("pg_database"))
    root = tmp_path_factory.mktemp("demo") / "ws"
    assert run_demo(root, plan="fast", console=_quiet(), ledger_url=url) is True
    ws = Workspace.load(root)
    assert ws.settings.ledger.url == (url or "sqlite:///ledger.db")
    return ws


@pytest.fixture(scope="module")
def book(demo_ws: Workspace) -> Ledger:
    ledger = open_ledger(demo_ws)
    yield ledger  # type: ignore[misc]
    ledger.close()


def _state(ws: Workspace) -> dict:
    return json.loads((ws.root / DEMO_DIR / STATE_FILE).read_text())


def _candidates(ws: Workspace) -> dict[str, dict]:
    return _state(ws)["steps"]["research"]["result"]["candidates"]


def _promoted(ws: Workspace) -> list[str]:
    return [n for n, c in _candidates(ws).items() if c["allowed"] and n != RESERVE]


def test_identities_on_main(demo_ws: Workspace) -> None:
    ids = {i.name: i for i in load_identities(demo_ws.gitops_dir).identities}
    assert {ids[n].kind.value for n in ("research-agent", "validation-agent",
                                        "promotion-agent")} == {"agent"}
    assert ids[APPROVER].kind.value == "human" and ids[OPERATOR].kind.value == "human"


def test_candidates_came_through_agent_runs(demo_ws: Workspace, book: Ledger) -> None:
    with book.read() as s:
        finished = [e for e in audit.log(s) if e.action == "agentrun.finished"]
        ids = set(s.scalars(select(Candidate.id)))
    lanes = {e.payload["lane"]: [] for e in finished}
    for e in finished:
        assert e.payload["status"] == "succeeded" and e.actor == "research-agent"
        lanes[e.payload["lane"]].append(e.payload["outputs"])
    names = {n for out in lanes["research-intake"] for n in out["candidate_names"]}
    assert {c["strategy_id"] for c in _candidates(demo_ws).values()} == names
    researched = {out["candidate_id"] for out in lanes["backtest-robustness"]}
    assert {c["candidate_id"] for c in _candidates(demo_ws).values()} == researched == ids


def test_gate1_passes_three_families_and_rejects_the_overfit_sweep(
        demo_ws: Workspace, book: Ledger) -> None:
    cands = _candidates(demo_ws)
    with book.read() as s:
        rows = s.execute(select(Candidate.strategy_type, PromotionDecision.allowed,
                                PromotionDecision.reasons, Candidate.id)
                         .join(PromotionDecision, PromotionDecision.candidate_id == Candidate.id)
                         .where(PromotionDecision.target == "paper")).all()
        overfit_trials = s.scalar(select(func.count()).select_from(Trial).where(
            Trial.strategy_type == "legacy_macd_rsi"))
    assert len({r.strategy_type for r in rows if r.allowed}) >= 3
    overfit = [r for r in rows if r.id == cands[OVERFIT]["candidate_id"]]
    assert overfit and not any(r.allowed for r in overfit)
    codes = {c for r in overfit for c in r.reasons}
    assert any(c.startswith("GATE1_DSR_") for c in codes)
    assert any(c.startswith("GATE1_PBO_") for c in codes)
    assert overfit_trials >= 50  # a large sweep, every trial recorded


def test_promotions_are_codex_prs_approved_by_a_human_and_merged(
        demo_ws: Workspace, book: Ledger) -> None:
    repo = demo_ws.gitops_dir
    cands = _candidates(demo_ws)
    promoted = _promoted(demo_ws)
    assert len(promoted) >= 3
    with book.read() as s:
        for name in promoted:
            pr = s.scalars(select(PullRequest).where(
                PullRequest.candidate_id == cands[name]["candidate_id"])).one()
            assert pr.branch.startswith("codex/promote-")
            assert git(repo, "rev-parse", f"refs/heads/{pr.branch}").strip() == pr.head_sha
            events = list(s.scalars(select(PullRequestEvent).where(
                PullRequestEvent.pull_request_id == pr.id)))
            assert [e.actor for e in events if e.event == "approved"] == [APPROVER]
            merged = [e.merge_sha for e in events if e.event == "merged"]
            assert len(merged) == 1 and merged[0] and is_ancestor(repo, merged[0], "main")
            parents = git(repo, "rev-list", "--parents", "-n", "1", merged[0]).split()
            assert parents[2] == pr.head_sha  # a real merge commit of the approved head


def test_lifecycle_states(demo_ws: Workspace, book: Ledger) -> None:
    cands = _candidates(demo_ws)
    with book.read() as s:
        states = {n: current_state(s, c["candidate_id"]).value for n, c in cands.items()}
        history = {n: [p.state for p in s.scalars(select(Promotion).where(
            Promotion.candidate_id == c["candidate_id"]).order_by(Promotion.id))]
            for n, c in cands.items()}
    for name in _promoted(demo_ws):
        assert history[name][:5] == ["validated", "pr_open", "approved", "paper",
                                     "paper_verified"]
    assert sorted(states[n] for n in _promoted(demo_ws)).count("rolled_back") == 1
    assert states[RESERVE] == "validated" and states[OVERFIT] == "proposed"


def test_bad_hand_edit_disabled_then_reverted(demo_ws: Workspace, book: Ledger) -> None:
    with book.read() as s:
        applied = [e for e in audit.log(s) if e.action == RUNTIME_APPLIED_ACTION]
    bad = [x for e in applied for x in e.payload["entries"] if x["strategy_id"] == BAD_ENTRY]
    ids = {_candidates(demo_ws)[n]["strategy_id"] for n in _promoted(demo_ws)}
    assert bad and not bad[0]["enabled"] and "lookback" in bad[0]["reason"]
    others = [x for e in applied if any(y["strategy_id"] == BAD_ENTRY
                                        for y in e.payload["entries"])
              for x in e.payload["entries"] if x["strategy_id"] in ids]
    assert others and all(x["enabled"] for x in others)  # only the bad entry went off
    text = git(demo_ws.gitops_dir, "show", "main:apps/torghut/strategy-catalog.yaml")
    assert BAD_ENTRY not in text


def test_kill_switch_drill(demo_ws: Workspace, book: Ledger) -> None:
    with book.read() as s:
        kills = list(s.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id)))
        incidents = list(s.scalars(select(Incident).order_by(Incident.id)))
        events = audit.log(s)
        rows = list(s.scalars(select(OrderEvent).where(
            OrderEvent.session_id.startswith("drill-")).order_by(OrderEvent.id)))
    incident = incidents[0].incident_id
    timeline = [i.status for i in incidents if i.incident_id == incident]
    assert timeline[0] == "open" and len(timeline) >= 4 and timeline[-1] == "closed"
    engage = [k for k in kills if k.action == "engage" and k.trigger == "MANUAL"]
    assert engage and engage[0].scope == "firm" and engage[0].state == "halted"
    assert engage[0].incident_id == incident
    assert kills[-1].action == "release" and kills[-1].incident_id == incident
    assert kills[-1].reason and kills[-1].actor == OPERATOR
    cancels = [e.payload for e in events if e.action == CANCELS_ACTION]
    assert cancels and cancels[0]["requested"]
    assert sorted(cancels[0]["acknowledged"]) == sorted(cancels[0]["requested"])
    # RTS-28: each cancel and its acknowledgement are order-event rows, the ack last
    for order_id in cancels[0]["requested"]:
        mine = [(r.event, r.status, r.code) for r in rows if r.order_id == order_id]
        assert ("cancel_requested", "working", "KILL_SWITCH:firm") in mine
        assert mine[-1] == ("cancel_ack", "cancelled", "KILL_SWITCH:firm")
    refused = [e.payload for e in events if e.action == "governance.refused"]
    assert any(p["code"] == "HARD_STOP_KILL_SWITCH_ENGAGED" for p in refused)


def test_rollback_converges_and_drift_is_clean(demo_ws: Workspace, book: Ledger) -> None:
    repo = demo_ws.gitops_dir
    trailers = git(repo, "log", "main", "--format=%(trailers:key=Torghut-Rollback,valueonly)")
    assert trailers.strip()  # the rollback commit is on main
    with book.read() as s:
        events = audit.log(s)
    applied = [e for e in events if e.action == RUNTIME_APPLIED_ACTION]
    drift = [e for e in events if e.action == DRIFT_CHECKED_ACTION]
    desired = desired_config_sha256(repo)
    assert applied[-1].payload["config_sha256"] == desired
    assert drift and drift[-1].payload["in_sync"] is True


def test_audit_chain_reproductions_and_pack(demo_ws: Workspace, book: Ledger) -> None:
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
        events = audit.log(s)
        decisions = s.scalar(select(func.count()).select_from(PromotionDecision).where(
            PromotionDecision.id.not_in(select(PromotionDecision.id).where(
                PromotionDecision.reasons.is_(None)))))
    ok = [e for e in events if e.action == "ledger.reproduce.ok"]
    assert ok and len(ok) == decisions
    assert not [e for e in events if e.action.startswith("ledger.reproduce.")
                and e.action != "ledger.reproduce.ok"]
    pack = Path(_state(demo_ws)["steps"]["audit"]["result"]["pack"]["path"])
    assert verify_pack(pack) == []


def test_rerun_resumes_without_redoing_anything(demo_ws: Workspace, book: Ledger) -> None:
    with book.read() as s:
        runs = s.scalar(select(func.count()).select_from(ResearchRun))
        steps = [e for e in audit.log(s) if e.action == STEP_ACTION]
    assert run_demo(demo_ws.root, plan="fast", console=_quiet()) is True
    with book.read() as s:
        assert s.scalar(select(func.count()).select_from(ResearchRun)) == runs
        assert [e for e in audit.log(s) if e.action == STEP_ACTION] == steps
        assert audit.verify(s, book.artifacts).ok


def test_criteria_are_read_from_the_ledger_not_the_state_file(demo_ws: Workspace,
                                                               book: Ledger) -> None:
    """An operator engages the kill switch after the demo: the re-run reports the release
    criterion broken (exit criteria are re-read), and holds again once released."""
    incident = _state(demo_ws)["steps"]["drill"]["result"]["incident"]
    ops_kill.engage(demo_ws, book, scope="firm", state="halted", reason="after the demo",
                    as_identity=OPERATOR)
    try:
        assert run_demo(demo_ws.root, plan="fast", console=_quiet()) is False
    finally:
        ops_kill.release(demo_ws, book, scope="firm", reason="checked", incident_id=incident,
                         as_identity=OPERATOR)
    assert run_demo(demo_ws.root, plan="fast", console=_quiet()) is True


def test_other_flavour_or_foreign_workspace_is_refused(demo_ws: Workspace,
                                                       tmp_path: Path) -> None:
    with pytest.raises(TorghutError, match="fast"):
        run_demo(demo_ws.root, plan="full", console=_quiet())
    foreign = init_workspace(tmp_path / "mine")
    with pytest.raises(TorghutError, match="did not create"):
        run_demo(foreign.root, plan="fast", console=_quiet())
    assert not (foreign.root / DEMO_DIR).exists()


def test_a_crash_after_a_step_resumes_without_repeating_it(tmp_path: Path) -> None:
    """SIGKILL the real CLI after the promotion step acted but before it was recorded; the
    next run redoes nothing the ledger already holds (no second PR, merge or research run)."""
    root = tmp_path / "crash"
    kill_at(SimpleNamespace(root=root), "demo.promote.before_record",  # type: ignore[arg-type]
            "demo", "--fast")
    ws = Workspace.load(root)
    with open_ledger(ws) as ledger, ledger.read() as s:
        prs = s.scalar(select(func.count()).select_from(PullRequest))
        runs = s.scalar(select(func.count()).select_from(ResearchRun))
    assert prs and prs >= 3
    assert "promote" not in _state(ws)["steps"]
    assert run_demo(root, plan="fast", console=_quiet()) is True
    with open_ledger(ws) as ledger, ledger.read() as s:
        assert s.scalar(select(func.count()).select_from(PullRequest)) == prs
        assert s.scalar(select(func.count()).select_from(ResearchRun)) == runs
        assert audit.verify(s, ledger.artifacts).ok


def test_cli_refuses_a_foreign_workspace_in_one_line(tmp_path: Path) -> None:
    foreign = init_workspace(tmp_path / "mine")
    before = tree_snapshot(foreign.root)
    proc = run_torghut("demo", "--workspace", str(foreign.root), "--fast")
    assert_one_line_error(proc, "did not create")
    assert tree_snapshot(foreign.root) == before  # nothing in the workspace changed
