"""The README's plugin example is discovered through a real entry point and passes conformance."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from tests.strategies.strategy_helpers import write_distribution
from tests.support import run_torghut

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rsi-fade-plugin"


def test_example_plugin_is_discovered_and_conforms(tmp_path: Path) -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["torghut.strategies"]
    site = tmp_path / "site"
    write_distribution(site, "rsi_fade", (EXAMPLE / "rsi_fade.py").read_text(), entry_points)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    listed = run_torghut("strategy", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {f"{r['strategy_type']}@{r['version']}": r for r in json.loads(listed.stdout)}
    assert rows["rsi_fade@0.1.0"]["status"] == "ready"

    proc = run_torghut("strategy", "conformance", "rsi_fade@0.1.0", "--json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is True
    assert {c["name"] for c in report["checks"]} >= {"parity", "sandbox", "warmup_boundary"}
