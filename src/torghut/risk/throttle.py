"""Sliding-window counters for rate controls (RTS-15a message rate, SEC-3 notional sent in
a window, RTS-15b fill-and-re-entry cycles).

Times are float seconds (``datetime.timestamp()``), computed once per check; a deque keeps
the events inside the window and a running sum, so each query costs O(expired events).
Counting windows (messages, cycles) keep only the times: the count is the deque's length.
"""

from __future__ import annotations

from collections import deque


class SlidingWindow:
    """Sum of weights of the events in (now - window, now]."""

    __slots__ = ("_events", "_total", "window")

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._events: deque[tuple[float, float]] = deque()
        self._total = 0.0

    def total(self, now: float) -> float:
        """The sum after dropping events that left the window."""
        events, edge = self._events, now - self.window
        while events and events[0][0] <= edge:
            self._total -= events.popleft()[1]
        if not events:
            self._total = 0.0  # no drift from float subtraction
        return self._total

    def add(self, now: float, weight: float = 1.0) -> None:
        self._events.append((now, weight))
        self._total += weight



class SlidingCount:
    """Number of events in (now - window, now]: a :class:`SlidingWindow` of unit weights
    that stores bare times (no (time, weight) tuple per event, no running sum; ~0.1 µs
    less per order over the chain's three counting windows)."""

    __slots__ = ("_times", "window")

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._times: deque[float] = deque()

    def total(self, now: float) -> int:
        """The count after dropping events that left the window."""
        times, edge = self._times, now - self.window
        while times and times[0] <= edge:
            times.popleft()
        return len(times)

    def add(self, now: float) -> None:
        self._times.append(now)
