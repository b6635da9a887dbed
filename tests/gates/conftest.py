"""Real research runs (module-independent, built once per session) for the Gate 1 tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.research.research_helpers import NOISE, candidate
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.datasets import QualityReport
from torghut.contracts.research import MetricsBundle
from torghut.data.quality import check_snapshot
from torghut.data.snapshots import load_snapshot
from torghut.data.synth import SynthSpec, build_synth
from torghut.research.run import RunOptions, run_research
from torghut.workspace import init_workspace

# A strong planted edge around lookback 20, swept on a narrow grid: a real, stable edge.
EDGE = SynthSpec(symbols=2, bars=2000, seed=3, planted_edge=3.0, edge_lookback=20)
FAST = RunOptions(executor="serial", bootstrap_reps=200)


@dataclass(frozen=True)
class Evidence:
    edge: MetricsBundle
    noise: MetricsBundle
    edge_quality: QualityReport


@pytest.fixture(scope="session")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    ws = init_workspace(tmp_path_factory.mktemp("gates") / "ws")
    build_synth(ws, EDGE, name="synth-edge")
    build_synth(ws, NOISE, name="synth-noise")
    edge = candidate(dataset="synth-edge", universe=["SYN000", "SYN001"],
                     stress=["pessimistic_costs"], param_grid={"lookback": [16, 20, 24]})
    # Noise swept over a 30-point grid: the best point is pure selection bias.
    noise = candidate(dataset="synth-noise", universe=["SYN000"], stress=["pessimistic_costs"],
                      param_grid={"lookback": list(range(4, 64, 4)),
                                  "allow_short": [True, False]})
    return Evidence(
        edge=run_research(ws, CandidateSpec.model_validate(edge), FAST).bundle,
        noise=run_research(ws, CandidateSpec.model_validate(noise), FAST).bundle,
        edge_quality=check_snapshot(load_snapshot(ws, "synth-edge")))
