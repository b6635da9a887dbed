"""adjust_pvalues against statsmodels' multipletests, plus its defining properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from statsmodels.stats.multitest import multipletests

from torghut.errors import TorghutError
from torghut.research.stats import adjust_pvalues

STATSMODELS = {"holm": "holm", "bh": "fdr_bh", "bhy": "fdr_by"}


@pytest.mark.parametrize("method", ["holm", "bh", "bhy"])
@pytest.mark.parametrize("seed", range(5))
def test_matches_statsmodels(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.01, 10), [0.02, 0.02, 1.0]])
    rng.shuffle(p)
    expected = multipletests(p, method=STATSMODELS[method])[1]
    np.testing.assert_allclose(adjust_pvalues(p, method), expected, rtol=1e-13, atol=1e-15)


def test_textbook_example() -> None:
    # Four tests; Holm multiplies the k-th smallest by (m - k + 1), BH by m / k.
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    c = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(adjust_pvalues(p, "bhy"), np.minimum(1, c * np.array(
        [0.02, 0.04, 0.04, 0.02])))


@settings(max_examples=80, deadline=None)
@given(p=hst.lists(hst.floats(0.0, 1.0), min_size=1, max_size=40),
       method=hst.sampled_from(["holm", "bh", "bhy"]))
def test_adjusted_are_monotone_bounded_and_never_below_raw(p: list[float], method: str) -> None:
    raw = np.array(p)
    adj = adjust_pvalues(raw, method)
    assert (adj >= raw - 1e-15).all()
    assert (adj <= 1.0).all()
    order = np.argsort(raw, kind="stable")
    assert (np.diff(adj[order]) >= -1e-15).all()


@pytest.mark.parametrize(("p", "method", "field"), [
    ([0.1, 1.2], "holm", "pvalues"),
    ([0.1, -0.1], "bh", "pvalues"),
    ([0.1, float("nan")], "bh", "pvalues"),
    ([[0.1, 0.2]], "bh", "pvalues"),
    ([], "bh", "pvalues"),
    ([0.1], "bonferroni", "method"),
])
def test_bad_input_names_the_field(p: list, method: str, field: str) -> None:
    with pytest.raises(TorghutError) as info:
        adjust_pvalues(p, method)  # type: ignore[arg-type]
    assert info.value.field == field
