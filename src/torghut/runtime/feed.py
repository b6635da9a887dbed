"""Market-data feeds: one clock step at a time, every symbol that printed a bar at that step.

:class:`Feed` is the interface a live source implements; :class:`ReplayFeed` replays a stored
dataset snapshot as fast as possible or at N × real time. Replay is deterministic: steps come
in timestamp order and bars within a step in symbol order, whatever the pacing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from torghut.data.snapshots import load_snapshot
from torghut.errors import TorghutError
from torghut.workspace import Workspace


class Bar(NamedTuple):
    """One OHLCV bar (and the quote at its close when the data has one).

    A named tuple, not a frozen dataclass: a replay builds one per bar event, and a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__`` (1.2 µs a bar
    against 0.2 µs for ``Bar._make``).
    """

    symbol: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    bid: float = math.nan
    ask: float = math.nan
    spread: float = math.nan

    @property
    def ts(self) -> datetime:
        return datetime.fromtimestamp(self.ts_ns / 1e9, tz=UTC)

    @property
    def mid(self) -> float:
        """(bid + ask) / 2 when quoted, else the close (the sim's arrival-mid rule)."""
        if self.bid > 0 and self.ask > 0:
            return (self.bid + self.ask) / 2
        return self.close


@dataclass(frozen=True, slots=True)
class Step:
    """One tick of the feed's clock."""

    ts_ns: int
    bars: tuple[Bar, ...]

    @property
    def ts(self) -> datetime:
        return datetime.fromtimestamp(self.ts_ns / 1e9, tz=UTC)


class Feed(Protocol):
    """What the runtime consumes. A live market-data adapter implements the same."""

    timeframe: str
    source: str
    symbols: tuple[str, ...]

    def steps(self) -> Iterator[Step]:
        ...


class ReplayFeed:
    """Replay stored bars; ``speed`` None = as fast as possible, N = N × real time."""

    def __init__(self, bars: pd.DataFrame, *, timeframe: str, source: str,
                 speed: float | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise TorghutError(f"must be a positive number, got {speed!r}", field="--speed")
        if bars.empty:
            raise TorghutError("the replay window holds no bars", field="--window")
        self.bars = bars.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)
        self.timeframe = timeframe
        self.source = source
        self.speed = speed
        self.symbols: tuple[str, ...] = tuple(sorted(self.bars["symbol"].astype(str).unique()))
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_snapshot(cls, ws: Workspace, ref: str, *, start: datetime | None = None,
                      end: datetime | None = None, symbols: Sequence[str] | None = None,
                      speed: float | None = None) -> ReplayFeed:
        snapshot = load_snapshot(ws, ref)
        bars = window(snapshot.bars(), start=start, end=end, symbols=symbols)
        m = snapshot.manifest
        return cls(bars, timeframe=m.timeframe, source=f"dataset:{m.dataset_id}", speed=speed)

    def __len__(self) -> int:
        return int(self.bars["ts"].nunique())

    def steps(self) -> Iterator[Step]:
        columns = _columns(self.bars)
        ts = columns["ts"]
        bounds = np.flatnonzero(np.diff(ts)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(ts)]])
        t0_wall, t0_data = self._clock(), int(ts[0])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            if self.speed is not None:
                self._pace(t0_wall, t0_data, int(ts[a]))
            yield Step(int(ts[a]), _bars(columns, a, b))

    def _pace(self, t0_wall: float, t0_data: int, ts_ns: int) -> None:
        """Sleep until this step is due; pacing is against the start, so it does not drift."""
        assert self.speed is not None
        due = t0_wall + (ts_ns - t0_data) / 1e9 / self.speed
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


def window(bars: pd.DataFrame, *, start: datetime | None, end: datetime | None,
           symbols: Sequence[str] | None) -> pd.DataFrame:
    """Bars with ``start <= ts < end`` for ``symbols`` (every symbol when None)."""
    ts = pd.DatetimeIndex(bars["ts"])
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= ts >= pd.Timestamp(start)
    if end is not None:
        keep &= ts < pd.Timestamp(end)
    if symbols is not None:
        unknown = sorted(set(symbols) - set(bars["symbol"].astype(str)))
        if unknown:
            raise TorghutError(f"not in the dataset: {', '.join(unknown)}", field="--symbols")
        keep &= bars["symbol"].astype(str).isin(list(symbols)).to_numpy()
    return bars.loc[keep].reset_index(drop=True)


def _columns(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {"ts": pd.DatetimeIndex(bars["ts"]).as_unit("ns").asi8,
           "symbol": bars["symbol"].astype(str).to_numpy()}
    for name in ("open", "high", "low", "close", "volume", "bid", "ask", "spread"):
        out[name] = (bars[name].to_numpy(dtype=np.float64, na_value=np.nan)
                     if name in bars.columns else np.full(len(bars), np.nan))
    return out


_BAR_FIELDS = ("symbol", "ts", "open", "high", "low", "close", "volume", "bid", "ask", "spread")


def _bars(c: dict[str, np.ndarray], a: int, b: int) -> tuple[Bar, ...]:
    """Rows ``a:b`` as bars, each column slice converted by ``tolist`` at once (indexing
    numpy scalars one by one cost ~1 µs per bar on the replay's hot path)."""
    # the symbol column holds Python str already (``_columns``), so rows go in as they are
    return tuple(map(Bar._make, zip(*(c[name][a:b].tolist() for name in _BAR_FIELDS),
                                    strict=True)))
