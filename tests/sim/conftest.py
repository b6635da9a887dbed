"""Fixtures for the simulator tests: the real sample bars (arch's S&P 500 and NASDAQ)."""

from __future__ import annotations

import pandas as pd
import pytest

from torghut.data.sample import sample_frames


@pytest.fixture(scope="session")
def sample_bars() -> pd.DataFrame:
    (_, bars), = sample_frames()
    return bars
