"""Versioned execution and cost models, resolved by id.

An id names one immutable set of assumptions: a change of assumptions is a new id, never an
edit, so a stored result's ``costs-v1`` always means the same thing. The defaults are
reference numbers for liquid US equities and ETFs (a 1 bp half-spread floor, 0.5 bps of
commission, impact coefficient of order one as estimated by Almgren, Thum, Hauptmann & Li
2005 and Tóth et al. 2011), not truths: calibrate per market with a new id.
"""

from __future__ import annotations

from typing import TypeVar

from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.errors import NotFoundError

M = TypeVar("M", ExecutionModel, CostModel)

EXECUTION_MODELS: dict[str, ExecutionModel] = {m.model_id: m for m in (
    ExecutionModel(model_id="exec-v1", description="Market orders one bar after the "
                   "decision, 10% participation cap, remainder carried, halts rejected"),
    ExecutionModel(model_id="exec-limit-v1", description="Passive limits at the arrival "
                   "mid, carried until filled or replaced", order_type="limit"),
    ExecutionModel(model_id="exec-ideal", description="Next-open market fills, no cap, "
                   "no collar, fractional shares (for engine cross-checks)",
                   participation_rate=None, collar_pct=None, lot_size=0.0,
                   min_spread_bps=0.0, spread_vol_k=0.0),
)}

COST_MODELS: dict[str, CostModel] = {m.model_id: m for m in (
    CostModel(model_id="costs-v1", description="0.5 bps commission, spread crossing, "
              "square-root impact eta=0.5, no turnover penalty",
              commission_bps=0.5, impact_eta=0.5),
    CostModel(model_id="costs-zero", description="No costs at all: fills at the reference "
              "price", spread_crossing=False),
    CostModel(model_id="costs-pessimistic", description="Retail-like fees, full impact and "
              "a turnover penalty", commission_per_share=0.005, commission_bps=2.0,
              commission_min=1.0, impact_eta=1.0, turnover_penalty_bps=5.0),
)}


def get_execution_model(model_id: str, *, field: str = "execution_model") -> ExecutionModel:
    """The execution model with this id; unknown ids raise naming ``field``."""
    return _lookup(EXECUTION_MODELS, model_id, field)


def get_cost_model(model_id: str, *, field: str = "cost_model") -> CostModel:
    """The cost model with this id; unknown ids raise naming ``field``."""
    return _lookup(COST_MODELS, model_id, field)


def _lookup(table: dict[str, M], model_id: str, field: str) -> M:
    try:
        return table[model_id]
    except KeyError:
        raise NotFoundError(f"unknown model id {model_id!r}; known: {', '.join(table)}",
                            field=field) from None
