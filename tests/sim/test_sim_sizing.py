"""Sizing: shares fixed at the decision close, or computed when the order activates."""

from __future__ import annotations

import math

import numpy as np

from tests.sim.sim_helpers import NO_COSTS, bars, run
from torghut.contracts.simulation import CostModel

ROWS = [(100.0, 101.0, 99.0, 100.0, 1e6),   # decision bar: close 100
        (80.0, 81.0, 79.0, 80.0, 1e6),      # the order's bar gaps to an open of 80
        (80.0, 81.0, 79.0, 80.0, 1e6)]
GO_LONG = [1.0, np.nan, np.nan]  # full exposure decided at bar 0's close


def test_decision_sizing_uses_the_decision_close() -> None:
    result = run(bars(ROWS), GO_LONG, lot_size=1.0)
    assert result.fills["qty"].tolist() == [100.0]  # 10 000 / close 100


def test_activation_sizing_uses_the_open_and_leaves_room_for_commission() -> None:
    costs = CostModel(model_id="test-fee", commission_bps=20.0, spread_crossing=False)
    result = run(bars(ROWS), GO_LONG, costs=costs, lot_size=1.0, sizing="activation")
    expected = math.floor(10_000.0 / (80.0 * 1.002))  # 124 shares, fee included
    assert result.fills["qty"].tolist() == [float(expected)]
    fee = expected * 80.0 * 0.002
    assert math.isclose(result.cash[1], 10_000.0 - expected * 80.0 - fee)
    assert result.cash[1] >= 0.0


def test_activation_sizing_marks_held_positions_at_the_open() -> None:
    rows = [*ROWS, (120.0, 121.0, 119.0, 120.0, 1e6), (120.0, 121.0, 119.0, 120.0, 1e6)]
    exposure = [1.0, np.nan, -1.0, np.nan, np.nan]  # reverse at bar 2's close
    result = run(bars(rows), exposure, costs=NO_COSTS, lot_size=0.0, sizing="activation")
    long_qty, reverse_qty = result.fills["qty"].tolist()
    assert long_qty == 10_000.0 / 80.0
    equity_at_open = long_qty * 120.0  # all cash was spent on the long
    assert math.isclose(reverse_qty, long_qty + equity_at_open / 120.0)
