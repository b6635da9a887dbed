"""Regime labels on constructed series: trend, range, volatility spike, holes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from torghut.errors import TorghutError
from torghut.research.regimes import (
    Regime,
    RegimeRule,
    label_regime,
    label_windows,
    reference_vol,
)
from torghut.research.splits import RollingWalkForward, walk_forward_folds


def _prices(returns: np.ndarray) -> np.ndarray:
    return 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


def _noise(n: int, sigma: float, seed: int) -> np.ndarray:
    """Zero-mean (exactly) Gaussian returns: no drift for the t-statistic to find."""
    r = np.random.default_rng(seed).normal(0.0, sigma, n)
    return (r - r.mean()) / r.std(ddof=1) * sigma


def test_reference_vol_by_hand() -> None:
    close = _prices(np.array([0.01, -0.01, 0.03, 0.01]))
    # 2-return rolling stds: |0.02|/√2, |0.04|/√2, |0.02|/√2 → median 0.02/√2
    assert reference_vol(close, vol_window=2) == pytest.approx(0.02 / np.sqrt(2))
    # fewer returns than the window: one window of all four
    assert reference_vol(close, vol_window=50) == pytest.approx(np.std([0.01, -0.01, 0.03, 0.01],
                                                                       ddof=1))


def test_trends_and_range() -> None:
    n, sigma = 500, 0.01
    drift = 4.0 * sigma / np.sqrt(n)  # t = drift·√n/σ = 4
    assert label_regime(_prices(_noise(n, sigma, 1) + drift)) is Regime.TREND_UP
    assert label_regime(_prices(_noise(n, sigma, 2) - drift)) is Regime.TREND_DOWN
    assert label_regime(_prices(_noise(n, sigma, 3))) is Regime.RANGE
    # same series, a stricter trend threshold: range
    assert label_regime(_prices(_noise(n, sigma, 1) + drift),
                        rule=RegimeRule(trend_t=5.0)) is Regime.RANGE


def test_volatility_spike_is_high_vol_even_when_trending() -> None:
    calm, spike = _noise(600, 0.01, 4), _noise(60, 0.05, 5) + 0.02  # σ 5×, t = 0.02·√60/0.05 ≈ 3.1
    close = _prices(np.concatenate((calm[:300], spike, calm[300:])))
    labels = label_windows(close, [np.arange(0, 200), np.arange(300, 361),
                                   np.arange(400, 600)])
    assert labels == [Regime.RANGE, Regime.HIGH_VOL, Regime.RANGE]
    # a 5× spike is below a 6× threshold: its strong drift makes it a trend instead
    assert label_windows(close, [np.arange(300, 361)],
                         rule=RegimeRule(vol_ratio=6.0)) == [Regime.TREND_UP]


def test_holes_in_a_window_are_not_returns() -> None:
    # A flat market that doubles between bars 50 and 51: a CPCV test set made of
    # bars 0..19 and 80..99 must not see that jump.
    r = _noise(99, 0.01, 6)
    r[50] = np.log(2.0)
    close = _prices(r)
    holed = np.concatenate((np.arange(0, 20), np.arange(80, 100)))
    assert label_windows(close, [holed]) == [Regime.RANGE]
    assert label_windows(close, [np.arange(40, 60)]) == [Regime.HIGH_VOL]


def test_labels_each_walk_forward_test_window() -> None:
    calm = _noise(400, 0.01, 7)
    close = _prices(np.concatenate((calm, _noise(100, 0.04, 8))))  # 501 closes
    folds = walk_forward_folds(501, RollingWalkForward(n_folds=5, train_bars=100,
                                                       test_bars=80))
    labels = label_windows(close, [f.test for f in folds])
    assert labels[-1] is Regime.HIGH_VOL and Regime.HIGH_VOL not in labels[:3]
    assert labels == label_windows(close, [f.test for f in folds])  # deterministic


def test_noiseless_drift_is_an_infinitely_significant_trend() -> None:
    assert label_regime(np.exp(np.linspace(0.0, 1.0, 50))) is Regime.TREND_UP
    assert label_regime(np.full(50, 10.0)) is Regime.RANGE


@pytest.mark.parametrize(("close", "needle"), [
    (np.array([100.0, np.nan, 101.0, 102.0]), "non-positive price at position 1"),
    (np.array([100.0, 101.0, -1.0, 102.0]), "non-positive price at position 2"),
    (np.array([100.0, 101.0]), "at least 3 closes"),
    (np.ones((3, 3)), "1-D series"),
    (["a", "b", "c"], "must be numeric"),
])
def test_bad_prices(close, needle) -> None:
    with pytest.raises(TorghutError, match=needle) as info:
        label_regime(close)
    assert info.value.field == "close"


def test_bad_windows_and_rules() -> None:
    close = _prices(_noise(50, 0.01, 9))
    with pytest.raises(TorghutError, match=r"outside 0\.\.50") as info:
        label_windows(close, [np.arange(10), np.arange(45, 52)])
    assert info.value.field == "windows[1]"
    with pytest.raises(TorghutError, match="at least 2 returns") as info:
        label_windows(close, [np.array([0, 2, 4, 6])])
    assert info.value.field == "windows[0]"
    with pytest.raises(TorghutError) as info:
        RegimeRule(vol_window=1)
    assert info.value.field == "vol_window"
    with pytest.raises(TorghutError) as info:
        RegimeRule(trend_t=0.0)
    assert info.value.field == "trend_t"
