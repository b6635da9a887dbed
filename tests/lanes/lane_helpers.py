"""Shared by the lane tests: a real research run with a planted edge, and row counts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.research.research_helpers import candidate
from torghut.contracts.candidates import CandidateSpec
from torghut.data.synth import SynthSpec, build_synth
from torghut.ledger import Ledger
from torghut.research.run import ResearchRun, RunOptions, run_research
from torghut.workspace import Workspace, init_workspace

EDGE = SynthSpec(symbols=2, bars=2000, seed=3, planted_edge=3.0, edge_lookback=20)
FAST = RunOptions(executor="serial", bootstrap_reps=200)


def edge_spec(name: str = "tsmom-sample") -> CandidateSpec:
    """A narrow sweep around the planted edge: passes Gate 1."""
    return CandidateSpec.model_validate(candidate(
        name=name, dataset="synth-edge", universe=["SYN000", "SYN001"],
        stress=["pessimistic_costs"], param_grid={"lookback": [16, 20, 24]}))


def edge_workspace(root: Path, name: str = "tsmom-sample") -> tuple[Workspace, ResearchRun]:
    """A workspace with the planted-edge snapshot and one research run of ``edge_spec``."""
    ws = init_workspace(root)
    build_synth(ws, EDGE, name="synth-edge")
    return ws, run_research(ws, edge_spec(name), FAST)


def count_rows(ledger: Ledger, model: type) -> int:
    with ledger.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
