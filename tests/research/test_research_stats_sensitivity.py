"""sensitivity_score: plateaus score ~1, razor-thin peaks score low, edge cases are explicit."""

from __future__ import annotations

import itertools
import math

import pytest

from torghut.errors import TorghutError
from torghut.research.stats import sensitivity_score

GRID = {"fast": [5, 10, 20, 40], "slow": [50, 100, 200]}


def _scores(fn) -> dict[tuple[int, int], float]:
    return {(f, s): fn(i, j) for (i, f), (j, s) in itertools.product(
        enumerate(GRID["fast"]), enumerate(GRID["slow"]))}


def test_plateau_scores_about_one() -> None:
    res = sensitivity_score(_scores(lambda i, j: 1.0 - 0.02 * abs(i - 1) - 0.02 * abs(j - 1)),
                            {"fast": 10, "slow": 100}, grid=GRID)
    assert res.n_neighbours == 8
    assert res.score == pytest.approx(0.97)  # median of four 0.96s and four 0.98s


def test_razor_thin_peak_scores_low() -> None:
    res = sensitivity_score(_scores(lambda i, j: 2.0 if (i, j) == (1, 1) else 0.1),
                            {"fast": 10, "slow": 100}, grid=GRID)
    assert res.score == pytest.approx(0.05)
    assert res.neighbour_median == pytest.approx(0.1)


def test_neighbourhood_is_one_step_in_every_dimension() -> None:
    corner = sensitivity_score(_scores(lambda i, j: 1.0), {"fast": 5, "slow": 50}, grid=GRID)
    edge = sensitivity_score(_scores(lambda i, j: 1.0), {"fast": 40, "slow": 100}, grid=GRID)
    assert (corner.n_neighbours, edge.n_neighbours) == (3, 5)
    # Points two steps away never count: make them terrible and the score is unchanged.
    far = _scores(lambda i, j: 1.0 if abs(i) <= 1 and j <= 1 else -50.0)
    assert sensitivity_score(far, {"fast": 5, "slow": 50}, grid=GRID).score == 1.0


def test_median_resists_one_broken_neighbour_and_missing_points_are_skipped() -> None:
    scores = _scores(lambda i, j: 1.0)
    scores[(20, 200)] = -10.0
    del scores[(5, 50)]
    res = sensitivity_score(scores, {"fast": 10, "slow": 100}, grid=GRID)
    assert res.n_neighbours == 7
    assert res.score == 1.0


def test_explicit_edge_cases() -> None:
    better = _scores(lambda i, j: 1.0 if (i, j) == (1, 1) else 3.0)
    assert sensitivity_score(better, {"fast": 10, "slow": 100}, grid=GRID).score == 1.0
    losing = _scores(lambda i, j: -0.5 if (i, j) == (1, 1) else 1.0)
    assert sensitivity_score(losing, {"fast": 10, "slow": 100}, grid=GRID).score == 0.0
    zero = _scores(lambda i, j: 0.0)
    assert sensitivity_score(zero, {"fast": 10, "slow": 100}, grid=GRID).score == 0.0
    alone = sensitivity_score({(7,): 1.5}, {"k": 7}, grid={"k": [7]})
    assert (alone.score, alone.n_neighbours) == (0.0, 0)
    assert math.isnan(alone.neighbour_median)
    negative_neighbours = _scores(lambda i, j: 1.0 if (i, j) == (1, 1) else -1.0)
    assert sensitivity_score(negative_neighbours, {"fast": 10, "slow": 100},
                             grid=GRID).score == 0.0


@pytest.mark.parametrize(("scores", "selected", "field"), [
    (_scores(lambda i, j: 1.0), {"fast": 10}, "selected"),
    (_scores(lambda i, j: 1.0), {"fast": 10, "slow": 75}, "selected.slow"),
    ({(10, 100): 1.0, (10,): 1.0}, {"fast": 10, "slow": 100}, "grid_scores"),
    ({(10, 100): 1.0, (10, 999): 1.0}, {"fast": 10, "slow": 100}, "grid_scores[(10, 999)].slow"),
    ({(10, 100): float("nan")}, {"fast": 10, "slow": 100}, "grid_scores[(10, 100)]"),
    ({(20, 100): 1.0}, {"fast": 10, "slow": 100}, "selected"),
])
def test_bad_input_names_the_field(scores: dict, selected: dict, field: str) -> None:
    with pytest.raises(TorghutError) as info:
        sensitivity_score(scores, selected, grid=GRID)
    assert info.value.field == field


def test_grid_values_must_be_unique() -> None:
    with pytest.raises(TorghutError) as info:
        sensitivity_score({(1,): 1.0}, {"k": 1}, grid={"k": [1, 1]})
    assert info.value.field == "grid.k"
