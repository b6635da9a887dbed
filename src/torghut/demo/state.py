"""The demo's resumable state: ``<workspace>/demo/state.json`` plus a lock.

Every completed step is recorded here (atomically: written to a temporary file, then
renamed) *and* in the ledger's audit chain (``demo.step.completed``), so a re-run resumes
after the last completed step. Steps that do several things keep their partial progress in
``scratch`` as they go, and each thing they do is itself idempotent (decided from the
ledger's lifecycle state), so a crash in the middle of a step never repeats a recorded
action. A second demo on the same workspace at the same time is refused by an OS lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_text

DEMO_DIR = "demo"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
STATE_VERSION = 1


@dataclass
class DemoState:
    """Which steps are done (with their results and timings) and each step's scratch."""

    path: Path
    plan: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, plan: str) -> DemoState:
        """The state at ``path`` (fresh if absent); a different plan is refused."""
        if not path.is_file():
            return cls(path, plan)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version, recorded = data["version"], data["plan"]
            steps, scratch = dict(data["steps"]), dict(data["scratch"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TorghutError(f"unreadable demo state ({exc}); start in a new directory",
                               file=path) from None
        if version != STATE_VERSION:
            raise TorghutError(f"state version {version} is not {STATE_VERSION}", file=path,
                               field="version")
        if recorded != plan:
            raise TorghutError(f"this workspace ran the {recorded!r} demo; re-run it with "
                               f"the same flavour or use another directory", file=path,
                               field="plan")
        return cls(path, plan, steps, scratch)

    def done(self, key: str) -> bool:
        return key in self.steps

    def complete(self, key: str, result: dict[str, Any], seconds: float) -> None:
        self.steps[key] = {"result": result, "seconds": round(seconds, 3)}
        self.save()

    def note(self, key: str, value: Any) -> None:
        """Remember partial progress inside a step (saved at once)."""
        self.scratch[key] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(
            {"version": STATE_VERSION, "plan": self.plan, "steps": self.steps,
             "scratch": self.scratch}, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def demo_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` (released by the OS if the process dies)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TorghutError("another `torghut demo` is running on this workspace",
                               file=folder / LOCK_FILE) from None
        yield
    finally:
        os.close(fd)
