"""Per-fold grid selection on the train window: tie-break, NaN handling, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from torghut.errors import TorghutError
from torghut.research.splits import select_on_train, selected_scores


def test_selects_best_train_score_per_fold_lowest_index_on_ties() -> None:
    train = np.array([[0.1, 0.5, 0.5, 0.2],
                      [0.9, 0.1, 0.9, 0.9],
                      [-1.0, -2.0, -0.5, -0.5]])
    assert select_on_train(train).tolist() == [1, 0, 2]
    assert select_on_train(train, maximize=False).tolist() == [0, 1, 1]


def test_nan_scores_are_never_chosen() -> None:
    train = np.array([[np.nan, -3.0, np.nan], [np.nan, -np.inf, -np.inf]])
    assert select_on_train(train).tolist() == [1, 1]
    assert select_on_train(np.array([[np.nan, 2.0, 1.0]]), maximize=False).tolist() == [2]


def test_test_scores_come_from_the_train_choice_only() -> None:
    train = np.array([[1.0, 2.0], [3.0, 1.0]])
    test = np.array([[9.0, -1.0], [-2.0, 8.0]])  # the test-best points are never picked
    chosen = select_on_train(train)
    assert selected_scores(test, chosen).tolist() == [-1.0, -2.0]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
              elements=st.sampled_from([0.0, 1.0, 2.0, np.nan])), st.booleans())
def test_matches_a_plain_loop(scores, maximize) -> None:
    if np.isnan(scores).all(axis=1).any():
        with pytest.raises(TorghutError, match="has no non-NaN score"):
            select_on_train(scores, maximize=maximize)
        return
    expected = []
    for row in scores:
        best = None
        for j, v in enumerate(row):
            if np.isnan(v):
                continue
            if best is None or (v > row[best] if maximize else v < row[best]):
                best = j
        expected.append(best)
    assert select_on_train(scores, maximize=maximize).tolist() == expected


@pytest.mark.parametrize(("scores", "needle"), [
    (np.zeros(3), "matrix, got shape (3,)"),
    (np.zeros((0, 4)), "matrix, got shape (0, 4)"),
    ([["a", "b"]], "must be numeric"),
])
def test_bad_score_matrices(scores, needle) -> None:
    with pytest.raises(TorghutError, match=re.escape(needle)) as info:
        select_on_train(scores)
    assert info.value.field == "train_scores"


@pytest.mark.parametrize(("chosen", "needle"), [
    (np.array([0]), "one integer grid index per fold"),
    (np.array([0.0, 1.0]), "one integer grid index per fold"),
    (np.array([0, 2]), "out of range 0..1"),
])
def test_bad_choices(chosen, needle) -> None:
    with pytest.raises(TorghutError, match=re.escape(needle)) as info:
        selected_scores(np.zeros((2, 2)), chosen)
    assert info.value.field == "chosen"
