"""Ray runs the same task function as the local pool: a local Ray instance gives the same
bundle, byte for byte apart from the run record."""

from __future__ import annotations

from pathlib import Path

from tests.research.research_helpers import candidate
from torghut.contracts.candidates import CandidateSpec
from torghut.data.sample import build_samples
from torghut.research.run import RunOptions, run_research
from torghut.workspace import init_workspace


def test_ray_bundle_equals_the_serial_bundle(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # start a local instance
    ws = init_workspace(tmp_path / "ws")
    build_samples(ws)
    spec = CandidateSpec.model_validate(candidate(stress=["spread_x2"]))
    serial = run_research(ws, spec, RunOptions(executor="serial", bootstrap_reps=100))
    ray = run_research(ws, spec, RunOptions(executor="ray", workers=2, bootstrap_reps=100))
    assert ray.bundle.run.executor == "ray" and ray.bundle.run.workers == 2
    assert ray.bundle.stable_json() == serial.bundle.stable_json()
