"""Shared by the lane tests: a real research run with a planted edge, row counts, and the
real CLI in a subprocess (optionally frozen at a fail point, to be killed there)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def spawn_cli(ws: Workspace, *args: str, failpoint: str | None = None
              ) -> subprocess.Popen[str]:
    """``torghut -w WS ARGS`` in a subprocess; with ``failpoint``, it freezes there."""
    env = {k: v for k, v in os.environ.items() if k not in ("TORGHUT_WORKSPACE",
                                                            "TORGHUT_FAILPOINT")}
    if failpoint:
        env["TORGHUT_FAILPOINT"] = failpoint
    return subprocess.Popen([sys.executable, "-m", "torghut.cli.main", "-w", str(ws.root),
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def kill_at(ws: Workspace, point: str, *args: str) -> None:
    """Run the CLI until it reaches fail point ``point``, then SIGKILL it (a real crash)."""
    proc = spawn_cli(ws, *args, failpoint=point)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # until the fail point announces itself (or the CLI exits)
        seen.append(line)
        if line.strip() == f"failpoint {point} reached":
            break
    else:
        proc.wait(timeout=30)
        raise AssertionError(f"never reached {point} (exit {proc.returncode}): {''.join(seen)}")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.communicate(timeout=30)  # drain and close the pipes
