"""Reality Check and SPA: thin wrappers over arch.bootstrap, checked for direction and seeding."""

from __future__ import annotations

import numpy as np
import pytest
from arch.bootstrap import SPA

from torghut.errors import TorghutError
from torghut.research.stats import reality_check, spa_test

T = 750


def _noise(seed: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.01, T), rng.normal(0.0, 0.01, (T, k))


def test_a_real_edge_is_detected() -> None:
    bench, models = _noise(1)
    models[:, 5] += 0.003  # ~4.8 annualised Sharpe over the benchmark for one model
    rc = reality_check(bench, models, seed=0)
    spa = spa_test(bench, models, seed=0)
    assert rc.pvalue < 0.05
    assert spa.consistent < 0.05
    assert (rc.n_models, rc.n_obs, rc.block_size) == (8, T, 27)


def test_pure_noise_is_not_significant() -> None:
    # Under the null (every model as good as the benchmark) p-values are roughly uniform:
    # across 20 seeded noise datasets they average ~0.5 and rarely fall below 5%.
    rc, spa = [], []
    for seed in range(20):
        bench, models = _noise(100 + seed)
        rc.append(reality_check(bench, models, seed=seed, reps=200).pvalue)
        res = spa_test(bench, models, seed=seed, reps=200)
        assert res.lower <= res.consistent <= res.upper
        spa.append(res.consistent)
    for pvals in (np.array(rc), np.array(spa)):
        assert pvals.mean() == pytest.approx(0.5, abs=0.15)
        assert np.mean(pvals < 0.05) <= 0.2


def test_models_worse_than_the_benchmark_give_large_pvalues() -> None:
    bench, models = _noise(2)
    models -= 0.001
    assert reality_check(bench, models, seed=0).pvalue > 0.5
    assert spa_test(bench, models, seed=0).consistent > 0.5


def test_seeded_runs_repeat_and_seeds_matter() -> None:
    bench, models = _noise(3)
    models[:, 0] += 0.0008
    a = spa_test(bench, models, seed=42, reps=300)
    assert a == spa_test(bench, models, seed=42, reps=300)
    assert a == spa_test(bench, models, seed=np.random.default_rng(42), reps=300)
    others = {spa_test(bench, models, seed=s, reps=300).consistent for s in range(5)}
    assert len(others) > 1


def test_returns_are_negated_into_losses_for_arch() -> None:
    bench, models = _noise(4)
    models[:, 2] += 0.001
    ours = spa_test(bench, models, seed=7, reps=400)
    direct = SPA(-bench, -models, block_size=27, reps=400, studentize=True,
                 bootstrap="stationary", seed=np.random.default_rng(7))
    direct.compute()
    assert ours.consistent == pytest.approx(float(direct.pvalues["consistent"]))
    as_losses = spa_test(-bench, -models, kind="losses", seed=7, reps=400)
    assert as_losses == ours


def test_reality_check_is_the_unstudentised_upper_pvalue() -> None:
    bench, models = _noise(5)
    models[:, 1] += 0.0007
    direct = SPA(-bench, -models, block_size=27, reps=400, studentize=False,
                 bootstrap="stationary", seed=np.random.default_rng(3))
    direct.compute()
    rc = reality_check(bench, models, seed=3, reps=400)
    assert rc.pvalue == pytest.approx(float(direct.pvalues["upper"]))


def test_single_model_as_a_vector() -> None:
    bench, models = _noise(6, k=1)
    assert reality_check(bench, models[:, 0], seed=1, reps=200) == reality_check(
        bench, models, seed=1, reps=200)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"benchmark": np.zeros(50), "models": np.zeros((49, 2))}, "models"),
    ({"benchmark": np.zeros(50), "models": np.full((50, 2), np.nan)}, "models"),
    ({"benchmark": np.zeros((50, 2)), "models": np.zeros((50, 2))}, "benchmark"),
    ({"benchmark": np.zeros(5), "models": np.zeros((5, 2))}, "benchmark"),
    ({"benchmark": np.zeros(50), "models": np.zeros((50, 2)), "block_size": 51}, "block_size"),
    ({"benchmark": np.zeros(50), "models": np.zeros((50, 2)), "kind": "pnl"}, "kind"),
    ({"benchmark": np.zeros(50), "models": np.zeros((50, 2)), "reps": 0}, "reps"),
    ({"benchmark": np.zeros(50), "models": np.zeros((50, 2)), "seed": -1}, "seed"),
])
@pytest.mark.parametrize("test", [reality_check, spa_test])
def test_bad_input_names_the_field(test, kwargs: dict, field: str) -> None:
    with pytest.raises(TorghutError) as info:
        test(**kwargs)
    assert info.value.field == field


def test_variance_estimator_auto_switches_to_the_nested_bootstrap_on_wide_inputs() -> None:
    from torghut.research.stats.bootstrap import KERNEL_BUDGET

    rng = np.random.default_rng(3)
    small = rng.normal(0.0, 0.01, (300, 4))
    assert reality_check(np.zeros(300), small, reps=50, seed=0).variance == "kernel"
    n_obs = int((KERNEL_BUDGET / 4) ** 0.5) + 10  # T²·K just over the budget
    wide = rng.normal(0.0, 0.01, (n_obs, 4))
    result = spa_test(np.zeros(n_obs), wide, reps=20, seed=0)
    assert result.variance == "bootstrap"


@pytest.mark.parametrize("variance", ["kernel", "bootstrap"])
def test_both_variance_estimators_find_a_real_edge_and_not_noise(variance: str) -> None:
    rng = np.random.default_rng(5)
    edge = rng.normal(0.002, 0.01, (1500, 10))
    noise = rng.normal(0.0, 0.01, (1500, 10))
    bench = np.zeros(1500)
    assert spa_test(bench, edge, reps=300, seed=1, variance=variance).consistent < 0.05
    assert reality_check(bench, noise, reps=300, seed=1, variance=variance).pvalue > 0.05


def test_unknown_variance_estimator_is_a_named_error() -> None:
    with pytest.raises(TorghutError) as info:
        reality_check(np.zeros(50), np.zeros((50, 2)) + 0.01, variance="magic")  # type: ignore[arg-type]
    assert info.value.field == "variance"
