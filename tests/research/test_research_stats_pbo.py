"""pbo_cscv against a literal, slow CSCV written from the paper's description."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from torghut.errors import TorghutError
from torghut.research.stats import pbo_cscv


def _metric(x: np.ndarray, metric: str) -> np.ndarray:
    if metric == "mean":
        return x.mean(axis=0)
    std = x.std(axis=0, ddof=1)
    flat = np.isclose(std, 0.0, atol=1e-12)
    return np.where(flat, 0.0, x.mean(axis=0) / np.where(flat, 1.0, std))


def brute_force_cscv(m: np.ndarray, s: int, metric: str) -> dict[str, object]:
    """Bailey et al. (2017) step by step: slice rows, score each half, rank, logit."""
    m = m[len(m) % s:]
    blocks = np.split(m, s)
    logits, is_perf, oos_perf, picks = [], [], [], []
    for train in itertools.combinations(range(s), s // 2):
        test = [b for b in range(s) if b not in train]
        r_is = _metric(np.vstack([blocks[b] for b in train]), metric)
        r_oos = _metric(np.vstack([blocks[b] for b in test]), metric)
        best = int(np.argmax(r_is))
        omega = sps.rankdata(r_oos, method="average")[best] / (m.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
        is_perf.append(r_is[best])
        oos_perf.append(r_oos[best])
        picks.append(best)
    fit = sps.linregress(is_perf, oos_perf)
    return {"pbo": np.mean(np.array(logits) <= 0), "logits": np.array(logits),
            "slope": fit.slope, "intercept": fit.intercept, "selected": np.array(picks),
            "prob_loss": np.mean(np.array(oos_perf) < 0), "oos_perf": np.array(oos_perf)}


@pytest.mark.parametrize(("seed", "shape", "s", "metric"), [
    (0, (120, 7), 6, "sharpe"),
    (1, (203, 12), 8, "sharpe"),   # 203 rows: the 3 oldest are dropped
    (2, (96, 5), 4, "mean"),
    (3, (160, 30), 10, "sharpe"),
])
def test_matches_brute_force(seed: int, shape: tuple[int, int], s: int, metric: str) -> None:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal(shape) * 0.01 + rng.normal(0, 0.002, shape[1])
    got = pbo_cscv(m, s, metric)
    ref = brute_force_cscv(m, s, metric)
    assert got.n_combinations == math.comb(s, s // 2)
    assert got.n_rows_used == shape[0] - shape[0] % s
    np.testing.assert_array_equal(got.selected, ref["selected"])
    np.testing.assert_allclose(got.logits, ref["logits"], rtol=1e-12)
    np.testing.assert_allclose(got.oos_perf, ref["oos_perf"], rtol=1e-9)
    assert got.pbo == ref["pbo"]
    assert got.prob_loss == ref["prob_loss"]
    assert got.slope == pytest.approx(ref["slope"], rel=1e-9)
    assert got.intercept == pytest.approx(ref["intercept"], rel=1e-9, abs=1e-15)


def test_ties_use_mid_ranks_and_first_column_wins() -> None:
    # Integer-valued returns with identical columns force ties in IS and OOS scores.
    rng = np.random.default_rng(7)
    base = rng.integers(-2, 3, size=(64, 3)).astype(float)
    m = np.hstack([base, base[:, :1]])  # column 3 duplicates column 0
    got = pbo_cscv(m, 4, "mean")
    ref = brute_force_cscv(m, 4, "mean")
    np.testing.assert_array_equal(got.selected, ref["selected"])
    np.testing.assert_allclose(got.logits, ref["logits"], rtol=1e-12)
    assert 3 not in got.selected  # a tie with column 0 never selects the duplicate


def test_flat_half_scores_zero_sharpe() -> None:
    rng = np.random.default_rng(8)
    m = rng.standard_normal((80, 4))
    m[:40, 2] = 0.0  # no risk taken in the first half of the sample
    got = pbo_cscv(m, 2)
    ref = brute_force_cscv(m, 2, "sharpe")
    np.testing.assert_allclose(got.logits, ref["logits"], rtol=1e-12)


def test_planted_edge_is_not_overfit() -> None:
    rng = np.random.default_rng(1)
    m = rng.standard_normal((800, 20))
    m[:, 3] += 0.3
    res = pbo_cscv(m, 8)
    assert res.pbo == 0.0
    assert (res.selected == 3).all()
    assert res.logits.min() == pytest.approx(math.log(20 / 1))  # rank N of N+1
    assert res.prob_loss == 0.0


def test_pure_noise_is_a_coin_flip_on_average() -> None:
    pbos = [pbo_cscv(np.random.default_rng(s).standard_normal((400, 20)), 8).pbo
            for s in range(60)]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.08)


def test_overfit_family_has_high_pbo_and_degrades() -> None:
    # Trials that each fit one half of history by construction: great IS, poor OOS.
    rng = np.random.default_rng(4)
    m = rng.standard_normal((640, 40)) * 0.5
    for j in range(40):
        lucky = rng.permutation(8)[:4]
        for b in lucky:
            m[b * 80:(b + 1) * 80, j] += 0.4
        for b in set(range(8)) - set(lucky):
            m[b * 80:(b + 1) * 80, j] -= 0.4
    res = pbo_cscv(m, 8)
    assert res.pbo > 0.9
    assert res.slope < 0


def test_deterministic() -> None:
    m = np.random.default_rng(9).standard_normal((300, 10))
    a, b = pbo_cscv(m, 6), pbo_cscv(m.copy(), 6)
    np.testing.assert_array_equal(a.logits, b.logits)
    assert (a.pbo, a.slope, a.intercept) == (b.pbo, b.slope, b.intercept)


@settings(max_examples=30, deadline=None)
@given(m=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2,
                                                  max_side=12).map(lambda s: (s[0] * 8, s[1])),
                    elements=hst.floats(-1.0, 1.0, allow_subnormal=False)),
       s=hst.sampled_from([2, 4, 8]), metric=hst.sampled_from(["sharpe", "mean"]))
def test_pbo_is_a_probability(m: np.ndarray, s: int, metric: str) -> None:
    res = pbo_cscv(m, s, metric)
    assert 0.0 <= res.pbo <= 1.0
    assert 0.0 <= res.prob_loss <= 1.0
    assert np.isfinite(res.logits).all()
    assert res.logits.shape == (math.comb(s, s // 2),)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"perf_matrix": np.zeros((64, 4)), "n_partitions": 5}, "n_partitions"),
    ({"perf_matrix": np.zeros((64, 4)), "n_partitions": 0}, "n_partitions"),
    ({"perf_matrix": np.zeros((64, 1))}, "perf_matrix"),
    ({"perf_matrix": np.zeros(64)}, "perf_matrix"),
    ({"perf_matrix": np.zeros((8, 4))}, "perf_matrix"),
    ({"perf_matrix": np.full((64, 4), np.nan)}, "perf_matrix"),
    ({"perf_matrix": [["a", "b"], ["c", "d"]], "n_partitions": 2}, "perf_matrix"),
    ({"perf_matrix": np.zeros((64, 4)), "metric": "sortino"}, "metric"),
])
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(TorghutError) as info:
        pbo_cscv(**kwargs)
    assert info.value.field == field
