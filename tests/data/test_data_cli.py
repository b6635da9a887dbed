"""``torghut data`` end to end: success paths in process, bad input via the console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support import CliRunner as Subprocess
from tests.support import assert_one_line_error, tree_snapshot
from torghut.cli.main import app
from torghut.contracts import QualityReport
from torghut.data.importers import import_file
from torghut.workspace import Workspace, init_workspace

CSV = """timestamp,symbol,open,high,low,close,volume
2020-01-02,AAA,10,11,9.5,10.5,1000
2020-01-02,BBB,20,21,19.5,20.5,2000
2020-01-03,AAA,10.5,10.8,10.1,10.2,1200
2020-01-03,BBB,20.5,20.8,20.1,20.2,2200
2020-01-06,AAA,10.2,10.9,10.0,10.7,900
2020-01-06,BBB,20.2,20.9,20.0,20.7,1900
"""


@pytest.fixture(scope="module")
def pair_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str, Path]:
    """A workspace holding one imported snapshot, shared by the bad-input cases."""
    tmp = tmp_path_factory.mktemp("bad-input")
    ws = init_workspace(tmp / "ws")
    (tmp / "ok.csv").write_text(CSV)
    (tmp / "t.yaml").write_text("max_null_rate: lots\n")
    (tmp / "broken.yaml").write_text("max_null_rate: [1,\n")
    manifest, _ = import_file(ws, tmp / "ok.csv")
    return ws, manifest.dataset_id, tmp


def run_in_process(*args: str) -> Result:
    """Success paths and exit code 1 run in process (fast); exit code 2 needs ``run``."""
    return CliRunner().invoke(app, list(args))


def _json(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_list_show_check(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "pair.csv"
    path.write_text(CSV)
    w = ("-w", str(ws.root))
    [first] = _json(run_in_process(*w, "data", "import", str(path), "--name", "pair", "--json"))
    [second] = _json(run_in_process(*w, "data", "import", str(path), "--json"))
    assert first["created"] and not second["created"]
    assert first["dataset_id"] == second["dataset_id"] and first["symbols"] == ["AAA", "BBB"]
    listed = _json(run_in_process(*w, "data", "list", "--json"))
    assert [m["name"] for m in listed] == ["pair"]
    shown = _json(run_in_process(*w, "data", "show", first["dataset_id"][:8], "--json"))
    assert shown["manifest"]["dataset_id"] == first["dataset_id"]
    assert shown["symbols"][0] == {"symbol": "AAA", "rows": 3,
                                   "first": "2020-01-02T00:00:00+00:00",
                                   "last": "2020-01-06T00:00:00+00:00"}
    out = tmp_path / "gate0.json"
    checked = run_in_process(*w, "data", "check", "pair", "--json", "--out", str(out))
    report = QualityReport.model_validate(_json(checked))
    assert report.passed and report.dataset_id == first["dataset_id"]
    assert QualityReport.model_validate_json(out.read_text()) == report
    human = run_in_process(*w, "data", "list")
    assert human.exit_code == 0 and "pair" in human.stdout
    shown_human = run_in_process(*w, "data", "show", "pair")
    assert shown_human.exit_code == 0 and first["dataset_id"] in shown_human.stdout
    assert "2020-01-06T00:00:00+00:00" in shown_human.stdout


def test_check_exit_codes_follow_the_findings(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "pair.csv"
    path.write_text(CSV)
    w = ("-w", str(ws.root))
    assert run_in_process(*w, "data", "import", str(path), "--name", "pair").exit_code == 0
    stale = run_in_process(*w, "data", "check", "pair", "--as-of", "2020-01-09", "--json")
    assert stale.exit_code == 1
    report = QualityReport.model_validate_json(stale.stdout)
    assert {f.code for f in report.findings} == {"STALE_DATA"}
    narrow = run_in_process(*w, "data", "check", "pair", "--universe", "AAA,ZZZ")
    assert narrow.exit_code == 1 and "SYMBOL_COVERAGE" in narrow.stdout
    thresholds = tmp_path / "lenient.yaml"
    thresholds.write_text("min_symbol_coverage: 0.5\n")
    lenient = run_in_process(*w, "data", "check", "pair", "--universe", "AAA,ZZZ",
                      "--thresholds", str(thresholds))
    assert lenient.exit_code == 0, lenient.stdout


def test_sample_is_idempotent_and_passes_gate0(ws: Workspace) -> None:
    w = ("-w", str(ws.root))
    [built] = _json(run_in_process(*w, "data", "sample", "--json"))
    before = tree_snapshot(ws.root)
    [again] = _json(run_in_process(*w, "data", "sample", "--json"))
    assert built["created"] and not again["created"]
    assert again["dataset_id"] == built["dataset_id"]
    assert tree_snapshot(ws.root) == before
    assert built["name"] == "sample-us-indices-1d" and built["symbols"] == ["IXIC", "SPX"]
    checked = run_in_process(*w, "data", "check", "sample-us-indices-1d")
    assert checked.exit_code == 0 and "PASS" in checked.stdout


def test_synth_same_args_same_id(ws: Workspace) -> None:
    args = ("-w", str(ws.root), "data", "synth", "--symbols", "3", "--bars", "400",
            "--timeframe", "15m", "--seed", "42", "--regimes", "--planted-edge", "1.5",
            "--json")
    [first] = _json(run_in_process(*args))
    [second] = _json(run_in_process(*args))
    assert first["created"] and not second["created"]
    assert first["dataset_id"] == second["dataset_id"]
    assert first["name"] == "synth-15m-3x400-seed42-regimes-edge1.5"
    assert run_in_process("-w", str(ws.root), "data", "check", first["name"]).exit_code == 0


@pytest.mark.parametrize(("args", "needles"), [
    (("show", "feedbeef"), ("no dataset 'feedbeef'", "dataset")),
    (("check", "nothing-here"), ("no dataset 'nothing-here'",)),
    (("check", "{ID}", "--as-of", "yesterday-ish"), ("as-of", "not an ISO 8601 time")),
    (("check", "{ID}", "--universe", " , "), ("universe", "empty universe")),
    (("check", "{ID}", "--thresholds", "{TMP}/t.yaml"), ("t.yaml", "max_null_rate")),
    (("check", "{ID}", "--thresholds", "{TMP}/broken.yaml"), ("broken.yaml", "malformed YAML")),
    (("check", "{ID}", "--thresholds", "{TMP}/absent.yaml"), ("absent.yaml", "file not found")),
    (("synth", "--symbols", "2", "--bars", "1", "--seed", "1"), ("bars", "at least 2")),
    (("synth", "--symbols", "2", "--bars", "50", "--seed", "1", "--timeframe", "3m"),
     ("timeframe", "unknown timeframe")),
    (("synth", "--symbols", "2", "--bars", "50", "--seed", "1", "--calendar", "MOON"),
     ("calendar", "unknown trading calendar")),
    (("synth", "--symbols", "2", "--bars", "50", "--seed", "1", "--name", "no spaces"),
     ("name", "invalid dataset name")),
    (("import", "{TMP}/missing.csv", "--symbol", "X"), ("missing.csv", "file not found")),
    (("import", "{TMP}", "--symbol", "X"), ("cannot read",)),
    (("check", "{ID}", "--out", "{TMP}/ok.csv/report.json"), ("report.json", "cannot write")),
    (("import", "{TMP}/ok.csv", "--calendar", "MOON"), ("calendar", "unknown trading calendar")),
])
def test_bad_input_is_one_line_and_changes_nothing(pair_ws: tuple[Workspace, str, Path],
                                                   torghut: Subprocess, args: tuple[str, ...],
                                                   needles: tuple[str, ...]) -> None:
    ws, dataset_id, tmp_path = pair_ws
    before = tree_snapshot(ws.root)
    argv = [a.replace("{ID}", dataset_id).replace("{TMP}", str(tmp_path)) for a in args]
    proc = torghut("-w", str(ws.root), "data", *argv)
    assert_one_line_error(proc, *needles)
    assert tree_snapshot(ws.root) == before
    assert [p.name for p in ws.datasets_dir.iterdir()] == [dataset_id]
