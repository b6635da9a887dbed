"""Research runs on real and synthetic snapshots, through the real simulator and plugins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.research.research_helpers import candidate, research_workspace
from torghut.contracts import MetricsBundle
from torghut.contracts.candidates import CandidateSpec
from torghut.errors import TorghutError
from torghut.research.bundle import bundle_json, write_run
from torghut.research.evidence import returns_sha256
from torghut.research.grid import params_hash
from torghut.research.run import ResearchRun, RunOptions, run_research
from torghut.workspace import Workspace

FAST = RunOptions(executor="serial", bootstrap_reps=200)


@pytest.fixture(scope="module")
def rws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return research_workspace(tmp_path_factory.mktemp("research") / "ws")


@pytest.fixture(scope="module")
def sample_run(rws: Workspace) -> ResearchRun:
    return run_research(rws, CandidateSpec.model_validate(candidate()), FAST)


def test_sample_run_records_every_trial_and_fold(sample_run: ResearchRun) -> None:
    b = sample_run.bundle
    assert [t.params["lookback"] for t in b.trials] == [20, 60, 120]
    assert b.inputs.dataset_id != "sample-us-indices-1d" and len(b.inputs.dataset_id) == 64
    assert len(b.folds) == 4 and b.statistics.n_trials == 3
    for i, trial in enumerate(b.trials):
        assert trial.params_hash == params_hash(trial.params)
        assert trial.returns_sha256 == returns_sha256(sample_run.returns[i])
        assert len(trial.fold_train_sharpe) == 4
        assert trial.p_value <= trial.p_holm <= 1.0
    for fold in b.folds:
        # Selection happened on the train window only, and ties went to the lowest id.
        train = [b.trials[i].fold_train_sharpe[fold.index] or -np.inf for i in range(3)]
        assert fold.selected_trial == int(np.argmax(train))
        assert fold.train.last < fold.test.first and fold.test.n_bars == 250
        assert fold.gross_pnl == pytest.approx(fold.net_pnl + fold.costs)
        assert fold.regime in {"high_vol", "trend_up", "trend_down", "range"}
    # The OOS record is the concatenation of the chosen trials' test-window returns.
    pieces = [sample_run.returns[f.selected_trial, f.test.first:f.test.last + 1]
              for f in b.folds]
    np.testing.assert_array_equal(sample_run.oos_returns, np.concatenate(pieces))
    assert b.statistics.oos.n_obs == 1000
    assert b.stress is not None and [s.name for s in b.stress.scenarios] == [
        "spread_x2", "rejection_burst"]
    assert b.stress.scenarios[0].metrics.spread_cost > b.selected_metrics.spread_cost


def test_bundle_round_trips_and_is_deterministic(rws: Workspace, sample_run: ResearchRun,
                                                 tmp_path: Path) -> None:
    again = run_research(rws, CandidateSpec.model_validate(candidate()),
                         RunOptions(executor="local", workers=2, bootstrap_reps=200))
    assert again.bundle.stable_json() == sample_run.bundle.stable_json()
    assert again.bundle.run.executor == "local"
    path = write_run(sample_run, tmp_path / "out")
    text = path.read_text()
    assert text == bundle_json(sample_run.bundle)
    assert MetricsBundle.model_validate(json.loads(text)) == sample_run.bundle
    assert {p.name for p in path.parent.iterdir()} == {
        "bundle.json", "report.md", "equity.png", "pbo_logits.png", "sensitivity.png"}
    assert "| expanding-00 |" in (path.parent / "report.md").read_text()
    with pytest.raises(TorghutError, match="already exists"):
        write_run(sample_run, tmp_path / "out")
    write_run(again, tmp_path / "out", force=True)
    assert json.loads(path.read_text())["run"]["executor"] == "local"


def test_planted_edge_is_found_out_of_sample(rws: Workspace) -> None:
    spec = candidate(dataset="synth-edge", universe=["SYN000", "SYN001"], stress=[],
                     param_grid={"lookback": [5, 20, 80]})
    b = run_research(rws, CandidateSpec.model_validate(spec), FAST).bundle
    s = b.statistics
    assert s.oos.sharpe_annual is not None and s.oos.sharpe_annual > 1.0
    assert s.psr is not None and s.psr > 0.95
    assert s.dsr is not None and 0.8 < s.dsr < s.psr  # deflation costs, the edge survives
    assert b.stress is None


def test_noise_with_a_large_grid_looks_overfit(rws: Workspace) -> None:
    grid = {"lookback": list(range(4, 64, 4)), "allow_short": [True, False]}
    spec = candidate(dataset="synth-noise", universe=["SYN000"], stress=[], param_grid=grid)
    b = run_research(rws, CandidateSpec.model_validate(spec),
                     RunOptions(executor="local", workers=2, bootstrap_reps=200)).bundle
    s = b.statistics
    assert len(b.trials) == 30 and s.pbo is not None
    assert s.pbo.pbo > 0.3
    assert s.dsr is not None and s.dsr < 0.5
    assert s.reality_check_pvalue is not None and s.reality_check_pvalue > 0.05


def test_cpcv_stitches_paths(rws: Workspace) -> None:
    spec = candidate(split={"kind": "cpcv", "n_groups": 5, "k_test_groups": 2,
                            "purge_bars": 1, "embargo_bars": 5}, stress=[])
    run = run_research(rws, CandidateSpec.model_validate(spec), FAST)
    s = run.bundle.statistics
    assert len(run.bundle.folds) == 10 and len(s.cpcv_path_sharpes) == 4
    assert s.oos.n_obs == run.returns.shape[1] - run.bundle.evaluation.warmup_bars
    assert s.oos.sharpe == pytest.approx(sorted(s.cpcv_path_sharpes)[1], rel=1e-12)  # median


def test_explicit_n_trials_deflates_harder(rws: Workspace, sample_run: ResearchRun) -> None:
    spec = CandidateSpec.model_validate(candidate(stress=[]))
    more = run_research(rws, spec, RunOptions(executor="serial", bootstrap_reps=200,
                                              n_trials=500)).bundle.statistics
    base = sample_run.bundle.statistics
    assert more.n_trials == 500 and more.n_trials_run == 3
    assert more.expected_max_sharpe > base.expected_max_sharpe
    assert more.dsr is not None and base.dsr is not None and more.dsr < base.dsr
    with pytest.raises(TorghutError, match="at least the 3 trials"):
        run_research(rws, spec, RunOptions(executor="serial", n_trials=2))
