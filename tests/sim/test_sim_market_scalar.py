"""The paper adapter's scalar market rules equal the simulator's array ones bit for bit."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from torghut.sim.market import (
    SpreadModel,
    _maximum,
    arrival_mid,
    finite_scalar,
    half_spread,
    quoted_spread,
)
from torghut.sim.models import get_execution_model

VALUES = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.5, -2.25e-3, 5e-324,
          sys.float_info.max, -sys.float_info.max, 0.012345678901234567]


@pytest.mark.parametrize("x", VALUES)
def test_finite_scalar_equals_numpy_nan_to_num(x: float) -> None:
    got, want = finite_scalar(x), float(np.nan_to_num(x))
    assert math.copysign(1.0, got) == math.copysign(1.0, want)  # -0.0 stays -0.0
    assert got == want and math.isfinite(got)


@pytest.mark.parametrize("x", [np.float64(math.nan), np.float64(-math.inf), np.float64(0.3)])
def test_finite_scalar_takes_numpy_scalars_too(x: np.float64) -> None:
    assert finite_scalar(x) == float(np.nan_to_num(x))


@pytest.mark.parametrize("source", ["model", "data"])
def test_half_spread_scalar_equals_the_array_rule(source: str) -> None:
    execution = get_execution_model("exec-v1").model_copy(update={"spread_source": source})
    sigmas = [math.nan, math.inf, 0.0, 1e-4, 0.03, 2.5]
    spreads = [math.nan, 0.02, 0.5]
    opens = np.array([[o for _ in sigmas for _ in spreads] for o in (1.0, 101.37)])
    sig = np.array([[s for s in sigmas for _ in spreads]] * 2)
    spr = np.array([[d for _ in sigmas for d in spreads]] * 2)
    with np.errstate(over="ignore"):  # an infinite sigma overflows to inf in both
        batch = half_spread(opens, sig, spr, execution)
        ones = {idx: half_spread(float(opens[idx]), float(sig[idx]), float(spr[idx]),
                                 execution) for idx in np.ndindex(batch.shape)}
    for idx, one in ones.items():
        assert isinstance(one, float)
        assert one == batch[idx] or (math.isnan(one) and math.isnan(batch[idx]))


def _bits(x: float) -> tuple[bool, float, float]:
    """NaN-aware, sign-of-zero-aware identity."""
    return (math.isnan(x), 0.0 if math.isnan(x) else x, math.copysign(1.0, x))


@pytest.mark.parametrize("a", VALUES)
@pytest.mark.parametrize("b", [math.nan, 0.0, -0.0, 1.5, math.inf])
def test_maximum_equals_numpy_for_scalars_and_arrays(a: float, b: float) -> None:
    want = _bits(float(np.maximum(a, b)))
    assert _bits(_maximum(a, b)) == want
    assert _bits(float(np.maximum(np.array([a]), np.array([b]))[0])) == want


@pytest.mark.parametrize("rule", [arrival_mid, quoted_spread])
def test_quote_rules_scalar_equal_the_array_rule(rule) -> None:  # type: ignore[no-untyped-def]
    quotes = [math.nan, math.inf, 99.5, 100.25]
    grid = [(b, a, c) for b in quotes for a in quotes for c in (math.nan, 0.03, 101.0)]
    bid, ask, third = (np.array(col) for col in zip(*grid, strict=True))
    with np.errstate(invalid="ignore"):  # inf - inf is NaN in the array rule, unused
        batch = rule(bid, ask, third)
    for i, (b, a, c) in enumerate(grid):
        one = rule(b, a, c)
        assert isinstance(one, float) and _bits(one) == _bits(float(batch[i]))


@pytest.mark.parametrize("source", ["model", "data"])
def test_spread_model_bar_half_equals_the_array_rules(source: str) -> None:
    """The paper adapter's one-call rule: the half spread of the bar's quoted spread."""
    execution = get_execution_model("exec-v1").model_copy(update={"spread_source": source})
    model = SpreadModel.of(execution)
    quotes = [math.nan, math.inf, 99.5, 100.25]
    grid = [(o, s, b, a, c) for o in (1.0, 101.37) for s in (math.nan, 0.0, 0.03)
            for b in quotes for a in quotes for c in (math.nan, 0.03)]
    open_, sigma, bid, ask, spread = (np.array(col) for col in zip(*grid, strict=True))
    with np.errstate(invalid="ignore"):  # inf - inf is NaN in the array rule, unused
        batch = half_spread(open_, sigma, quoted_spread(bid, ask, spread), execution)
    for i, (o, s, b, a, c) in enumerate(grid):
        one = model.bar_half(o, s, b, a, c)
        assert isinstance(one, float) and _bits(one) == _bits(float(batch[i]))
