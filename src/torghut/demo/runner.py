"""Runs the demo's steps in order with progress, skipping those already completed.

A step is a function of the :class:`DemoContext` returning a JSON-able result. Its
completion is written to the state file and appended to the audit chain
(``demo.step.completed``, with the result's hash), so both say how far the demo got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from torghut.contracts.base import canonical_json, sha256_text
from torghut.demo.plan import DemoPlan
from torghut.demo.state import DemoState
from torghut.faults import failpoint
from torghut.ledger import Ledger, audit, open_ledger
from torghut.workspace import Workspace

STEP_ACTION = "demo.step.completed"
DEMO_ACTOR = "torghut-demo"


@dataclass
class DemoContext:
    """What every step works with; the ledger opens once the workspace exists."""

    root: Path  # the workspace directory (created by step 1)
    plan: DemoPlan
    state: DemoState
    console: Console
    ledger_url: str | None = None  # applied when step 1 creates the workspace
    _ws: Workspace | None = None
    _ledger: Ledger | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace.find(self.root)
        return self._ws

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = open_ledger(self.ws)
        return self._ledger

    def say(self, text: str) -> None:
        self.console.print(f"    {text}", markup=False, soft_wrap=True)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    run: Callable[[DemoContext], dict[str, Any]]


@contextmanager
def _spinner(ctx: DemoContext, title: str) -> Iterator[None]:
    """A live spinner with the running step's title (on a terminal only; lines printed
    meanwhile scroll above it)."""
    if not ctx.console.is_terminal:
        yield
        return
    with ctx.console.status(f"[bold]{title}…[/bold]", spinner="dots"):
        yield


def run_steps(ctx: DemoContext, steps: list[Step]) -> dict[str, dict[str, Any]]:
    """Run every step not yet completed; returns each step's result."""
    total = len(steps)
    for i, step in enumerate(steps, 1):
        head = f"[{i}/{total}] {step.title}"
        if ctx.state.done(step.key):
            ctx.console.print(f"[dim]{head} — already done, resuming after it[/dim]")
            ctx.timings[step.key] = float(ctx.state.steps[step.key]["seconds"])
            continue
        ctx.console.print(f"[bold]{head}[/bold]")
        start = time.perf_counter()
        with _spinner(ctx, step.title):
            result = step.run(ctx)
        seconds = time.perf_counter() - start
        failpoint(f"demo.{step.key}.before_record")  # crash tests: done but not recorded
        _record(ctx, step.key, result)
        ctx.state.complete(step.key, result, seconds)
        ctx.timings[step.key] = seconds
        ctx.console.print(f"    [green]done[/green] in {seconds:.1f} s")
    return {k: v["result"] for k, v in ctx.state.steps.items()}


def _record(ctx: DemoContext, key: str, result: dict[str, Any]) -> None:
    digest = sha256_text(canonical_json(result))
    with ctx.ledger.write() as session:
        audit.append(session, DEMO_ACTOR, STEP_ACTION, f"demo:{key}",
                     {"step": key, "plan": ctx.plan.name, "result_sha256": digest})
