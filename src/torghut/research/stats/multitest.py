"""Multiple-testing adjustment of p-values.

* ``"holm"`` — Holm (1979), "A Simple Sequentially Rejective Multiple Test Procedure",
  Scand. J. Statistics 6(2): step-down, controls the family-wise error rate.
* ``"bh"`` — Benjamini & Hochberg (1995), JRSS B 57(1): step-up, controls the false
  discovery rate under independence or positive dependence.
* ``"bhy"`` — Benjamini & Yekutieli (2001), Annals of Statistics 29(4): BH scaled by
  c(m) = Σ_{k=1}^m 1/k, controls the FDR under arbitrary dependence.

Adjusted p-values are returned in the input order, are monotone in the raw p-values, are
never below them and are capped at 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from torghut.errors import TorghutError
from torghut.research.stats._checks import finite_array

Method = Literal["holm", "bh", "bhy"]
METHODS: tuple[Method, ...] = ("holm", "bh", "bhy")


def adjust_pvalues(pvalues: npt.ArrayLike, method: Method = "holm") -> npt.NDArray[np.float64]:
    """Adjusted p-values for a family of hypotheses (see the module docstring)."""
    if method not in METHODS:
        raise TorghutError(f"unknown method {method!r}; known: {', '.join(METHODS)}",
                           field="method")
    p = finite_array(pvalues, "pvalues", ndim=1)
    if ((p < 0.0) | (p > 1.0)).any():
        raise TorghutError("p-values must lie in [0, 1]", field="pvalues")
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    k = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate((m - k + 1) * ranked)
    else:
        scale = np.sum(1.0 / k) if method == "bhy" else 1.0
        adj = np.minimum.accumulate((scale * m / k * ranked)[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out
