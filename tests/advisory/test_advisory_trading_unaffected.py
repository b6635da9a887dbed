"""AI-R1, last clause: switching the advisory path on, off or forcing it off changes nothing
in trading — the same paper session gives the same orders, fills and PnL either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.advisory.advisory_helpers import enable
from tests.advisory.conftest import POLICY
from tests.advisory.llm_server import ReplayServer
from tests.runtime.test_runtime_session import promote_on_main
from tests.support import run_torghut
from torghut.advisory.evalset import load
from torghut.advisory.evaluate import run_evaluation
from torghut.data.synth import SynthSpec, build_synth
from torghut.ledger import open_ledger
from torghut.ledger.models import FillRow
from torghut.workspace import Workspace, init_workspace

SPEC = SynthSpec(symbols=2, bars=160, seed=5, regimes=True)
_VOLATILE = {"latency_us", "paper_evidence", "tca_evidence"}


def _session(root: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    proc = run_torghut("-w", str(root), "paper", "run", "--dataset", "synth-adv", "--as",
                       "validation-agent", "--json")
    assert proc.returncode == 0, proc.stderr
    ws = Workspace.load(root)
    with open_ledger(ws) as ledger, ledger.read() as s:
        fills = [(f.strategy_id, f.symbol, f.side, f.qty, f.price, f.commission)
                 for f in s.scalars(select(FillRow).order_by(FillRow.id))]
    return _stable(json.loads(proc.stdout)), fills


def _stable(value: Any) -> Any:
    """Drop timings and paths; a session id keeps its content hash, not its start time."""
    if isinstance(value, dict):
        return {k: v.rsplit("-", 1)[-1] if k == "session_id" else _stable(v)
                for k, v in value.items() if k not in _VOLATILE}
    return value


def _workspace(root: Path) -> Workspace:
    ws = init_workspace(root)
    manifest, _ = build_synth(ws, SPEC, name="synth-adv")
    promote_on_main(ws, tuple(manifest.symbols))
    return ws


def test_paper_session_is_identical_with_advisory_off_on_and_forced_off(
        tmp_path: Path, server: ReplayServer) -> None:
    # control: AI-R1
    off = _workspace(tmp_path / "off")
    on = _workspace(tmp_path / "on")
    config = enable(on, server.url)
    with open_ledger(on) as ledger:
        run_evaluation(ledger, config, POLICY, "research-agent", load())  # path on
        server.replay("server_error_500")
        run_evaluation(ledger, config, POLICY, "research-agent", load())  # forced off
    baseline, baseline_fills = _session(off.root)
    advised, advised_fills = _session(on.root)
    assert baseline["fills"] > 0 and baseline_fills
    assert advised == baseline
    assert advised_fills == baseline_fills
