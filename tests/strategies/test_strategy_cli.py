"""``torghut strategy ...`` and ``torghut signals``.

Exit codes and error output go through the real console script in a subprocess, and so do
user plugins, discovered the way an installed distribution would be: a module plus a
``*.dist-info`` folder with ``entry_points.txt`` on PYTHONPATH. Successful runs on the
sample snapshot are also driven in-process (typer's runner), which keeps the suite quick.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner as TyperRunner
from typer.testing import Result

from tests.strategies.strategy_helpers import LYING_BATCH, plugin_source, write_distribution
from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.cli.main import app
from torghut.contracts import StrategyCatalog, StrategyDefinition
from torghut.data.sample import build_samples
from torghut.gitops.manifests import CATALOG_PATH, render_catalog_configmap
from torghut.strategies.registry import Registry
from torghut.strategies.runner import batch_exposures, snapshot_feature_set
from torghut.strategies.sdk import validate_params
from torghut.workspace import Workspace, init_workspace

SAMPLE = "sample-us-indices-1d"


def invoke(*args: str) -> Result:
    """Run the CLI in-process (success paths only; errors need the real console script)."""
    return TyperRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = init_workspace(tmp_path_factory.mktemp("strategy-cli") / "ws")
    build_samples(ws)
    return ws


@pytest.fixture(scope="module")
def user_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PYTHONPATH env for a distribution with a good, a refused and a lying plugin."""
    site = tmp_path_factory.mktemp("site")
    write_distribution(site, "user_trend_plugin", plugin_source("user_trend", extra=LYING_BATCH),
                       {"user_trend-1.0.0": "user_trend_plugin:EmaTrend",
                        "liar-1.0.0": "user_liar_plugin:Liar"})
    (site / "user_liar_plugin.py").write_text(
        "from user_trend_plugin import LyingBatch\n\n\nclass Liar(LyingBatch):\n"
        "    strategy_type = 'liar'\n")
    write_distribution(site, "user_sneaky_plugin",
                       plugin_source("sneaky", prelude="import socket"),
                       {"sneaky-1.0.0": "user_sneaky_plugin:EmaTrend"})
    return {"PYTHONPATH": str(site)}


def test_list_shows_builtins_user_plugins_and_refusals(torghut: CliRunner,
                                                       user_site: dict[str, str]) -> None:
    proc = torghut("strategy", "list", "--json", env=user_site)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert set(rows) == {"legacy_macd_rsi@1.0.0", "mean_reversion@1.0.0", "tsmom@1.0.0",
                         "vol_breakout@1.0.0", "sma_crossover@1.0.0", "user_trend@1.0.0",
                         "liar@1.0.0",
                         "sneaky@1.0.0"}
    user = rows["user_trend@1.0.0"]
    assert user["status"] == "ready" and user["warmup_bars"] == 3
    assert user["source"] == "entry point user_trend-1.0.0 = user_trend_plugin:EmaTrend"
    assert user["params"]["scale"] == {"type": "float", "default": 1.0, "gt": 0, "le": 1}
    sneaky = rows["sneaky@1.0.0"]
    assert sneaky["status"] == "disabled" and "params" not in sneaky
    assert sneaky["reasons"][0].startswith("STATIC_CHECK: ")
    assert "user_sneaky_plugin.py:3: imports 'socket'" in sneaky["reasons"][0]
    human = torghut("strategy", "list", env=user_site)
    assert human.returncode == 0 and "sneaky@1.0.0" in human.stdout
    assert "STATIC_CHECK" in human.stdout


def test_conformance_exit_codes_for_user_plugins(torghut: CliRunner,
                                                 user_site: dict[str, str]) -> None:
    good = torghut("strategy", "conformance", "user_trend@1.0.0", "--json", env=user_site)
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads(good.stdout)
    assert report["passed"] and report["datasets"] == [SAMPLE]
    assert [c["name"] for c in report["checks"] if c["passed"]] == [
        "params_validation", "determinism", "warmup_boundary", "missing_features",
        "stale_features", "parity", "sandbox", "latency"]
    liar = torghut("strategy", "conformance", "liar@1.0.0", env=user_site)
    assert liar.returncode == 1, liar.stdout + liar.stderr
    assert "FAIL  parity" in liar.stdout and "batch 0.0 vs streaming" in liar.stdout
    assert "liar@1.0.0 on sample-us-indices-1d: FAILED: parity" in liar.stdout
    refused = torghut("strategy", "conformance", "sneaky@1.0.0", env=user_site)
    assert_one_line_error(refused, "sneaky@1.0.0 is disabled", "STATIC_CHECK")


def test_conformance_on_a_stored_dataset_with_params(sample_ws: Workspace) -> None:
    result = invoke("-w", str(sample_ws.root), "strategy", "conformance", "tsmom@1.0.0",
                    "--dataset", SAMPLE, "--params", '{"lookback": 120}', "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["params"]["lookback"] == 120
    warmup = next(c for c in report["checks"] if c["name"] == "warmup_boundary")
    assert warmup["metrics"]["warmup_bars"] == 120
    assert warmup["metrics"]["earliest_intent_bar"] == 121


@pytest.mark.parametrize("args,needles", [
    (["strategy", "conformance", "nope@1.0.0"], ["UNKNOWN_STRATEGY_TYPE"]),
    (["strategy", "conformance", "tsmom@9.9.9"], ["UNKNOWN_STRATEGY_VERSION", "['1.0.0']"]),
    (["strategy", "conformance", "tsmom@1.0.0", "--params", "{bad"],
     ["--params: malformed JSON"]),
    (["strategy", "conformance", "tsmom@1.0.0", "--params", '{"lookback": 1}'],
     ["params.lookback", "greater than or equal to 2"]),
    (["strategy", "conformance", "tsmom@1.0.0", "--dataset", "nope"], ["no dataset 'nope'"]),
    (["signals", "--strategy", "tsmom@1.0.0", "--dataset", "nope"], ["no dataset 'nope'"]),
    (["signals", "--strategy", "tsmom@1.0.0", "--dataset", SAMPLE, "--out", "x.txt"],
     ["x.txt: --out: must end in .csv or .parquet"]),
    (["signals", "--strategy", "tsmom@1.0.0", "--dataset", SAMPLE, "--json", "--out",
      "x.csv"], ["give --json or --out"]),
    (["signals", "--strategy", "tsmom@1.0.0", "--dataset", SAMPLE, "--out",
      "torghut.toml/signals.csv"],
     ["--out: cannot write"]),
    (["strategy", "validate", "missing.yaml"], ["missing.yaml: file not found"]),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
        torghut: CliRunner, sample_ws: Workspace, args: list[str], needles: list[str]) -> None:
    before = tree_snapshot(sample_ws.root)
    proc = torghut("-w", str(sample_ws.root), *args, cwd=sample_ws.root)
    assert_one_line_error(proc, *needles)
    assert tree_snapshot(sample_ws.root) == before


def test_signals_writes_csv_and_parquet_atomically(sample_ws: Workspace,
                                                   tmp_path: Path) -> None:
    plugin = Registry.from_entry_points().plugin("vol_breakout@1.0.0")
    features = snapshot_feature_set(sample_ws, SAMPLE)
    params = validate_params(plugin.Params, {"entry_lookback": 55, "exit_lookback": 20})
    expected = batch_exposures(plugin, features.frame, params)
    for name in ("signals.csv", "signals.parquet"):
        out = tmp_path / "out" / name
        result = invoke("-w", str(sample_ws.root), "signals", "--strategy",
                        "vol_breakout@1.0.0", "--dataset", SAMPLE, "--params",
                        '{"entry_lookback": 55, "exit_lookback": 20}', "--out", str(out))
        assert result.exit_code == 0, result.output
        assert f"Wrote {len(expected)} rows" in result.stdout
        table = pd.read_csv(out) if out.suffix == ".csv" else pd.read_parquet(out)
        assert list(table.columns) == ["ts", "symbol", "exposure"]
        assert table["symbol"].tolist() == features.frame["symbol"].tolist()
        np.testing.assert_array_equal(table["exposure"].to_numpy(), expected)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "signals.csv", "signals.parquet"]  # no temporary files left behind


def test_signals_json_and_summary(sample_ws: Workspace) -> None:
    result = invoke("-w", str(sample_ws.root), "signals", "--strategy", "tsmom@1.0.0",
                    "--dataset", SAMPLE, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 10062
    assert rows[0] == {"ts": "1999-01-04T00:00:00+00:00", "symbol": "IXIC", "exposure": 0.0}
    assert all(-1.0 <= r["exposure"] <= 1.0 for r in rows)
    assert any(r["exposure"] != 0.0 for r in rows)
    summary = invoke("-w", str(sample_ws.root), "signals", "--strategy", "tsmom@1.0.0",
                     "--dataset", SAMPLE)
    assert summary.exit_code == 0, summary.output
    assert "IXIC" in summary.stdout and "SPX" in summary.stdout


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


BARE_CATALOG = """\
strategies:
  - strategy_id: a
    strategy_type: tsmom
    version: 1.0.0
    params:
      lookback: 1
  - strategy_id: b
    strategy_type: tsmom
    version: 2.0.0
  - strategy_id: c
    strategy_type: mean_reversion
    version: 1.0.0
    mode: sideways
"""


def test_validate_bare_catalog_reports_every_error_with_its_line(torghut: CliRunner,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(BARE_CATALOG)
    proc = torghut("strategy", "validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    assert lines[0].startswith(
        f"error: {path}:6: strategies[0].params.lookback: INVALID_PARAMS: ")
    assert lines[1].startswith(
        f"error: {path}:9: strategies[1].version: UNKNOWN_STRATEGY_VERSION: ")
    assert lines[2].startswith(f"error: {path}:13: strategies[2].mode: Input should be")
    as_json = torghut("strategy", "validate", str(path), "--json")
    assert as_json.returncode == 2
    assert ["error: " + e for e in json.loads(as_json.stdout)["errors"]] == lines


def test_validate_configmap_catalog_lines_and_clean_exit(torghut: CliRunner,
                                                         sample_ws: Workspace,
                                                         tmp_path: Path) -> None:
    clean = torghut("strategy", "validate", str(sample_ws.gitops_dir / CATALOG_PATH))
    assert clean.returncode == 0, clean.stderr
    assert "OK — 4 entries, 4 ready, 0 enabled" in clean.stdout
    catalog = StrategyCatalog(strategies=(
        StrategyDefinition(strategy_id="fast", strategy_type="vol_breakout",
                           version="1.0.0", params={"entry_lookback": 5}),
        StrategyDefinition(strategy_id="ok", strategy_type="legacy_macd_rsi",
                           version="1.0.0"),
    ))
    head, _, tail = render_catalog_configmap(catalog).rpartition("mode: paper")
    text = f"{head}mode: sideways{tail}"  # a schema error in the second entry
    path = tmp_path / "strategy-catalog.yaml"
    path.write_text(text)
    proc = torghut("strategy", "validate", str(path))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 2, proc.stderr
    assert lines[0].startswith(
        f"error: {path}:{_line_of(text, 'params:')}: strategies[0].params: INVALID_PARAMS:"
        " Value error, exit_lookback must not exceed entry_lookback")
    assert lines[1].startswith(f"error: {path}:{_line_of(text, 'mode: sideways')}: "
                               "strategies[1].mode: Input should be")
