"""PSR, DSR, expected maximum Sharpe and MinTRL against the papers' numbers and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import integrate
from scipy import stats as sps

from torghut.errors import TorghutError
from torghut.research.stats import (
    annualise_sharpe,
    deannualise_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    psr_from_returns,
    return_moments,
    sharpe_ratio,
    sharpe_std_error,
)

# Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example: annualised
# SR 2.5 from 5 years of daily returns (T = 1250, 250 days a year), N = 100 trials whose
# annualised Sharpe ratios have variance 1/2, skewness -3, kurtosis 10. The paper reports
# SR0 ≈ 0.1132 (per day) and DSR ≈ 0.9004.
PAPER_DSR = {"sr": deannualise_sharpe(2.5, 250), "n_obs": 1250, "skew": -3.0,
             "kurtosis": 10.0, "n_trials": 100}
PAPER_VAR_DAILY = 0.5 / 250


def test_dsr_matches_the_papers_worked_example() -> None:
    res = deflated_sharpe_ratio(**PAPER_DSR, var_trials_sr=PAPER_VAR_DAILY)
    assert res.sr0 == pytest.approx(0.1132, abs=5e-5)
    assert res.dsr == pytest.approx(0.9004, abs=5e-5)
    assert res.sr == pytest.approx(0.1581, abs=5e-5)
    assert res.dsr == pytest.approx(sps.norm.cdf(res.z), abs=1e-15)
    assert (res.n_trials, res.n_obs) == (100, 1250)


def test_dsr_from_trial_sharpes_uses_ddof_1() -> None:
    srs = np.random.default_rng(3).normal(0.0, 0.05, 40)
    from_array = deflated_sharpe_ratio(**PAPER_DSR, trial_srs=srs)
    explicit = deflated_sharpe_ratio(**PAPER_DSR, var_trials_sr=float(np.var(srs, ddof=1)))
    assert from_array.var_trials_sr == pytest.approx(np.var(srs, ddof=1), rel=1e-14)
    assert from_array.dsr == pytest.approx(explicit.dsr, rel=1e-14)
    assert from_array.var_trials_sr != pytest.approx(np.var(srs, ddof=0), rel=1e-6)


def test_dsr_is_psr_at_the_expected_maximum() -> None:
    res = deflated_sharpe_ratio(**PAPER_DSR, var_trials_sr=PAPER_VAR_DAILY)
    psr = probabilistic_sharpe_ratio(PAPER_DSR["sr"], res.sr0, 1250, -3.0, 10.0)
    assert psr == pytest.approx(res.dsr, rel=1e-14)


def test_one_trial_means_no_deflation() -> None:
    res = deflated_sharpe_ratio(**{**PAPER_DSR, "n_trials": 1}, var_trials_sr=PAPER_VAR_DAILY)
    assert res.sr0 == 0.0
    assert res.dsr == pytest.approx(probabilistic_sharpe_ratio(PAPER_DSR["sr"], 0.0, 1250,
                                                               -3.0, 10.0))


def test_expected_max_matches_the_false_strategy_theorem_examples() -> None:
    # Bailey, Borwein, López de Prado & Zhu (2014), Notices AMS: E[max] ≈ 1.57 for N = 10
    # unit-variance trials, and N = 45 trials of 5 years of IID returns already reach an
    # expected maximum annualised Sharpe of about 1 (their MinBTL example).
    assert expected_max_sharpe(10, 1.0) == pytest.approx(1.57, abs=0.005)
    assert expected_max_sharpe(45, 1.0 / 5.0) == pytest.approx(1.0, abs=0.001)


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_expected_max_against_exact_order_statistic(n: int) -> None:
    # Exact E[max of n iid N(0,1)] = ∫ x · n φ(x) Φ(x)^(n-1) dx; the closed form is an
    # extreme-value approximation, good to a few percent for n >= 10 and improving with n.
    exact, _ = integrate.quad(lambda x: x * n * sps.norm.pdf(x) * sps.norm.cdf(x) ** (n - 1),
                              -10, 10)
    approx = expected_max_sharpe(n, 4.0) / 2.0
    assert approx == pytest.approx(exact, rel=0.03)
    assert approx > exact  # conservative (over-deflates) at these N


def test_expected_max_of_simulated_sharpe_estimates() -> None:
    # 50 skill-less strategies, 500 daily returns each, 400 repetitions: the mean of the
    # best in-sample Sharpe ratio matches the theorem with V = the simulated variance.
    rng = np.random.default_rng(11)
    r = rng.standard_normal((400, 500, 50))
    srs = r.mean(axis=1) / r.std(axis=1, ddof=1)
    predicted = expected_max_sharpe(50, float(srs.var(ddof=1)))
    assert srs.max(axis=1).mean() == pytest.approx(predicted, rel=0.04)


def test_psr_gaussian_case_is_the_textbook_z_test() -> None:
    sr, bench, t = 0.08, 0.02, 500
    z = (sr - bench) * math.sqrt(t - 1) / math.sqrt(1 + sr * sr / 2)
    assert probabilistic_sharpe_ratio(sr, bench, t) == pytest.approx(sps.norm.cdf(z), rel=1e-13)
    assert sharpe_std_error(sr, t) == pytest.approx(math.sqrt((1 + sr**2 / 2) / (t - 1)))


def test_psr_penalises_negative_skew_and_fat_tails() -> None:
    base = probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 3.0) < base
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 12.0) < base
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, 1.0, 3.0) > base


def test_psr_from_returns_uses_stated_moment_conventions() -> None:
    r = np.random.default_rng(5).standard_t(5, 300) * 0.01 + 0.001
    m = return_moments(r)
    assert m.sr == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-13)
    assert m.skew == pytest.approx(sps.skew(r), rel=1e-12)
    assert m.kurtosis == pytest.approx(sps.kurtosis(r) + 3.0, rel=1e-12)
    assert m.n_obs == 300
    assert psr_from_returns(r, 0.02) == pytest.approx(
        probabilistic_sharpe_ratio(m.sr, 0.02, 300, m.skew, m.kurtosis), rel=1e-14)


@pytest.mark.parametrize("draw", ["normal", "skewed"])
def test_psr_pvalues_are_uniform_under_the_null(draw: str) -> None:
    # True SR = 0: 1 - PSR(0) is a p-value, so it should be ~U(0,1) and reject ~5% at 5%.
    rng = np.random.default_rng(2024)
    n_sims, t = 2000, 500
    if draw == "normal":
        r = rng.standard_normal((n_sims, t))
    else:  # a centred gamma: skewness ~0.9, mean exactly zero
        r = rng.gamma(5.0, 1.0, (n_sims, t)) - 5.0
    pvals = np.array([1.0 - psr_from_returns(row) for row in r])
    assert sps.kstest(pvals, "uniform").pvalue > 0.01
    assert np.mean(pvals < 0.05) == pytest.approx(0.05, abs=0.015)


def test_min_track_record_length_makes_psr_hit_the_confidence_level() -> None:
    sr, bench, skew, kurt = 0.12, 0.03, -1.2, 7.0
    n = min_track_record_length(sr, bench, skew, kurt, alpha=0.05)
    # At T = MinTRL (PSR's formula is continuous in T) the PSR equals 1 - alpha exactly.
    z = (sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert sps.norm.cdf(z) == pytest.approx(0.95, abs=1e-12)
    assert probabilistic_sharpe_ratio(sr, bench, math.ceil(n), skew, kurt) >= 0.95
    assert probabilistic_sharpe_ratio(sr, bench, math.floor(n), skew, kurt) < 0.95


def test_min_track_record_length_gaussian_closed_form() -> None:
    # Annualised SR 1 on monthly data against 0, 95%: 1 + (1 + SR²/2)(1.6449/SR)² months.
    sr = deannualise_sharpe(1.0, 12)
    expected = 1 + (1 + sr**2 / 2) * (sps.norm.ppf(0.95) / sr) ** 2
    assert min_track_record_length(sr, 0.0) == pytest.approx(expected, rel=1e-13)
    assert expected == pytest.approx(34.82, abs=0.01)  # just under 3 years


def test_min_track_record_length_is_infinite_without_an_edge() -> None:
    assert min_track_record_length(0.05, 0.05) == math.inf
    assert min_track_record_length(0.01, 0.05) == math.inf


def test_sharpe_helpers() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015])
    assert sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1))
    assert sharpe_ratio(r, ddof=0) == pytest.approx(r.mean() / r.std(ddof=0))
    assert annualise_sharpe(0.1, 252) == pytest.approx(0.1 * math.sqrt(252))
    assert deannualise_sharpe(annualise_sharpe(0.1, 52), 52) == pytest.approx(0.1)


@settings(max_examples=60, deadline=None)
@given(sr=hst.floats(0.0, 0.3), n_obs=hst.integers(10, 5000), skew=hst.floats(-2.0, 2.0),
       excess=hst.floats(0.0, 20.0), var=hst.floats(1e-5, 1e-2),
       n_small=hst.integers(1, 500), extra=hst.integers(1, 500))
def test_dsr_never_rises_with_more_trials(sr: float, n_obs: int, skew: float, excess: float,
                                          var: float, n_small: int, extra: int) -> None:
    kurt = 3.0 + excess + skew * skew  # kurtosis >= 1 + skew² always holds for real data
    if 1 - skew * sr + (kurt - 1) / 4 * sr * sr <= 0:
        return
    few = deflated_sharpe_ratio(sr, n_obs, skew, kurt, n_small, var)
    many = deflated_sharpe_ratio(sr, n_obs, skew, kurt, n_small + extra, var)
    assert 0.0 <= many.dsr <= few.dsr <= 1.0
    assert many.sr0 >= few.sr0


@settings(max_examples=60, deadline=None)
@given(sr=hst.floats(-0.5, 0.5), bump=hst.floats(0.001, 0.2), bench=hst.floats(-0.2, 0.2),
       n_obs=hst.integers(2, 10_000))
def test_psr_is_a_probability_increasing_in_sr(sr: float, bump: float, bench: float,
                                               n_obs: int) -> None:
    lo = probabilistic_sharpe_ratio(sr, bench, n_obs)
    hi = probabilistic_sharpe_ratio(sr + bump, bench, n_obs)
    assert 0.0 <= lo <= hi <= 1.0


@pytest.mark.parametrize(("call", "field"), [
    (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 1), "n_obs"),
    (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100.5), "n_obs"),
    (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 0.5), "kurtosis"),
    (lambda: probabilistic_sharpe_ratio(float("nan"), 0.0, 100), "sr"),
    (lambda: probabilistic_sharpe_ratio(0.1, float("inf"), 100), "sr_benchmark"),
    (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, "x"), "skew"),
    (lambda: probabilistic_sharpe_ratio(3.0, 0.0, 100, 5.0, 3.0), "skew"),
    (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, estimator="lo-2002"), "estimator"),
    (lambda: psr_from_returns([0.01, float("nan"), 0.02, 0.0]), "returns"),
    (lambda: psr_from_returns([[0.01, 0.02], [0.0, 0.1]]), "returns"),
    (lambda: psr_from_returns([0.01, 0.01, 0.01, 0.01]), "returns"),
    (lambda: psr_from_returns([0.01, 0.02]), "returns"),
    (lambda: expected_max_sharpe(0, 1.0), "n_trials"),
    (lambda: expected_max_sharpe(10, -1.0), "var_trials_sr"),
    (lambda: deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 10), "var_trials_sr"),
    (lambda: deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 10, 0.1, trial_srs=[0.1, 0.2]),
     "var_trials_sr"),
    (lambda: deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 10, trial_srs=[0.1]), "trial_srs"),
    (lambda: min_track_record_length(0.1, 0.0, alpha=1.0), "alpha"),
    (lambda: annualise_sharpe(0.1, 0), "periods_per_year"),
])
def test_bad_input_names_the_field(call, field: str) -> None:
    with pytest.raises(TorghutError) as info:
        call()
    assert info.value.field == field


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_moments_and_normal_quantiles_match_scipy(seed: int) -> None:
    """The stdlib normal and the numpy moments stand in for scipy.stats (a slow import)."""
    from scipy import stats as sps

    from torghut.research.stats import return_moments
    from torghut.research.stats.sharpe import _NORMAL

    r = np.random.default_rng(seed).standard_t(5, 3000) * 0.01
    m = return_moments(r)
    assert m.skew == pytest.approx(sps.skew(r, bias=True), rel=1e-12)
    assert m.kurtosis == pytest.approx(sps.kurtosis(r, fisher=False, bias=True), rel=1e-12)
    for q in (1e-6, 0.01, 0.5, 0.95, 1 - 1e-6):
        assert _NORMAL.inv_cdf(q) == pytest.approx(sps.norm.ppf(q), rel=1e-12)
        assert _NORMAL.cdf(sps.norm.ppf(q)) == pytest.approx(q, rel=1e-12)
