"""Sharpe-ratio inference: PSR, DSR, expected maximum Sharpe and MinTRL.

Conventions, shared by every function here:

* Sharpe ratios are **per period** (per bar of the return series), never annualised;
  convert with :func:`annualise_sharpe` / :func:`deannualise_sharpe` at the edges.
* Kurtosis is **non-excess** (3 for a Gaussian); skewness is the usual third standardised
  moment.
* The standard error of an estimated Sharpe ratio comes from the ``estimator`` argument.
  The only one implemented, and the default, is ``"bailey-lopez-de-prado-2012"`` — Mertens'
  (2002) non-normal asymptotics as used by Bailey & López de Prado (2012, 2014)::

      se(SR) = sqrt((1 - γ3·SR + (γ4 - 1)/4 · SR²) / (T - 1))

  evaluated at the *observed* SR with T observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from torghut.errors import TorghutError
from torghut.research.stats._checks import (
    finite_array,
    finite_float,
    kurtosis_value,
    positive_int,
    probability,
)

Estimator = Literal["bailey-lopez-de-prado-2012"]
DEFAULT_ESTIMATOR: Estimator = "bailey-lopez-de-prado-2012"
ESTIMATORS: tuple[Estimator, ...] = ("bailey-lopez-de-prado-2012",)

# The standard normal from the standard library: erf-based cdf and Wichura's AS241
# inverse, both accurate to ~1e-16 — and no 0.7 s scipy.stats import on the CLI's path.
_NORMAL = NormalDist()


@dataclass(frozen=True)
class ReturnMoments:
    """Sample statistics of a return series in the conventions above.

    ``sr`` = mean / std with ddof=1; ``skew`` and ``kurtosis`` are the plain (biased,
    ddof=0) moment estimators, kurtosis non-excess; ``n_obs`` = T.
    """

    sr: float
    skew: float
    kurtosis: float
    n_obs: int


@dataclass(frozen=True)
class DeflatedSharpe:
    """Result of :func:`deflated_sharpe_ratio`.

    ``dsr`` = PSR of ``sr`` against ``sr0``; ``sr0`` = expected maximum per-period Sharpe of
    ``n_trials`` skill-less trials; ``z`` = (sr - sr0) / se(sr), so dsr = Φ(z).
    """

    dsr: float
    sr0: float
    z: float
    sr: float
    n_obs: int
    n_trials: int
    var_trials_sr: float


def sharpe_ratio(returns: npt.ArrayLike, ddof: int = 1) -> float:
    """Per-period Sharpe ratio mean(r) / std(r, ddof) of (excess) returns ``r``."""
    r = finite_array(returns, "returns", ndim=1, min_rows=ddof + 1)
    std = float(r.std(ddof=ddof))
    if std == 0.0:
        raise TorghutError("standard deviation is zero: Sharpe ratio undefined",
                           field="returns")
    return float(r.mean()) / std


def annualise_sharpe(sr: float, periods_per_year: float) -> float:
    """Per-period Sharpe × sqrt(periods per year) (exact only for IID returns)."""
    return finite_float(sr, "sr") * math.sqrt(_periods(periods_per_year))


def deannualise_sharpe(sr_annual: float, periods_per_year: float) -> float:
    """Annualised Sharpe / sqrt(periods per year): the per-period SR the tests here want."""
    return finite_float(sr_annual, "sr_annual") / math.sqrt(_periods(periods_per_year))


def return_moments(returns: npt.ArrayLike) -> ReturnMoments:
    """Sharpe (ddof=1), skewness and non-excess kurtosis (ddof=0) of a return series."""
    r = finite_array(returns, "returns", ndim=1, min_rows=3)
    sr = sharpe_ratio(r, ddof=1)
    skew, kurtosis = _moment_ratios(r)
    return ReturnMoments(sr=sr, skew=skew, kurtosis=kurtosis, n_obs=int(r.size))


def _moment_ratios(r: np.ndarray) -> tuple[float, float]:
    """Plain (biased, ddof=0) skewness m3/m2^1.5 and non-excess kurtosis m4/m2²; NaN for a
    constant series."""
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    if m2 == 0.0:
        return math.nan, math.nan
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2


def sharpe_std_error(sr: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0, *,
                     estimator: Estimator = DEFAULT_ESTIMATOR) -> float:
    """Standard error of an estimated per-period Sharpe ratio (see the module docstring)."""
    n_obs = positive_int(n_obs, "n_obs", minimum=2)
    return math.sqrt(_variance_term(sr, skew, kurtosis, estimator) / (n_obs - 1))


def _variance_term(sr: float, skew: float, kurtosis: float, estimator: Estimator) -> float:
    """1 - γ3·SR + (γ4 - 1)/4 · SR²: the SR estimator's variance times (T - 1)."""
    sr = finite_float(sr, "sr")
    skew = finite_float(skew, "skew")
    kurtosis = kurtosis_value(kurtosis)
    if estimator not in ESTIMATORS:
        raise TorghutError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}",
                           field="estimator")
    term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if term <= 0.0:
        raise TorghutError(
            f"1 - skew*sr + (kurtosis-1)/4*sr^2 = {term:.4g} <= 0: moments inconsistent "
            "with this Sharpe ratio", field="skew")
    return term


def probabilistic_sharpe_ratio(sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0,
                               kurtosis: float = 3.0, *,
                               estimator: Estimator = DEFAULT_ESTIMATOR) -> float:
    """PSR: probability that the true Sharpe ratio exceeds ``sr_benchmark``.

    Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier", J. of Risk 15(2),
    eq. for PSR: Φ((SR - SR*) / se(SR)). ``sr`` and ``sr_benchmark`` per period; ``n_obs``
    = T >= 2; ``kurtosis`` non-excess. 1 - PSR is the one-sided p-value of H0: SR <= SR*.
    """
    bench = finite_float(sr_benchmark, "sr_benchmark")
    se = sharpe_std_error(sr, n_obs, skew, kurtosis, estimator=estimator)
    return float(_NORMAL.cdf((float(sr) - bench) / se))


def psr_from_returns(returns: npt.ArrayLike, sr_benchmark: float = 0.0, *,
                     estimator: Estimator = DEFAULT_ESTIMATOR) -> float:
    """PSR of a per-period return series, with moments from :func:`return_moments`."""
    m = return_moments(returns)
    return probabilistic_sharpe_ratio(m.sr, sr_benchmark, m.n_obs, m.skew, m.kurtosis,
                                      estimator=estimator)


def expected_max_sharpe(n_trials: int, var_trials_sr: float) -> float:
    """Expected maximum of ``n_trials`` IID zero-mean Sharpe estimates with that variance.

    False Strategy Theorem — Bailey, Borwein, López de Prado & Zhu (2014), "Pseudo-
    Mathematics and Financial Charlatanism", Notices AMS 61(5), and Bailey & López de Prado
    (2014), "The Deflated Sharpe Ratio", J. Portfolio Management 40(5)::

        E[max] ≈ sqrt(V) · ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))

    with γ the Euler–Mascheroni constant. One trial has no selection: E[max] = 0.
    The result is in the units of ``var_trials_sr`` (per period for DSR).
    """
    n = positive_int(n_trials, "n_trials")
    var = finite_float(var_trials_sr, "var_trials_sr")
    if var < 0.0:
        raise TorghutError(f"must be >= 0, got {var}", field="var_trials_sr")
    if n == 1:
        return 0.0
    g = float(np.euler_gamma)
    z = (1.0 - g) * _NORMAL.inv_cdf(1.0 - 1.0 / n) + g * _NORMAL.inv_cdf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(var) * float(z)


def deflated_sharpe_ratio(sr: float, n_obs: int, skew: float, kurtosis: float,
                          n_trials: int, var_trials_sr: float | None = None, *,
                          trial_srs: npt.ArrayLike | None = None,
                          estimator: Estimator = DEFAULT_ESTIMATOR) -> DeflatedSharpe:
    """DSR: PSR of the selected strategy against the expected maximum Sharpe of the search.

    Bailey & López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for Selection
    Bias, Backtest Overfitting and Non-Normality", J. Portfolio Management 40(5):
    DSR = PSR(SR0) with SR0 = :func:`expected_max_sharpe`(N, V[SR_n]).

    Give exactly one of ``var_trials_sr`` (variance of the per-period trial Sharpe ratios)
    or ``trial_srs`` (their values; the variance is then taken with **ddof=1**).
    ``n_trials`` is N, the number of trials tried (the ledger's count), which may exceed
    ``len(trial_srs)``. ``sr`` per period, ``kurtosis`` non-excess.
    """
    if (var_trials_sr is None) == (trial_srs is None):
        raise TorghutError("give exactly one of var_trials_sr or trial_srs",
                           field="var_trials_sr")
    if trial_srs is not None:
        srs = finite_array(trial_srs, "trial_srs", ndim=1, min_rows=2)
        var = float(srs.var(ddof=1))
    else:
        var = finite_float(var_trials_sr, "var_trials_sr")
    sr0 = expected_max_sharpe(n_trials, var)
    se = sharpe_std_error(sr, n_obs, skew, kurtosis, estimator=estimator)
    z = (float(sr) - sr0) / se
    return DeflatedSharpe(dsr=float(_NORMAL.cdf(z)), sr0=sr0, z=z, sr=float(sr),
                          n_obs=int(n_obs), n_trials=int(n_trials), var_trials_sr=var)


def min_track_record_length(sr: float, sr_benchmark: float, skew: float = 0.0,
                            kurtosis: float = 3.0, alpha: float = 0.05, *,
                            estimator: Estimator = DEFAULT_ESTIMATOR) -> float:
    """MinTRL: observations needed for PSR(SR*) >= 1 - alpha, given the observed moments.

    Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier"::

        MinTRL = 1 + (1 - γ3·SR + (γ4 - 1)/4 · SR²) · (Φ⁻¹(1 - α) / (SR - SR*))²

    In periods of the return series (per-period SRs in, periods out); ``inf`` when
    SR <= SR* (no track record is long enough).
    """
    bench = finite_float(sr_benchmark, "sr_benchmark")
    a = probability(alpha, "alpha")
    var_term = _variance_term(sr, skew, kurtosis, estimator)
    edge = float(sr) - bench
    if edge <= 0.0:
        return math.inf
    return 1.0 + var_term * (float(_NORMAL.inv_cdf(1.0 - a)) / edge) ** 2


def _periods(periods_per_year: float) -> float:
    p = finite_float(periods_per_year, "periods_per_year")
    if p <= 0.0:
        raise TorghutError(f"must be > 0, got {p}", field="periods_per_year")
    return p
