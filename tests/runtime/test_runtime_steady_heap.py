"""The engine's session heap settings are undone after the run, whatever happens."""

from __future__ import annotations

import gc
from datetime import datetime

import pytest

from tests.runtime.test_runtime_session import SPEC, promote_on_main
from torghut.data.synth import build_synth
from torghut.ledger import open_ledger
from torghut.runtime.engine import SESSION_GC_THRESHOLDS, steady_heap
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
        with steady_heap():  # nested: no-op
            assert gc.get_threshold() == SESSION_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    assert gc.is_tracked(marker)


def test_steady_heap_restores_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), steady_heap():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


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
        self.thresholds.add(gc.get_threshold())
        super().feed_bar(symbol, event_ts, now)


def test_a_paper_session_steps_under_the_steady_heap(ws: Workspace) -> None:
    manifest, _ = build_synth(ws, SPEC, name="synth-paper")
    promote_on_main(ws, tuple(manifest.symbols))
    probe, before = _HeapProbe(), gc.get_threshold()
    with open_ledger(ws) as ledger:
        run_session(ws, ledger, SessionRequest(dataset="synth-paper",
                                               as_identity="validation-agent"), telemetry=probe)
    assert probe.thresholds == {SESSION_GC_THRESHOLDS}  # every step ran inside it
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
