"""Recording research runs in the ledger, and the trial family Gate 1 deflates by.

Ledger tests run on SQLite, and on PostgreSQL when ``$TORGHUT_TEST_POSTGRES_URL`` is set
(the fixtures of ``tests/ledger/conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.lanes.lane_helpers import count_rows
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ledger.helpers import use_ledger_url
from tests.research.research_helpers import candidate, research_workspace, write_candidate
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.contracts.candidates import CandidateSpec
from torghut.errors import NotFoundError, TorghutError
from torghut.lanes.research import bundle_artifact, candidate_id, record_run, trial_family
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import (
    AuditEventRow,
    Candidate,
    FoldMetric,
    ResearchRun,
    StressMetric,
    Trial,
)
from torghut.research.run import ResearchRun as FinishedRun
from torghut.research.run import RunOptions, run_research
from torghut.workspace import Workspace

FAST = RunOptions(executor="serial", bootstrap_reps=100)
CLI_FAST = ("--executor", "serial", "--bootstrap-reps", "100", "--no-report")


@pytest.fixture(scope="module")
def rws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return research_workspace(tmp_path_factory.mktemp("lanes-research") / "ws")


@pytest.fixture(scope="module")
def runs(rws: Workspace) -> tuple[FinishedRun, FinishedRun]:
    """The same candidate run twice: same trials, a different run (its clock differs)."""
    spec = CandidateSpec.model_validate(candidate())
    return run_research(rws, spec, FAST), run_research(rws, spec, FAST)


@pytest.fixture
def book(ledger_ws: Workspace) -> Iterator[Ledger]:  # noqa: F811
    """The workspace ledger on each backend (named apart from the imported fixtures)."""
    opened = open_ledger(ledger_ws)
    yield opened
    opened.close()


def test_a_recorded_run_holds_every_row_and_the_chain_verifies(
        book: Ledger, runs: tuple[FinishedRun, FinishedRun]) -> None:
    run = runs[0]
    b = run.bundle
    run_id = record_run(book, run, actor="research-agent")
    assert book.artifacts.get(run_id) == bundle_artifact(b)
    assert json.loads(book.artifacts.get(run_id))["inputs"]["candidate_hash"] == \
        b.inputs.candidate_hash
    n_stress = len(b.stress.scenarios) if b.stress else 0
    assert n_stress == 2
    counts = {m: count_rows(book, m) for m in (ResearchRun, Trial, Candidate, FoldMetric,
                                             StressMetric, AuditEventRow)}
    assert counts == {ResearchRun: 1, Trial: len(b.trials), Candidate: 1,
                      FoldMetric: len(b.folds), StressMetric: n_stress,
                      AuditEventRow: 2 + len(b.trials) + len(b.folds) + n_stress}
    with book.read() as s:
        row = s.get(ResearchRun, run_id)
        assert row is not None and row.bundle_hash == run_id
        assert (row.strategy_type, row.dataset_id, row.seed) == ("tsmom", b.inputs.dataset_id, 7)
        trials = s.scalars(select(Trial).order_by(Trial.id)).all()
        assert [t.params_hash for t in trials] == [t.params_hash for t in b.trials]
        assert [t.return_series_hash for t in trials] == [t.returns_sha256 for t in b.trials]
        cand = s.get(Candidate, candidate_id(run_id, b))
        assert cand is not None and cand.spec_hash == b.inputs.candidate_hash
        chosen = s.get(Trial, cand.trial_id)
        assert chosen is not None
        assert chosen.params_hash == b.trials[b.selected_trial].params_hash
        folds = s.scalars(select(FoldMetric).order_by(FoldMetric.fold_order)).all()
        assert [f.net_pnl for f in folds] == [f.net_pnl for f in b.folds]
        events = audit.log(s)
        assert all(e.artifact_refs == (run_id,) for e in events)
        assert {e.ref_table for e in events} == {"research_runs", "trials", "candidates",
                                                 "fold_metrics", "stress_metrics"}
        report = audit.verify(s, book.artifacts)
    assert report.ok and report.events == counts[AuditEventRow]


def test_recording_the_same_run_twice_is_refused_and_changes_nothing(
        book: Ledger, runs: tuple[FinishedRun, FinishedRun]) -> None:
    record_run(book, runs[0], actor="research-agent")
    before = count_rows(book, AuditEventRow), count_rows(book, Trial)
    with pytest.raises(TorghutError, match="already recorded"):
        record_run(book, runs[0], actor="research-agent")
    assert (count_rows(book, AuditEventRow), count_rows(book, Trial)) == before


def test_one_run_family_matches_the_bundle_statistics(
        book: Ledger, runs: tuple[FinishedRun, FinishedRun]) -> None:
    b = runs[0].bundle
    record_run(book, runs[0], actor="research-agent")
    with book.read() as s:
        family = trial_family(s, "tsmom")
    assert family.n_trials == len(b.trials) == b.statistics.n_trials_run
    assert family.var_trial_sharpe == pytest.approx(b.statistics.var_trial_sharpe, rel=1e-12)


def test_rerunning_a_sweep_costs_its_trials_again(
        book: Ledger, runs: tuple[FinishedRun, FinishedRun]) -> None:
    first, second = runs
    ids = [record_run(book, r, actor="research-agent") for r in runs]
    assert ids[0] != ids[1]
    with book.read() as s:
        family = trial_family(s, "tsmom")
        recorded = s.scalars(select(Trial.sharpe).order_by(Trial.id)).all()
        with pytest.raises(NotFoundError, match="meanrev"):
            trial_family(s, "meanrev")
    n = len(first.bundle.trials)
    assert family.n_trials == 2 * n == len(second.bundle.trials) + n
    sharpes = [0.0 if v is None else v for v in recorded]
    assert family.var_trial_sharpe == pytest.approx(float(np.var(sharpes, ddof=1)),
                                                    rel=1e-12)
    expected = [t.evaluation.sharpe or 0.0 for r in runs for t in r.bundle.trials]
    assert sharpes == pytest.approx(expected, rel=1e-15)


# ---------------------------------------------------------------------------------- CLI


def test_the_cli_records_each_run_and_counts_reruns(rws: Workspace, torghut: CliRunner,
                                                    tmp_path: Path) -> None:
    spec = write_candidate(tmp_path / "c.yaml", stress=["spread_x2"])
    out = tmp_path / "out"
    args = ("-w", str(rws.root), "research", "run", str(spec), "--out", str(out), *CLI_FAST)
    first = torghut(*args, "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    again = torghut(*args, "--force")
    assert again.returncode == 0, again.stderr
    assert "Recorded run" in again.stdout
    ledger = open_ledger(rws)
    try:
        with ledger.read() as s:
            row = s.get(ResearchRun, summary["run_id"])
            assert row is not None and row.bundle_hash == summary["run_id"]
            assert s.get(Candidate, summary["candidate_id"]) is not None
            family = trial_family(s, "tsmom")
        assert family.n_trials == 2 * summary["trials"] == 6
    finally:
        ledger.close()
    verify = torghut("-w", str(rws.root), "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["ok"] is True


def test_an_unusable_ledger_fails_before_anything_is_written(torghut: CliRunner,
                                                             tmp_path: Path) -> None:
    ws = research_workspace(tmp_path / "ws")
    use_ledger_url(ws, "mysql://nobody@localhost/torghut")
    spec = write_candidate(tmp_path / "c.yaml", stress=[])
    before = tree_snapshot(ws.root)
    proc = torghut("-w", str(ws.root), "research", "run", str(spec), *CLI_FAST)
    assert_one_line_error(proc, "ledger.url", "mysql")
    assert tree_snapshot(ws.root) == before
