"""Scalar building blocks for plugin rules, usable from Python and from numba alike.

A rule's state is one flat float vector (a list when streaming, an array in batch), so
these helpers address a region of it. A ring buffer of ``size`` values starting at
``start`` occupies ``size + 1`` slots: the push count, then the values.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence

from torghut.strategies.sdk import kernel


@kernel
def ring_slots(size: int) -> int:
    """State slots a ring buffer of ``size`` values needs."""
    return size + 1


@kernel
def ring_push(state: MutableSequence[float], start: int, size: int, value: float) -> None:
    count = int(state[start])
    state[start + 1 + count % size] = value
    state[start] = count + 1.0


@kernel
def ring_count(state: Sequence[float], start: int, size: int) -> int:
    """Values held, at most ``size``."""
    count = int(state[start])
    return count if count < size else size


@kernel
def ring_lag(state: Sequence[float], start: int, size: int, lag: int) -> float:
    """The value pushed ``lag`` pushes ago (0 = the latest); caller checks the count."""
    count = int(state[start])
    return state[start + 1 + (count - 1 - lag) % size]


@kernel
def ring_max(state: Sequence[float], start: int, size: int, last: int) -> float:
    """Maximum of the latest ``last`` values (``last`` ≤ the count)."""
    best = ring_lag(state, start, size, 0)
    for lag in range(1, last):
        value = ring_lag(state, start, size, lag)
        if value > best:
            best = value
    return best


@kernel
def ring_min(state: Sequence[float], start: int, size: int, last: int) -> float:
    """Minimum of the latest ``last`` values (``last`` ≤ the count)."""
    best = ring_lag(state, start, size, 0)
    for lag in range(1, last):
        value = ring_lag(state, start, size, lag)
        if value < best:
            best = value
    return best


@kernel
def clip_unit(value: float) -> float:
    """Clip to [-1, 1] with comparisons only (identical in Python and numba)."""
    if value > 1.0:
        return 1.0
    if value < -1.0:
        return -1.0
    return value


@kernel
def sign(value: float) -> float:
    if value > 0.0:
        return 1.0
    if value < 0.0:
        return -1.0
    return 0.0
