"""Overfitting statistics: the public API Gate 1 reads.

Conventions (stated again in each function): Sharpe ratios are per period inside
PSR/DSR/MinTRL, kurtosis is non-excess (3 = Gaussian), the Sharpe standard error is the
Bailey–López de Prado (2012) form (``estimator="bailey-lopez-de-prado-2012"``), sample
Sharpe ratios use ddof=1, and the variance of trial Sharpe ratios uses ddof=1 when computed
from an array. Everything is pure and deterministic; the bootstrap tests are seeded.
"""

from torghut.research.stats.bootstrap import (
    RealityCheckResult,
    SpaResult,
    reality_check,
    spa_test,
)
from torghut.research.stats.multitest import METHODS, adjust_pvalues
from torghut.research.stats.pbo import METRICS, PboResult, pbo_cscv
from torghut.research.stats.sensitivity import Sensitivity, sensitivity_score
from torghut.research.stats.sharpe import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    DeflatedSharpe,
    ReturnMoments,
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

__all__ = [
    "DEFAULT_ESTIMATOR",
    "ESTIMATORS",
    "METHODS",
    "METRICS",
    "DeflatedSharpe",
    "PboResult",
    "RealityCheckResult",
    "ReturnMoments",
    "Sensitivity",
    "SpaResult",
    "adjust_pvalues",
    "annualise_sharpe",
    "deannualise_sharpe",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_track_record_length",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
    "psr_from_returns",
    "reality_check",
    "return_moments",
    "sensitivity_score",
    "sharpe_ratio",
    "sharpe_std_error",
    "spa_test",
]
