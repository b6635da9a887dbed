"""Fixtures for the dataset tests: clean bar frames on a real trading calendar."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from torghut.data.calendars import expected_index


def clean_bars(symbols: Sequence[str] = ("AAA", "BBB"), start: str = "2020-01-02",
               end: str = "2020-01-31", timeframe: str = "1d", calendar: str = "XNYS",
               quotes: bool = True) -> pd.DataFrame:
    """Valid canonical bars: every calendar bar in [start, end] for every symbol."""
    index = expected_index(calendar, timeframe, start, end)
    n = len(index)
    frames = []
    for j, symbol in enumerate(symbols):
        close = 100.0 + 10.0 * j + 0.25 * np.sin(np.arange(n)) + 0.01 * np.arange(n)
        open_ = np.concatenate([[close[0]], close[:-1]])
        frame = pd.DataFrame({
            "ts": index, "symbol": symbol, "open": open_,
            "high": np.maximum(open_, close) + 0.5, "low": np.minimum(open_, close) - 0.5,
            "close": close, "volume": 1000.0 + np.arange(n),
            "bid": close - 0.01 if quotes else np.nan, "ask": close + 0.01 if quotes else np.nan,
        })
        frame["spread"] = frame["ask"] - frame["bid"]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["ts", "symbol"], kind="stable", ignore_index=True)


@pytest.fixture(scope="session")
def make_bars() -> Callable[..., pd.DataFrame]:
    return clean_bars
