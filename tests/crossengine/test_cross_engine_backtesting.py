"""Cross-engine check: Torghut's simulator against backtesting.py on its own GOOG data.

Both engines run the SMA(10)/SMA(20) crossover under backtesting.py's simple assumptions:
fill at the next bar's open, a fixed 0.2% commission each way, no spread, whole shares,
target-percent sizing at the fill (Torghut: ``sizing="activation"``). backtesting.py
(AGPL) is a test-only dependency; the product never imports it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.data.bars import canonical_bars
from torghut.sim.backtest import Backtest as TorghutBacktest
from torghut.sim.backtest import run_backtest
from torghut.strategies.builtin.sma_crossover import SmaCrossover
from torghut.strategies.runner import feature_set

FAST, SLOW, CASH, COMMISSION = 10, 20, 10_000.0, 0.002


class SmaCross(Strategy):  # backtesting.py's own example strategy
    n1, n2 = FAST, SLOW

    def init(self) -> None:
        self.s1 = self.I(SMA, self.data.Close, self.n1)
        self.s2 = self.I(SMA, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.s1, self.s2):
            self.position.close()
            self.buy()
        elif crossover(self.s2, self.s1):
            self.position.close()
            self.sell()


@pytest.fixture(scope="module")
def peer() -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # finalize_trades=False: both engines mark the open position to the last close
        # (finalising would liquidate it at the last bar's open, a convention of its own).
        return Backtest(GOOG, SmaCross, cash=CASH, commission=COMMISSION,
                        finalize_trades=False).run()


@pytest.fixture(scope="module")
def ours() -> TorghutBacktest:
    raw = GOOG.reset_index().rename(columns={"index": "ts"})
    raw.columns = [str(c).lower() for c in raw.columns]
    raw["ts"] = pd.to_datetime(raw["ts"]).dt.tz_localize("UTC")
    raw["symbol"] = "GOOG"
    bars = canonical_bars(raw)
    features = feature_set("goog", bars, timeframe="1d", calendar="XNYS",
                           source="backtesting.py:GOOG")
    execution = ExecutionModel(model_id="exec-xcheck", sizing="activation", lot_size=1.0,
                               participation_rate=None, collar_pct=None,
                               min_spread_bps=0.0, spread_vol_k=0.0)
    costs = CostModel(model_id="costs-xcheck", commission_bps=COMMISSION * 1e4,
                      spread_crossing=False)
    return run_backtest(SmaCrossover(), {"fast": FAST, "slow": SLOW}, bars, features,
                        calendar="XNYS", execution=execution, costs=costs, capital=CASH)


def test_same_trades_on_the_same_bars(peer: pd.Series, ours: TorghutBacktest) -> None:
    trades = peer["_trades"]
    assert ours.metrics.round_trips == peer["# Trades"] > 50
    # Every peer trade opens where one of our fills reverses (or opens) the position.
    assert trades["EntryBar"].tolist() == ours.result.fills["bar"].tolist()[:len(trades)]
    np.testing.assert_allclose(ours.result.fills["price"].to_numpy()[:len(trades)],
                               trades["EntryPrice"].to_numpy(), rtol=0, atol=1e-9)


def test_final_equity_within_half_a_percent(peer: pd.Series, ours: TorghutBacktest) -> None:
    theirs = float(peer["Equity Final [$]"])
    assert abs(ours.metrics.final_equity / theirs - 1) < 0.005
    # ...and the curves agree all the way, not just at the end.
    gap = ours.result.equity / peer["_equity_curve"]["Equity"].to_numpy() - 1
    assert np.max(np.abs(gap)) < 0.005
