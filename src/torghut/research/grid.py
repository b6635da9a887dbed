"""Expand a candidate's parameter grid into validated points (trials).

The grid is the Cartesian product of ``param_grid``'s values, in the spec's key order with
the *last* key varying fastest (``itertools.product``), each merged over the fixed
``params``. That order is canonical: a point's position is its trial id, and selection
ties go to the lowest id. Points the plugin's ``Params`` reject (out of bounds, or
inconsistent such as fast >= slow) are set aside with the reason, never silently run.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from torghut.contracts.base import canonical_json
from torghut.contracts.candidates import CandidateSpec
from torghut.errors import TorghutError, from_validation_error
from torghut.strategies.sdk import StrategyPlugin, validate_params


@dataclass(frozen=True)
class GridPoint:
    raw: dict[str, Any]  # as written in the spec (grid coordinates + fixed params)
    params: dict[str, Any]  # validated, defaults filled in (JSON-ready)

    @property
    def params_hash(self) -> str:
        return params_hash(self.params)


@dataclass(frozen=True)
class Grid:
    axes: dict[str, tuple[Any, ...]]  # the swept parameters, in spec order (empty: one point)
    points: tuple[GridPoint, ...]
    invalid: tuple[tuple[dict[str, Any], str], ...]  # (raw params, reason)

    @property
    def n_points(self) -> int:
        return len(self.points) + len(self.invalid)

    def coordinates(self, point: GridPoint) -> tuple[Hashable, ...]:
        """The point's value on each axis (hashable, for the sensitivity score)."""
        return tuple(hashable(point.raw[name]) for name in self.axes)


def params_hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()


def hashable(value: Any) -> Hashable:
    """Lists (tuple-valued params) become tuples so they can index a grid."""
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    return value  # type: ignore[no-any-return]


def expand_grid(spec: CandidateSpec, plugin: StrategyPlugin) -> Grid:
    """Every grid point, validated; zero valid points is an error naming the first reason."""
    axes = dict(spec.param_grid or {})
    for name, values in axes.items():
        if len({canonical_json(v) for v in values}) != len(values):
            raise TorghutError("values must be unique", field=f"param_grid.{name}")
    valid: list[GridPoint] = []
    invalid: list[tuple[dict[str, Any], str]] = []
    for combo in itertools.product(*axes.values()):
        raw = {**spec.params, **dict(zip(axes, combo, strict=True))}
        try:
            model = validate_params(plugin.Params, raw)
        except ValidationError as exc:
            invalid.append((raw, str(from_validation_error(exc, prefix="params"))))
            continue
        valid.append(GridPoint(raw=raw, params=model.model_dump(mode="json")))
    if not valid:
        first = invalid[0][1] if invalid else "empty grid"
        raise TorghutError(f"none of the {len(invalid)} grid point(s) is valid for "
                           f"{spec.strategy_ref}; first: {first}", field="param_grid")
    return Grid(axes=axes, points=tuple(valid), invalid=tuple(invalid))
