"""``torghut backtest`` through the real console entry, in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import assert_one_line_error, run_torghut, tree_snapshot
from torghut.data.sample import build_samples
from torghut.workspace import Workspace


def torghut(*args: str) -> subprocess.CompletedProcess[str]:
    return run_torghut(*args)


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from torghut.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("bt") / "ws")
    build_samples(ws)
    return ws


def test_backtest_json_and_report(sample_ws: Workspace, tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = torghut("-w", str(sample_ws.root), "backtest", "--strategy", "sma_crossover@1.0.0",
                   "--params", '{"fast": 20, "slow": 60}', "--dataset",
                   "sample-us-indices-1d", "--cost-model", "costs-pessimistic", "--json",
                   "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cost_model"]["model_id"] == "costs-pessimistic"
    assert out["metrics"]["trade_count"] > 0
    assert sorted(p.name for p in report.iterdir()) == [
        "drawdown.png", "equity.png", "monthly_returns.png", "report.md"]
    text = (report / "report.md").read_text()
    assert "sma_crossover@1.0.0" in text and "![equity](equity.png)" in text
    assert (report / "equity.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "needle"), [
    (["--execution-model", "exec-v9"], "--execution-model"),
    (["--cost-model", "costs-v9"], "--cost-model"),
    (["--strategy", "nope@1.0.0"], "nope"),
    (["--dataset", "missing-dataset"], "missing-dataset"),
    (["--params", "{bad"], "--params"),
    (["--capital", "-5"], "--capital"),
])
def test_bad_input_exits_2_with_one_line(sample_ws: Workspace, args: list[str],
                                         needle: str) -> None:
    base = {"--strategy": "sma_crossover@1.0.0", "--dataset": "sample-us-indices-1d"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = tree_snapshot(sample_ws.root)
    flat = [x for kv in base.items() for x in kv]
    proc = torghut("-w", str(sample_ws.root), "backtest", *flat, "--report",
                   str(sample_ws.root / "rep"))
    assert_one_line_error(proc, needle)
    assert tree_snapshot(sample_ws.root) == before
