"""What the demo runs on: data sizes, the candidate specs and who acts.

The research window and the held-out paper window are cut from one seeded synthetic panel
(``torghut data synth --regimes --planted-edge``): the real S&P 500 / NASDAQ sample is
loaded and passes Gate 0, but two index series cannot give three plugin families an edge
that survives Gate 1's DSR/PBO/reality-check policy — and the demo never weakens the
policy. The overfit candidate sweeps a large grid over a panel with no edge at all, so its
best in-sample trial is noise by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torghut.data.synth import SynthSpec, symbol_names

RESEARCH_AGENT = "research-agent"
VALIDATION_AGENT = "validation-agent"
PROMOTION_AGENT = "promotion-agent"
APPROVER = "alice"
OPERATOR = "oscar"
IDENTITIES = (RESEARCH_AGENT, VALIDATION_AGENT, PROMOTION_AGENT, APPROVER, OPERATOR)

PANEL = "demo-panel-1h"  # research + paper windows, one seeded panel
RESEARCH = "demo-research-1h"  # its research window (a slice: the paper window is held out)
NOISE = "demo-noise-1d"  # no edge at all: the overfit sweep's data
EDGE_LOOKBACK = 140  # bars (20 sessions of 7 hourly bars)
BARS_PER_YEAR = 252 * 7  # hourly bars on XNYS (tsmom annualises its volatility with it)
# Volatility scaling as a cap only: the target is never binding, so the book holds a
# constant 10 % leverage position per sign and does not rebalance on every bar.
TSMOM_SIGN_ONLY = {"periods_per_year": BARS_PER_YEAR, "target_vol": 1.0, "max_leverage": 0.1}
RESERVE = "tsmom-pair"  # passes Gate 1, signed off, kept back to show the promotion freeze
OVERFIT = "macd-rsi-overfit"


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of one demo flavour (``full`` for ``make demo``, ``fast`` for CI)."""

    name: str
    research_bars: int
    paper_bars: int
    symbols: int = 6  # two per promoted plugin: disjoint books, so paper == sim per plugin
    seed: int = 7
    planted_edge: float = 2.0
    noise_bars: int = 2000
    bootstrap_reps: int = 500
    drill_bars: int = 400  # at most this many paper steps to find working orders to cancel

    def panel_spec(self) -> SynthSpec:
        return SynthSpec(symbols=self.symbols, bars=self.research_bars + self.paper_bars,
                         timeframe="1h", seed=self.seed, regimes=True,
                         planted_edge=self.planted_edge, edge_lookback=EDGE_LOOKBACK)

    def noise_spec(self) -> SynthSpec:
        return SynthSpec(symbols=2, bars=self.noise_bars, timeframe="1d", seed=self.seed + 1)

    def split(self) -> dict[str, Any]:
        n = self.research_bars
        return {"kind": "expanding", "n_folds": 5, "test_bars": n // 8,
                "min_train_bars": n // 4, "purge_bars": 1}

    def candidates(self) -> list[dict[str, Any]]:
        """Candidate specs (as a research agent writes them): >= 3 families + the overfit."""
        universe = symbol_names(self.symbols)
        common = {"version": "1.0.0", "dataset": RESEARCH,
                  "author": RESEARCH_AGENT, "split": self.split(),
                  "stress": ["spread_x2", "pessimistic_costs"], "seed": self.seed}
        return [
            {**common, "name": "tsmom-trend", "strategy_type": "tsmom",
             "universe": universe[0:2], "params": TSMOM_SIGN_ONLY,
             "param_grid": {"lookback": [35, 70, 140, 280]},
             "hypothesis": "Trends persist over about twenty sessions (Moskowitz et al. 2012)."},
            {**common, "name": "sma-trend", "strategy_type": "sma_crossover",
             "universe": universe[2:4],
             "params": {"fast": 21, "exposure": 0.25},
             "param_grid": {"slow": [70, 140, 280, 560]},
             "hypothesis": "A fast/slow average crossover rides the same persistence."},
            {**common, "name": "donchian-breakout", "strategy_type": "vol_breakout",
             "universe": universe[4:6],
             "params": {"exposure": 0.25},
             "param_grid": {"entry_lookback": [70, 140, 280], "exit_lookback": [35, 70]},
             "hypothesis": "Donchian breakouts catch the start of persistent moves."},
            {**common, "name": RESERVE, "strategy_type": "tsmom", "universe": universe[0:2],
             "params": TSMOM_SIGN_ONLY, "param_grid": {"lookback": [140, 210]},
             "hypothesis": "Slower momentum lookbacks on the same book."},
            {**common, "name": OVERFIT, "strategy_type": "legacy_macd_rsi",
             "dataset": NOISE, "universe": symbol_names(2),
             "split": {"kind": "expanding", "n_folds": 5, "test_bars": self.noise_bars // 8,
                       "min_train_bars": self.noise_bars // 4, "purge_bars": 1},
             "param_grid": {"rsi_overbought": [55, 60, 65, 70, 75, 80, 85, 90],
                            "rsi_oversold": [10, 15, 20, 25, 30, 35, 40, 45]},
             "hypothesis": "A large MACD/RSI sweep on data with no edge: its best in-sample "
                           "trial is noise, and Gate 1 must say so."},
        ]


PLANS = {
    "full": DemoPlan(name="full", research_bars=9_000, paper_bars=2_100),
    "fast": DemoPlan(name="fast", research_bars=9_000, paper_bars=2_100, noise_bars=1_500,
                     bootstrap_reps=300),
}
