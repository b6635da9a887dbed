"""The engine's session heap settings are undone after the run, whatever happens."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime

import pytest

from tests.runtime.test_runtime_session import SPEC, promote_on_main
from torghut.data.synth import build_synth
from torghut.ledger import open_ledger
from torghut.runtime.engine import SESSION_GC_THRESHOLDS, SessionHeap, steady_heap
from torghut.runtime.session import SessionRequest, run_session
from torghut.runtime.telemetry import Telemetry
from torghut.workspace import Workspace


def test_steady_heap_freezes_tunes_and_restores() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    marker = [object()]  # alive before the session: frozen during it
    with steady_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == SESSION_GC_THRESHOLDS
        assert not gc.isenabled()  # collections run between steps only
        with steady_heap():  # nested: no-op
            assert gc.get_threshold() == SESSION_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0 and not gc.isenabled()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    assert gc.isenabled()
    assert gc.is_tracked(marker)


def test_steady_heap_restores_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), steady_heap():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_idle_collects_cyclic_garbage_when_due_and_not_before() -> None:
    class Node:
        other: object

    def cycles(n: int) -> None:
        for _ in range(n):
            a, b = Node(), Node()
            a.other, b.other = b, a

    found: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            found.append(info["collected"])

    with steady_heap() as heap:
        heap.idle()  # start from an empty young generation
        gc.callbacks.append(note)
        try:
            cycles(10)  # 20 objects + dicts: far below the young threshold
            assert heap.idle() is None and found == []
            cycles(SESSION_GC_THRESHOLDS[0])  # now due
            assert heap.idle() == 0
        finally:
            gc.callbacks.remove(note)
    assert found and found[0] >= 2 * SESSION_GC_THRESHOLDS[0]


class _Node:
    other: object


def test_idle_tenures_survivors_and_sweeps_on_schedule() -> None:
    with steady_heap():
        heap = SessionHeap(young_limit=1, sweep_every=3)
        seen, kept = [], []
        for _ in range(4):
            kept.append([_Node() for _ in range(10)])  # survivors (the young count is net of frees)
            frozen = gc.get_freeze_count()
            seen.append(heap.idle())
            if seen[-1] == 0:
                assert gc.get_freeze_count() >= frozen + 11  # the survivors were tenured
            # nothing left for a later collection to rescan: every survivor is frozen
            assert not gc.get_objects(1) and not gc.get_objects(2)
        assert seen == [0, 0, 2, 0]  # every 3rd due collection is a sweep


def test_a_cycle_that_dies_after_tenuring_waits_for_the_sweep() -> None:
    with steady_heap():
        heap = SessionHeap(young_limit=1, sweep_every=3)
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        assert heap.idle() == 0  # a and b are alive: tenured
        del a, b  # now cyclic garbage among tenured objects
        gc.collect()  # even a full collection skips frozen objects
        assert probe() is not None
        kept = [_Node()]  # a fresh allocation (lists may come from a free list)
        assert heap.idle() == 0 and probe() is not None
        kept.append(_Node())
        assert heap.idle() == 2  # the sweep
        assert probe() is None


def test_heap_settings_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SessionHeap(young_limit=0)
    with pytest.raises(ValueError):
        SessionHeap(sweep_every=0)


def test_cyclic_garbage_made_during_a_session_is_still_collected() -> None:
    class Node:
        pass

    with steady_heap():
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        del a, b
        assert gc.collect() >= 2


class _HeapProbe(Telemetry):
    """Real telemetry that also notes the collector's thresholds whenever a bar arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: set[tuple[int, ...]] = set()

    def feed_bar(self, symbol: str, event_ts: datetime, now: datetime) -> None:
        self.thresholds.add((*gc.get_threshold(), gc.isenabled()))
        super().feed_bar(symbol, event_ts, now)


def test_a_paper_session_steps_under_the_steady_heap(ws: Workspace) -> None:
    manifest, _ = build_synth(ws, SPEC, name="synth-paper")
    promote_on_main(ws, tuple(manifest.symbols))
    probe, before = _HeapProbe(), gc.get_threshold()
    with open_ledger(ws) as ledger:
        run_session(ws, ledger, SessionRequest(dataset="synth-paper",
                                               as_identity="validation-agent"), telemetry=probe)
    assert probe.thresholds == {(*SESSION_GC_THRESHOLDS, False)}  # every step ran inside it
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
