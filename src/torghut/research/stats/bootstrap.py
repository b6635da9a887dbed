"""White's Reality Check and Hansen's SPA test, delegated to ``arch.bootstrap``.

Both ask whether any of K models beats a benchmark after accounting for the search over
the K models, using a stationary bootstrap (Politis & Romano 1994) of the loss
differentials. ``arch`` works on **losses** (lower is better); returns are negated.

* White (2000), "A Reality Check for Data Snooping", Econometrica 68(5): the
  non-studentised statistic max_k √T·mean(d_k) with the un-recentred null, which is
  Hansen's upper p-value with ``studentize=False`` (Hansen 2005, §2). arch's
  ``RealityCheck`` is that same SPA machinery, so we read its ``upper`` p-value.
* Hansen (2005), "A Test for Superior Predictive Ability", JBES 23(4): studentised
  statistic; ``lower`` / ``consistent`` / ``upper`` p-values differ in how models that are
  clearly worse than the benchmark are recentred. ``consistent`` is the recommended one.

Variance of the loss differentials (``variance=``): ``"kernel"`` is arch's default
Politis–Romano kernel sum over every lag, O(T²·K); ``"bootstrap"`` is arch's nested
bootstrap (``nested=True``: T × the variance of ``reps`` bootstrap means), O(reps·T·K).
``"auto"`` (the default) keeps the kernel estimator while T²·K ≤ ``KERNEL_BUDGET`` and
switches to the nested bootstrap beyond it — a 1,000-point sweep over 9,000 bars would
otherwise spend minutes in that one sum. The result records which was used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from torghut.errors import TorghutError
from torghut.research.stats._checks import finite_array, positive_int

Kind = Literal["returns", "losses"]
Variance = Literal["auto", "kernel", "bootstrap"]
KERNEL_BUDGET = 2e9  # T²·K multiply-adds: about a few seconds in arch's kernel loop
Seed = int | np.random.Generator


@dataclass(frozen=True)
class RealityCheckResult:
    """White's Reality Check p-value (H0: no model beats the benchmark)."""

    pvalue: float
    n_models: int
    n_obs: int
    reps: int
    block_size: int
    variance: str = "kernel"  # loss-differential variance estimator used


@dataclass(frozen=True)
class SpaResult:
    """Hansen's SPA p-values (H0: no model beats the benchmark)."""

    lower: float
    consistent: float
    upper: float
    n_models: int
    n_obs: int
    reps: int
    block_size: int
    variance: str = "kernel"  # loss-differential variance estimator used


def reality_check(benchmark: npt.ArrayLike, models: npt.ArrayLike, *,
                  kind: Kind = "returns", reps: int = 1000, block_size: int | None = None,
                  seed: Seed = 0, variance: Variance = "auto") -> RealityCheckResult:
    """White (2000) Reality Check of ``models`` (T or T×K) against ``benchmark`` (T).

    ``kind="returns"``: per-period returns, higher is better; ``"losses"``: lower is better.
    ``block_size`` is the stationary bootstrap's mean block length (default round(√T));
    ``seed`` (int or numpy Generator) drives arch's bootstrap, so results are reproducible.
    ``variance`` picks the loss-differential variance estimator (see the module notes).
    """
    bench, mods, block = _prepare(benchmark, models, kind, block_size)
    chosen = _variance(variance, mods.shape)
    from arch.bootstrap import RealityCheck  # arch (and scipy.stats) load in ~1 s: on use

    test = RealityCheck(bench, mods, block_size=block, reps=_reps(reps), studentize=False,
                        nested=chosen == "bootstrap", bootstrap="stationary", seed=_rng(seed))
    test.compute()
    return RealityCheckResult(pvalue=float(test.pvalues["upper"]), n_models=mods.shape[1],
                              n_obs=mods.shape[0], reps=reps, block_size=block,
                              variance=chosen)


def spa_test(benchmark: npt.ArrayLike, models: npt.ArrayLike, *, kind: Kind = "returns",
             reps: int = 1000, block_size: int | None = None, seed: Seed = 0,
             variance: Variance = "auto") -> SpaResult:
    """Hansen (2005) SPA test; arguments as in :func:`reality_check` (studentised)."""
    bench, mods, block = _prepare(benchmark, models, kind, block_size)
    chosen = _variance(variance, mods.shape)
    from arch.bootstrap import SPA

    test = SPA(bench, mods, block_size=block, reps=_reps(reps), studentize=True,
               nested=chosen == "bootstrap", bootstrap="stationary", seed=_rng(seed))
    test.compute()
    p = test.pvalues
    return SpaResult(lower=float(p["lower"]), consistent=float(p["consistent"]),
                     upper=float(p["upper"]), n_models=mods.shape[1], n_obs=mods.shape[0],
                     reps=reps, block_size=block, variance=chosen)


def _variance(variance: str, shape: tuple[int, ...]) -> str:
    if variance not in ("auto", "kernel", "bootstrap"):
        raise TorghutError(f"unknown variance estimator {variance!r}; expected auto, kernel "
                           "or bootstrap", field="variance")
    if variance != "auto":
        return variance
    n_obs, n_models = shape
    return "kernel" if float(n_obs) ** 2 * n_models <= KERNEL_BUDGET else "bootstrap"


def _prepare(benchmark: npt.ArrayLike, models: npt.ArrayLike, kind: Kind,
             block_size: int | None) -> tuple[npt.NDArray[np.float64],
                                              npt.NDArray[np.float64], int]:
    """Validated losses (benchmark T, models T×K) and the block size."""
    if kind not in ("returns", "losses"):
        raise TorghutError(f"must be 'returns' or 'losses', got {kind!r}", field="kind")
    bench = finite_array(benchmark, "benchmark", ndim=1, min_rows=10)
    raw = np.asarray(models)
    mods = finite_array(raw[:, None] if raw.ndim == 1 else raw, "models", ndim=2,
                        min_rows=10)
    if mods.shape[0] != bench.shape[0]:
        raise TorghutError(f"has {mods.shape[0]} rows but benchmark has {bench.shape[0]}",
                           field="models")
    n = bench.shape[0]
    block = (max(1, round(math.sqrt(n))) if block_size is None
             else positive_int(block_size, "block_size"))
    if block > n:
        raise TorghutError(f"must be <= the {n} observations, got {block}",
                           field="block_size")
    sign = -1.0 if kind == "returns" else 1.0
    return sign * bench, sign * mods, block


def _reps(reps: int) -> int:
    return positive_int(reps, "reps", minimum=10)


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(positive_int(seed, "seed", minimum=0))
