"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu (2017), "The Probability of Backtest Overfitting",
Journal of Computational Finance 20(4). The T×N matrix of per-period trial returns is cut
into S row blocks; for every choice of S/2 blocks as in-sample (IS, the rest out-of-sample,
OOS) the best IS trial is picked and its OOS rank among all trials is turned into a logit.
PBO is the share of combinations where the IS winner lands at or below the OOS median.

Everything is computed from per-block sufficient statistics (sum and sum of squares per
trial), so each combination costs an S-term sum instead of a pass over T rows.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from torghut.errors import TorghutError
from torghut.research.stats._checks import finite_array, positive_int

Metric = Literal["sharpe", "mean"]
METRICS: tuple[Metric, ...] = ("sharpe", "mean")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class PboResult:
    """CSCV output; arrays hold one entry per combination.

    Combinations are ``itertools.combinations(range(n_partitions), n_partitions // 2)``
    (the IS block sets) in that order. ``selected`` is the IS-best trial, ``is_perf`` /
    ``oos_perf`` its IS and OOS metric, ``logits`` λ = ln(ω / (1 - ω)) of its OOS relative
    rank ω. ``slope`` / ``intercept`` are the OLS fit oos_perf = intercept + slope·is_perf
    (performance degradation; NaN when IS performance does not vary). ``prob_loss`` is the
    share of combinations with oos_perf < 0. ``n_rows_used`` = rows after trimming.
    """

    pbo: float
    logits: FloatArray
    slope: float
    intercept: float
    prob_loss: float
    n_combinations: int
    n_partitions: int
    n_rows_used: int
    metric: Metric
    selected: npt.NDArray[np.int64] = field(repr=False)
    is_perf: FloatArray = field(repr=False)
    oos_perf: FloatArray = field(repr=False)


def pbo_cscv(perf_matrix: npt.ArrayLike, n_partitions: int = 16,
             metric: Metric = "sharpe") -> PboResult:
    """PBO of selecting the best column of ``perf_matrix`` (rows = time, columns = trials).

    Conventions:

    * Blocks are equal-sized and contiguous; the oldest ``T mod S`` rows are dropped so the
      split stays exactly symmetric.
    * ``metric="sharpe"``: per-period mean / std (ddof=1) over the half's rows; a half with
      zero variance scores 0. ``metric="mean"``: the mean per-period return.
    * IS ties go to the lowest column index. The OOS rank of the selected trial is its
      average (mid-) rank among the N trials, 1..N, so ties share ranks symmetrically.
      ω = rank / (N + 1) lies strictly in (0, 1), so the logit is always finite and no
      clipping is needed at rank 1 or N.
    * PBO = share of combinations with λ <= 0 (a winner exactly at the OOS median counts
      as overfit — the conservative side of the paper's ∫_{-∞}^0 f(λ) dλ).
    """
    if metric not in METRICS:
        raise TorghutError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}",
                           field="metric")
    s = positive_int(n_partitions, "n_partitions", minimum=2)
    if s % 2:
        raise TorghutError(f"must be even, got {s}", field="n_partitions")
    m = finite_array(perf_matrix, "perf_matrix", ndim=2, min_rows=s, min_cols=2)
    block = m.shape[0] // s
    if block * s // 2 < 2:
        raise TorghutError(f"{m.shape[0]} rows give fewer than 2 rows per half with "
                           f"{s} partitions", field="perf_matrix")
    m = m[m.shape[0] - block * s:]

    combos = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.int64)
    is_mask = np.zeros((len(combos), s))
    np.put_along_axis(is_mask, combos, 1.0, axis=1)

    is_score, oos_score = _half_scores(m, s, is_mask, metric)
    selected = np.argmax(is_score, axis=1)
    rows = np.arange(len(combos))
    is_perf = is_score[rows, selected]
    oos_perf = oos_score[rows, selected]
    omega = _mid_rank(oos_score, oos_perf) / (m.shape[1] + 1)
    logits = np.log(omega / (1.0 - omega))
    slope, intercept = _ols(is_perf, oos_perf)
    return PboResult(pbo=float(np.mean(logits <= 0.0)), logits=logits, slope=slope,
                     intercept=intercept, prob_loss=float(np.mean(oos_perf < 0.0)),
                     n_combinations=len(combos), n_partitions=s, n_rows_used=m.shape[0],
                     metric=metric, selected=selected.astype(np.int64), is_perf=is_perf,
                     oos_perf=oos_perf)


def _half_scores(m: FloatArray, s: int, is_mask: FloatArray,
                 metric: Metric) -> tuple[FloatArray, FloatArray]:
    """Metric of every trial on the IS and OOS halves of every combination."""
    # Centre each trial first: the variance from sums of squares is then well conditioned.
    centre = m.mean(axis=0)
    blocks = (m - centre).reshape(s, -1, m.shape[1])
    sums, sqs = blocks.sum(axis=1), np.square(blocks).sum(axis=1)
    n_half = blocks.shape[1] * (s // 2)
    is_sum, is_sq = is_mask @ sums, is_mask @ sqs
    oos_sum, oos_sq = sums.sum(axis=0) - is_sum, sqs.sum(axis=0) - is_sq
    return (_score(is_sum, is_sq, n_half, centre, metric),
            _score(oos_sum, oos_sq, n_half, centre, metric))


def _score(sums: FloatArray, sqs: FloatArray, n: int, centre: FloatArray,
           metric: Metric) -> FloatArray:
    mean_c = sums / n
    if metric == "mean":
        return mean_c + centre
    var = np.maximum(sqs - sums * mean_c, 0.0) / (n - 1)
    # Relative floor: a half that is constant up to rounding has no measurable risk.
    flat = var <= 1e-12 * sqs / (n - 1)
    std = np.where(flat, 1.0, np.sqrt(var))
    return np.where(flat, 0.0, (mean_c + centre) / std)


def _mid_rank(scores: FloatArray, value: FloatArray) -> FloatArray:
    """Average rank (1..N) of ``value[i]`` within row ``scores[i]``."""
    below = np.count_nonzero(scores < value[:, None], axis=1)
    equal = np.count_nonzero(scores == value[:, None], axis=1)
    return np.asarray(below + (equal + 1) / 2.0, dtype=np.float64)


def _ols(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return math.nan, math.nan
    slope = float(dx @ (y - y.mean())) / sxx
    return slope, float(y.mean() - slope * x.mean())
