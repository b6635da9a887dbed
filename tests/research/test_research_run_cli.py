"""``torghut research run`` through the real console script: success and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.research.research_helpers import research_workspace, write_candidate
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.workspace import Workspace

FAST = ("--executor", "serial", "--bootstrap-reps", "100", "--no-report")


@pytest.fixture(scope="module")
def rws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return research_workspace(tmp_path_factory.mktemp("research-cli") / "ws")


def test_run_writes_the_bundle_under_artifacts(rws: Workspace, torghut: CliRunner,
                                               tmp_path: Path) -> None:
    spec = write_candidate(tmp_path / "c.yaml", stress=[])
    proc = torghut("-w", str(rws.root), "research", "run", str(spec), *FAST, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    bundle = Path(out["bundle"])
    assert bundle.parent.parent == rws.artifacts_dir / "research"
    assert bundle.parent.name == out["candidate_hash"][:12] and out["trials"] == 3
    again = torghut("-w", str(rws.root), "research", "run", str(spec), *FAST)
    assert_one_line_error(again, "already exists", "--force")


@pytest.mark.parametrize("overrides,needles", [
    ({"split": {"kind": "expanding", "n_folds": 30, "test_bars": 250,
                "min_train_bars": 400}}, ("split", "needs", "bars")),
    ({"param_grid": {"lookback": [1, 0]}}, ("param_grid", "none of the 2")),
    ({"cost_model": "costs-v9"}, ("c.yaml", "cost_model", "costs-v9")),
    ({"execution_model": "exec-v9"}, ("execution_model", "exec-v9")),
    ({"dataset": "no-such-data"}, ("dataset", "no-such-data")),
    ({"stress": ["earthquake"]}, ("stress", "earthquake")),
    ({"universe": ["SPX", "DAX"]}, ("universe", "DAX")),
    ({"strategy_type": "nope"}, ("strategy",)),
])
def test_bad_candidates_exit_2_and_leave_nothing(rws: Workspace, torghut: CliRunner,
                                                 tmp_path: Path, overrides: dict[str, object],
                                                 needles: tuple[str, ...]) -> None:
    spec = write_candidate(tmp_path / "c.yaml", **overrides)
    before = tree_snapshot(rws.root)
    proc = torghut("-w", str(rws.root), "research", "run", str(spec), *FAST)
    assert_one_line_error(proc, *needles)
    assert tree_snapshot(rws.root) == before


def test_malformed_yaml_names_file_and_line(rws: Workspace, torghut: CliRunner,
                                            tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\nparam_grid: {lookback: [20, 60\n", encoding="utf-8")
    before = tree_snapshot(rws.root)
    proc = torghut("-w", str(rws.root), "research", "run", str(spec), *FAST)
    assert_one_line_error(proc, "bad.yaml:", "malformed YAML")
    wrong = write_candidate(tmp_path / "typed.yaml", seed="seven")
    proc = torghut("-w", str(rws.root), "research", "run", str(wrong), *FAST)
    assert_one_line_error(proc, "typed.yaml:", "seed")
    missing = torghut("-w", str(rws.root), "research", "run", str(tmp_path / "none.yaml"),
                      *FAST)
    assert_one_line_error(missing, "none.yaml", "not found")
    assert tree_snapshot(rws.root) == before
