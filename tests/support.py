"""Test helpers shared across test packages (import as ``tests.support``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from torghut.ledger import Ledger
from torghut.ops.incidents import open_incident
from torghut.workspace import Workspace

CliRunner = Callable[..., subprocess.CompletedProcess[str]]

def run_torghut(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m torghut.cli.main ARGS`` exactly as a user's shell would."""
    full_env = {k: v for k, v in os.environ.items() if k != "TORGHUT_WORKSPACE"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "torghut.cli.main", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Path → (size, mtime_ns) for every file under root, to prove nothing changed."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def open_test_incident(ws: Workspace, ledger: Ledger, *, as_identity: str = "oscar",
                       summary: str = "kill-switch drill", incident_class: str = "C",
                       severity: str = "low") -> str:
    """Open a real incident through the ledger and return its id: a kill-switch release
    must name one (FIA-3). Class C, low severity by default, so no hard stop holds."""
    return open_incident(ws, ledger, incident_class=incident_class, severity=severity,
                         summary=summary, as_identity=as_identity).incident_id
