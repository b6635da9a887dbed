"""Shared setup for the research-run tests: one workspace with real and synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torghut.data.sample import build_samples
from torghut.data.synth import SynthSpec, build_synth
from torghut.workspace import Workspace, init_workspace
from torghut.yamlio import dump_yaml

EDGE = SynthSpec(symbols=2, bars=2000, seed=3, planted_edge=2.0, edge_lookback=20)
NOISE = SynthSpec(symbols=1, bars=1500, seed=5)
SMALL_SPLIT = {"kind": "expanding", "n_folds": 4, "test_bars": 250, "min_train_bars": 400,
               "purge_bars": 1}


def research_workspace(root: Path) -> Workspace:
    ws = init_workspace(root)
    build_samples(ws)
    build_synth(ws, EDGE, name="synth-edge")
    build_synth(ws, NOISE, name="synth-noise")
    return ws


def candidate(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "tsmom-sample", "strategy_type": "tsmom", "version": "1.0.0",
        "param_grid": {"lookback": [20, 60, 120]}, "dataset": "sample-us-indices-1d",
        "universe": ["SPX", "IXIC"], "author": "research-agent",
        "hypothesis": "index trends persist", "split": SMALL_SPLIT,
        "stress": ["spread_x2", "rejection_burst"], "seed": 7}
    spec.update(overrides)
    return spec


def write_candidate(path: Path, **overrides: Any) -> Path:
    path.write_text(dump_yaml(candidate(**overrides)), encoding="utf-8")
    return path
