"""The engine's session heap settings are undone after the run, whatever happens."""

from __future__ import annotations

import gc

import pytest

from torghut.runtime.engine import SESSION_GC_THRESHOLDS, steady_heap


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
