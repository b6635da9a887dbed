"""Input checks shared by the statistics: each failure is a TorghutError naming the field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from torghut.errors import TorghutError


def finite_float(value: Any, field: str) -> float:
    """``value`` as a finite float, or an error naming ``field``."""
    if isinstance(value, bool):
        raise TorghutError(f"expected a number, got {value!r}", field=field)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TorghutError(f"expected a number, got {value!r}", field=field) from None
    if not math.isfinite(out):
        raise TorghutError(f"must be finite, got {out}", field=field)
    return out


def positive_int(value: Any, field: str, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (integral floats such as 1250.0 are accepted)."""
    if isinstance(value, bool):
        raise TorghutError(f"expected an integer, got {value!r}", field=field)
    number = finite_float(value, field)
    if number != int(number):
        raise TorghutError(f"expected an integer, got {value!r}", field=field)
    if number < minimum:
        raise TorghutError(f"must be >= {minimum}, got {int(number)}", field=field)
    return int(number)


def probability(value: Any, field: str) -> float:
    """A probability strictly inside (0, 1)."""
    p = finite_float(value, field)
    if not 0.0 < p < 1.0:
        raise TorghutError(f"must be in (0, 1), got {p}", field=field)
    return p


def kurtosis_value(value: Any, field: str = "kurtosis") -> float:
    """Non-excess kurtosis: >= 1 for every distribution (3 for a Gaussian)."""
    k = finite_float(value, field)
    if k < 1.0:
        raise TorghutError(
            f"must be >= 1 (non-excess kurtosis, 3 = Gaussian), got {k}", field=field)
    return k


def finite_array(values: Any, field: str, *, ndim: int,
                 min_rows: int = 1, min_cols: int = 1) -> npt.NDArray[np.float64]:
    """A float64 copy of ``values`` with the given dimensionality and no NaN/inf."""
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TorghutError("expected an array of numbers", field=field) from None
    if arr.ndim != ndim:
        raise TorghutError(f"expected a {ndim}-D array, got shape {arr.shape}", field=field)
    if arr.shape[0] < min_rows:
        raise TorghutError(f"needs >= {min_rows} rows, got {arr.shape[0]}", field=field)
    if ndim == 2 and arr.shape[1] < min_cols:
        raise TorghutError(f"needs >= {min_cols} columns, got {arr.shape[1]}", field=field)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise TorghutError(f"contains NaN or inf at index {where}", field=field)
    return arr
