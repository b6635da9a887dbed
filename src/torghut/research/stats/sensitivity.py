"""Parameter sensitivity: does the selected point sit on a plateau or on a razor-thin peak?

A robust edge should survive small changes of its parameters. The score compares the
selected grid point with its immediate neighbourhood — every grid point within one grid
step along every parameter axis (Chebyshev distance 1 in index space, up to 3^d − 1 points),
excluding the point itself::

    score = clip(median(neighbour scores) / selected score, 0, 1)

so a plateau scores ~1 and an isolated spike scores ~0. Explicit edge cases:

* selected score <= 0 → 0: there is no edge whose robustness could be measured;
* no scored neighbours (a one-point grid, or all neighbours missing) → 0: robustness is
  unproven, and a gate reading this fails closed;
* neighbours better than the selected point → 1 (the clip).

This is the "reject narrow peaks" check of the backtest-realism standard; the median keeps
one lucky or broken neighbour from deciding the score.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from torghut.errors import TorghutError
from torghut.research.stats._checks import finite_float


@dataclass(frozen=True)
class Sensitivity:
    """``score`` in [0, 1]; ``neighbour_median`` is NaN when there are no neighbours."""

    score: float
    selected_score: float
    neighbour_median: float
    n_neighbours: int


def sensitivity_score(grid_scores: Mapping[tuple[Hashable, ...], float],
                      selected: Mapping[str, Hashable], *,
                      grid: Mapping[str, Sequence[Hashable]]) -> Sensitivity:
    """Neighbourhood robustness of ``selected`` (see the module docstring).

    ``grid`` maps each parameter to its ordered values (order defines "one step");
    ``grid_scores`` maps a tuple of values, in ``grid``'s key order, to a finite score
    (higher is better; grid points that were not run may be absent); ``selected`` maps each
    parameter to its chosen value.
    """
    axes = _axes(grid)
    if set(selected) != set(axes):
        raise TorghutError(f"parameters {sorted(map(str, selected))} do not match the grid's "
                           f"{sorted(axes)}", field="selected")
    centre = tuple(_index(axes, name, selected[name], "selected") for name in axes)
    points = {_point(axes, key): finite_float(v, f"grid_scores[{key!r}]")
              for key, v in grid_scores.items()}
    if centre not in points:
        raise TorghutError("the selected point has no score", field="selected")
    best = points[centre]
    neighbours = [v for idx, v in points.items()
                  if max(abs(a - b) for a, b in zip(idx, centre, strict=True)) == 1]
    median = float(np.median(neighbours)) if neighbours else math.nan
    score = 0.0 if best <= 0.0 or not neighbours else min(1.0, max(0.0, median / best))
    return Sensitivity(score=score, selected_score=best, neighbour_median=median,
                       n_neighbours=len(neighbours))


def _axes(grid: Mapping[str, Sequence[Hashable]]) -> dict[str, dict[Hashable, int]]:
    """Per parameter, value → position; values must be unique."""
    if not grid:
        raise TorghutError("needs at least one parameter", field="grid")
    axes: dict[str, dict[Hashable, int]] = {}
    for name, values in grid.items():
        index = {v: i for i, v in enumerate(values)}
        if not index or len(index) != len(values):
            raise TorghutError("values must be non-empty and unique", field=f"grid.{name}")
        axes[name] = index
    return axes


def _index(axes: Mapping[str, Mapping[Hashable, int]], name: str, value: Hashable,
           where: str) -> int:
    try:
        return axes[name][value]
    except (KeyError, TypeError):
        raise TorghutError(f"{value!r} is not a grid value of {name!r}",
                           field=f"{where}.{name}") from None


def _point(axes: Mapping[str, Mapping[Hashable, int]], key: tuple[Hashable, ...]
           ) -> tuple[int, ...]:
    if not isinstance(key, tuple) or len(key) != len(axes):
        raise TorghutError(f"key {key!r} must be a tuple of {len(axes)} values in grid order "
                           f"({', '.join(axes)})", field="grid_scores")
    return tuple(_index(axes, name, v, f"grid_scores[{key!r}]")
                 for name, v in zip(axes, key, strict=True))
