"""The promotion lane with real git, real Ed25519 signatures and a real ledger.

propose → sign-off → approve → merge, and every refusal the issue names: no passing
decision, approving as the proposer or as an agent, merging unapproved, a wrong key, a
branch changed after approval, an invalid manifest, the kill switch, two merges racing, and
a crash in the middle of a merge.

Every test that touches the ledger runs on SQLite and on PostgreSQL (when
``$TORGHUT_TEST_POSTGRES_URL`` is set; one schema per test, see tests/ledger/conftest.py).
The slow part — the research runs with a planted edge — is shared by the whole module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.gates.gate_helpers import good_paper, good_tca
from tests.lanes.lane_helpers import (
    FAST,
    count_rows,
    edge_spec,
    edge_workspace,
    kill_at,
    spawn_cli,
)
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from torghut.contracts.gates import Target
from torghut.contracts.governance import IdentityKind, Role
from torghut.gates import default_policy
from torghut.gitops.manifests import CATALOG_PATH, load_catalog
from torghut.gitops.merge import merge_branch
from torghut.gitops.pulls import PullRequestRef
from torghut.gitops.repo import commit_files, git, rev_parse, show, update_ref
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import lookup
from torghut.governance.keys import generate_key, key_path
from torghut.governance.lifecycle import State, current_state
from torghut.governance.proposals import propose_identity
from torghut.governance.refusal import Refusal
from torghut.governance.signing import verify
from torghut.lanes import promotion
from torghut.lanes.research import record_run
from torghut.lanes.validation import EvidenceFiles, evaluate_candidate
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import KillSwitchEvent, Promotion, PullRequest, PullRequestEvent
from torghut.ops import kill_switch
from torghut.research.run import ResearchRun as FinishedRun
from torghut.research.run import run_research
from torghut.workspace import Workspace


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FinishedRun]:
    return edge_workspace(tmp_path_factory.mktemp("lane") / "ws", "tsmom-edge")


@pytest.fixture(scope="module")
def second_run(source: tuple[Workspace, FinishedRun]) -> FinishedRun:
    """Another candidate's research run (same snapshot), recorded by the tests that need two."""
    return run_research(source[0], edge_spec("tsmom-edge-b"), FAST)


def _prepare(ws: Workspace, source: tuple[Workspace, FinishedRun]) -> Workspace:
    shutil.copytree(source[0].datasets_dir, ws.datasets_dir, dirs_exist_ok=True)
    return ws


@pytest.fixture
def pws(ledger_ws: Workspace, source: tuple[Workspace, FinishedRun]) -> Workspace:  # noqa: F811
    """A fresh workspace with the planted-edge snapshot; its ledger is SQLite or PostgreSQL."""
    return _prepare(ledger_ws, source)


@pytest.fixture
def book(pws: Workspace) -> Iterator[Ledger]:
    opened = open_ledger(pws)
    yield opened
    opened.close()


def _candidate(book: Ledger, run: FinishedRun, ws: Workspace, *, evaluate: bool = True) -> str:
    record_run(book, run, actor="research-agent")
    with book.read() as s:
        cid = str(s.execute(text("SELECT id FROM candidates ORDER BY created_at DESC"))
                  .scalars().first())
    if evaluate:
        evaluate_candidate(ws, book, cid, Target.PAPER, default_policy(),
                           now=datetime.now(UTC), actor="validation-agent")
    return cid


@pytest.fixture
def cid(book: Ledger, pws: Workspace, source: tuple[Workspace, FinishedRun]) -> str:
    return _candidate(book, source[1], pws)


def _last_refusal(book: Ledger) -> dict[str, object]:
    with book.read() as s:
        events = [e for e in audit.log(s) if e.action == "governance.refused"]
    return events[-1].payload if events else {}


def _expect(book: Ledger, code: str, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(Refusal) as err:
        call(*args, **kwargs)  # type: ignore[operator]
    assert err.value.code == code, err.value
    assert _last_refusal(book)["code"] == code  # audited


def _to_pr(pws: Workspace, book: Ledger, cid: str) -> promotion.Proposed:
    promotion.signoff(pws, book, cid, as_identity="validation-agent")
    return promotion.propose(pws, book, cid, as_identity="promotion-agent")


# ----------------------------------------------------------------------------- happy path


def test_propose_approve_merge_with_real_git_and_signatures(
        pws: Workspace, source: tuple[Workspace, FinishedRun]) -> None:
    ws = pws
    book = open_ledger(ws)
    try:
        cid = _candidate(book, source[1], ws)
        repo = ws.gitops_dir
        base = rev_parse(repo, "main")
        assert promotion.signoff(ws, book, cid, as_identity="validation-agent") \
            is State.VALIDATED
        pr = promotion.propose(ws, book, cid, as_identity="promotion-agent")
        assert pr.branch.startswith(f"codex/promote-{cid[:12]}-")
        assert rev_parse(repo, "main") == base  # proposing never touches main
        trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", pr.head_sha)
        assert f"Torghut-Candidate: {cid}" in trailers and "Torghut-Evidence: " in trailers
        changed = git(repo, "diff", "--name-only", base or "", pr.head_sha).split()
        assert changed == ["apps/torghut/runtime-config.yaml", CATALOG_PATH]
        assert promotion.approve(ws, book, pr.pr_id, as_identity="alice") == "approved"
        merged = promotion.merge(ws, book, pr.pr_id, as_identity="promotion-agent")
        assert rev_parse(repo, "main") == merged
        assert git(repo, "rev-parse", f"{merged}^2").strip() == pr.head_sha
        entry = {e.strategy_id: e for e in load_catalog(repo / CATALOG_PATH).strategies}
        assert entry["tsmom-edge"].enabled and entry["tsmom-edge"].mode.value == "paper"
        with book.read() as s:
            assert current_state(s, cid) is State.PAPER
            assert audit.verify(s, book.artifacts).ok
            signed = [signed_action_of(e) for e in audit.log(s)
                      if e.action in ("validation.signoff", "promotion.propose",
                                      "promotion.approve", "promotion.merge")]
        assert [a.actor for a in signed] == ["validation-agent", "promotion-agent", "alice",
                                             "promotion-agent"]
        for action in signed:  # anyone can re-verify every signature against GitOps main
            verify(action, lookup(repo, action.actor))
        assert promotion.status(ws, book, pr.pr_id)[0]["state"] == "merged"
    finally:
        book.close()


# ----------------------------------------------------------------------------- refusals


def test_no_passing_decision_refuses_signoff_and_proposal(
        pws: Workspace, book: Ledger, source: tuple[Workspace, FinishedRun]) -> None:
    cid = _candidate(book, source[1], pws, evaluate=False)
    _expect(book, "DECISION_MISSING", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")
    _expect(book, "TRANSITION_NOT_ALLOWED", promotion.propose, pws, book, cid,
            as_identity="promotion-agent")
    assert git(pws.gitops_dir, "branch", "--list", "codex/*").strip() == ""
    assert count_rows(book, PullRequest) == 0


def test_agents_and_proposers_never_approve(pws: Workspace, book: Ledger, cid: str,
                                            second_run: FinishedRun) -> None:
    pr = _to_pr(pws, book, cid)
    _expect(book, "AGENT_CANNOT_APPROVE", promotion.approve, pws, book, pr.pr_id,
            as_identity="promotion-agent")
    _expect(book, "ROLE_NOT_PERMITTED", promotion.approve, pws, book, pr.pr_id,
            as_identity="oscar")
    # A human holding both roles may propose, but not approve what they proposed.
    repo = pws.gitops_dir
    change = propose_identity(pws, "pat", IdentityKind.HUMAN, [Role.PROMOTION, Role.APPROVER])
    merge_branch(repo, PullRequestRef(change.branch, change.commit_sha), message="add pat")
    cid2 = _candidate(book, second_run, pws)
    own = _to_pr_as(pws, book, cid2, "pat")
    _expect(book, "APPROVER_IS_PROPOSER", promotion.approve, pws, book, own.pr_id,
            as_identity="pat")
    assert count_rows(book, PullRequestEvent) == 0


def _to_pr_as(pws: Workspace, book: Ledger, cid: str, proposer: str) -> promotion.Proposed:
    promotion.signoff(pws, book, cid, as_identity="validation-agent")
    return promotion.propose(pws, book, cid, as_identity=proposer)


def test_merging_unapproved_or_a_moved_head_is_refused(pws: Workspace, book: Ledger,
                                                       cid: str) -> None:
    repo = pws.gitops_dir
    pr = _to_pr(pws, book, cid)
    main = rev_parse(repo, "main")
    _expect(book, "NOT_APPROVED", promotion.merge, pws, book, pr.pr_id,
            as_identity="promotion-agent")
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    sneaky = commit_files(repo, parent=pr.head_sha, files={"x.txt": "x\n"}, message="x")
    update_ref(repo, pr.branch, sneaky, pr.head_sha)
    _expect(book, "HEAD_MOVED", promotion.merge, pws, book, pr.pr_id,
            as_identity="promotion-agent")
    assert rev_parse(repo, "main") == main


def test_a_wrong_key_is_refused(pws: Workspace, book: Ledger, cid: str) -> None:
    pr = _to_pr(pws, book, cid)
    path = key_path(pws.keys_dir, "alice")
    path.unlink()
    generate_key(pws.keys_dir, "alice")  # a key GitOps main does not know
    _expect(book, "KEY_MISMATCH", promotion.approve, pws, book, pr.pr_id, as_identity="alice")
    assert count_rows(book, PullRequestEvent) == 0


def test_an_invalid_manifest_on_main_and_the_kill_switch_block_forward_moves(
        pws: Workspace, book: Ledger, cid: str) -> None:
    promotion.signoff(pws, book, cid, as_identity="validation-agent")
    with book.write() as s:
        audit.record(s, KillSwitchEvent(action="engage", reason="drill", actor="oscar"),
                     actor="oscar", action="ops.kill_switch.engage", subject="firm")
    _expect(book, "HARD_STOP_KILL_SWITCH_ENGAGED", promotion.propose, pws, book, cid,
            as_identity="promotion-agent")
    with book.write() as s:
        audit.record(s, KillSwitchEvent(action="release", reason="drill over",
                                        actor="oscar", incident_id="inc-1"),
                     actor="oscar", action="ops.kill_switch.release", subject="firm")
    repo = pws.gitops_dir
    main = rev_parse(repo, "main")
    bad = (show(repo, CATALOG_PATH) or "").replace("enabled: false", "enabled: maybe", 1)
    update_ref(repo, "main", commit_files(repo, parent=main or "", files={CATALOG_PATH: bad},
                                          message="typo"), main)
    _expect(book, "HARD_STOP_CONFIG_INVALID", promotion.propose, pws, book, cid,
            as_identity="promotion-agent")
    assert count_rows(book, PullRequest) == 0


def test_repeated_denials_freeze_the_candidate(pws: Workspace, book: Ledger, cid: str) -> None:
    for _ in range(3):  # live without Gate 4 evidence: denied each time
        decided = evaluate_candidate(pws, book, cid, Target.LIVE, default_policy(),
                                     now=datetime.now(UTC), actor="validation-agent")
    assert decided.frozen
    with book.read() as s:
        assert current_state(s, cid) is State.FROZEN
    _expect(book, "CANDIDATE_FROZEN", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")


# ----------------------------------------------------------------------------- paper_verified


def _to_paper(pws: Workspace, book: Ledger, cid: str) -> None:
    """signoff → propose → approve → merge: the candidate runs in paper."""
    pr = _to_pr(pws, book, cid)
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    promotion.merge(pws, book, pr.pr_id, as_identity="promotion-agent")


def _paper_evidence(folder: Path, run: FinishedRun) -> EvidenceFiles:
    """Gate 2 and Gate 3 evidence for this candidate's strategy, built from the contracts
    the gate tests use (within every band of the default policy) and written as JSON."""
    spec = run.bundle.candidate
    strategy = f"{spec.strategy_type}@{spec.version}"
    files = EvidenceFiles(paper=folder / "paper.json", tca=folder / "tca.json")
    assert files.paper is not None and files.tca is not None
    files.paper.write_text(good_paper(strategy=strategy).model_dump_json())
    files.tca.write_text(good_tca(strategy=strategy).model_dump_json())
    return files


def _decide_paper(pws: Workspace, book: Ledger, cid: str,
                  evidence: EvidenceFiles = EvidenceFiles()) -> bool:
    return evaluate_candidate(pws, book, cid, Target.PAPER_VERIFIED, default_policy(),
                              now=datetime.now(UTC), actor="validation-agent",
                              evidence=evidence).report.decision.value == "allow"


def test_signoff_moves_paper_to_paper_verified_on_an_allowing_gate_2_3_decision(
        pws: Workspace, book: Ledger, cid: str, source: tuple[Workspace, FinishedRun],
        tmp_path: Path) -> None:
    _to_paper(pws, book, cid)
    assert _decide_paper(pws, book, cid, _paper_evidence(tmp_path, source[1]))
    cli = spawn_cli(pws, "validate", "signoff", cid, "--as", "validation-agent", "--json")
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, err
    assert json.loads(out) == {"candidate": cid, "state": "paper_verified"}
    with book.read() as s:
        assert current_state(s, cid) is State.PAPER_VERIFIED
        row = s.scalars(select(Promotion).order_by(Promotion.id.desc())).first()
        signed = [signed_action_of(e) for e in audit.log(s)
                  if e.action == "validation.signoff"]
        assert audit.verify(s, book.artifacts).ok
    assert row is not None and (row.actor, row.approved_mode) == ("validation-agent", "paper")
    assert [a.payload["verdict"] for a in signed] == ["validated", "paper_verified"]
    assert signed[-1].payload["decision_id"] == row.decision_id
    # Nothing further is validation's to sign: the lifecycle refuses, audited.
    _expect(book, "TRANSITION_NOT_ALLOWED", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")


def test_signoff_of_paper_needs_an_allowing_gate_2_3_decision(
        pws: Workspace, book: Ledger, cid: str) -> None:
    _to_paper(pws, book, cid)
    _expect(book, "DECISION_MISSING", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")
    assert not _decide_paper(pws, book, cid)  # no paper or TCA evidence: denied
    _expect(book, "DECISION_DENIED", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")
    with book.read() as s:
        assert current_state(s, cid) is State.PAPER


def test_signoff_of_paper_is_refused_while_the_kill_switch_is_engaged(
        pws: Workspace, book: Ledger, cid: str, source: tuple[Workspace, FinishedRun],
        tmp_path: Path) -> None:
    _to_paper(pws, book, cid)
    assert _decide_paper(pws, book, cid, _paper_evidence(tmp_path, source[1]))
    kill_switch.engage(pws, book, scope="strategy:tsmom-edge", state="reducing",
                       reason="slippage outside band", as_identity="oscar")
    _expect(book, "HARD_STOP_KILL_SWITCH_ENGAGED", promotion.signoff, pws, book, cid,
            as_identity="validation-agent")
    with book.read() as s:
        assert current_state(s, cid) is State.PAPER


# ----------------------------------------------------------------------------- races, crashes


def test_two_merges_racing_merge_once(pws: Workspace, book: Ledger, cid: str) -> None:
    pr = _to_pr(pws, book, cid)
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    procs = [spawn_cli(pws, "promote", "merge", str(pr.pr_id), "--as", "promotion-agent")
             for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [0, 1], [p.communicate() for p in procs]
    merges = git(pws.gitops_dir, "log", "--merges", "--format=%H", "main").split()
    assert len(merges) == 1
    with book.read() as s:
        events = [e.event for e in s.scalars(select(PullRequestEvent))]
        assert events.count("merged") == 1 and audit.verify(s, book.artifacts).ok


@pytest.mark.parametrize("point", ["gitops.merge.before_ref", "promote.merge.before_record"])
def test_a_crash_in_the_middle_of_a_merge_converges(pws: Workspace, book: Ledger, cid: str,
                                                     point: str) -> None:
    repo = pws.gitops_dir
    pr = _to_pr(pws, book, cid)
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    main = rev_parse(repo, "main")
    kill_at(pws, point, "promote", "merge", str(pr.pr_id), "--as", "promotion-agent")
    moved = rev_parse(repo, "main") != main
    assert moved is (point == "promote.merge.before_record")
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
    # Any promotion command converges: the merge is recorded (recovered) or can be redone.
    if moved:
        assert promotion.status(pws, book, pr.pr_id)[0]["state"] == "merged"
    else:
        promotion.merge(pws, book, pr.pr_id, as_identity="promotion-agent")
    with book.read() as s:
        assert current_state(s, cid) is State.PAPER and audit.verify(s, book.artifacts).ok
    assert len(git(repo, "log", "--merges", "--format=%H", "main").split()) == 1


@pytest.mark.parametrize("backend", ["sqlite"])  # the CLI's surface, not the ledger's
def test_cli_refusal_is_one_line_exit_1(pws: Workspace, cid: str) -> None:
    proc = spawn_cli(pws, "promote", "approve", "1", "--as", "alice")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "pull request" in err and "Traceback" not in err
    pr = spawn_cli(pws, "validate", "signoff", cid, "--as", "research-agent")
    _, err = pr.communicate(timeout=60)
    assert pr.returncode == 1 and err.startswith("error: ROLE_NOT_PERMITTED")
