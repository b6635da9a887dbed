"""Execution and cost models pinned by versioned ids, and the metrics a backtest reports.

An :class:`ExecutionModel` says *how* orders meet the bars (latency, order type, spread
estimate, participation cap, reject policy); a :class:`CostModel` says *what is charged*
(commission, spread crossing, square-root impact, turnover penalty). Both are pinned by a
``model_id`` so a result can name exactly the assumptions that produced it. Semantics are
documented in :mod:`torghut.sim.engine`; metric conventions in :mod:`torghut.sim.metrics`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from torghut.contracts.base import Contract

MODEL_ID_PATTERN = r"^[a-z][a-z0-9\-]{0,62}$"


class ExecutionModel(Contract):
    """How orders are generated, priced and filled on OHLC bars."""

    schema_version: Literal["1.0"] = "1.0"
    model_id: str = Field(pattern=MODEL_ID_PATTERN)
    description: str = ""
    latency_bars: int = Field(default=1, ge=1, description="Decision at close of bar t; the "
                              "order is active from bar t + latency_bars (never the same bar)")
    order_type: Literal["market", "limit", "stop"] = "market"
    limit_offset_bps: float = Field(default=0.0, ge=0, description="Limit = arrival mid ∓ "
                                    "offset (buys below, sells above)")
    stop_offset_bps: float = Field(default=0.0, ge=0, description="Stop = arrival mid ± "
                                   "offset (buys above, sells below)")
    participation_rate: float | None = Field(default=0.1, gt=0, le=1, description="Max "
                                             "fill as a fraction of bar volume; None = no cap")
    remainder: Literal["carry", "cancel"] = Field(
        default="carry", description="Unfilled remainder keeps working, or is cancelled (the "
        "next decision re-issues what is still missing, with new arrival price and latency)")
    on_halt: Literal["reject", "carry"] = Field(
        default="reject", description="A symbol without a bar: reject HALTED, or keep working")
    collar_pct: float | None = Field(default=0.1, gt=0, description="Reject PRICE_COLLAR when "
                                     "a limit/stop is further than this from the active open")
    lot_size: float = Field(default=1.0, ge=0, description="1 = whole shares, 0 = fractional")
    sizing: Literal["decision", "activation"] = Field(
        default="decision",
        description="When a target exposure becomes shares: 'decision' at the decision "
                    "bar's close from equity then; 'activation' at the order's active bar "
                    "open from equity at that open, leaving room for proportional "
                    "commission (how target-percent orders behave in backtesting.py and "
                    "many brokers)")
    spread_source: Literal["data", "model"] = Field(
        default="data", description="data: ask − bid (else the spread column), falling back "
        "to the volatility model where missing; model: always the volatility model")
    min_spread_bps: float = Field(default=1.0, ge=0)
    spread_vol_k: float = Field(default=0.05, ge=0, description="Modelled spread_bps = max("
                                "min_spread_bps, k × trailing per-bar vol in bps); "
                                "calibrate k per timeframe")
    vol_window: int = Field(default=20, ge=2, description="Bars in the trailing realised "
                            "volatility (point-in-time: only bars before the fill bar)")


class CostModel(Contract):
    """What a fill is charged; every component is recorded per fill."""

    schema_version: Literal["1.0"] = "1.0"
    model_id: str = Field(pattern=MODEL_ID_PATTERN)
    description: str = ""
    commission_per_share: float = Field(default=0.0, ge=0)
    commission_bps: float = Field(default=0.0, ge=0, description="Of traded notional")
    commission_min: float = Field(default=0.0, ge=0, description="Per fill, when > 0")
    spread_crossing: bool = Field(default=True, description="Buy at the ask, sell at the bid")
    impact_eta: float = Field(default=0.0, ge=0, description="Square-root impact coefficient: "
                              "impact = eta × sigma × sqrt(q / V) (Almgren et al. 2005)")
    turnover_penalty_bps: float = Field(default=0.0, ge=0, description="Of traded notional")


class BacktestMetrics(Contract):
    """Summary statistics of one simulated run (conventions: :mod:`torghut.sim.metrics`).

    Ratios that are undefined (zero variance, no trades, no drawdown) are ``None``.
    """

    schema_version: Literal["1.0"] = "1.0"
    bars: int = Field(ge=0)
    periods_per_year: float = Field(gt=0)
    years: float = Field(ge=0)
    initial_capital: float = Field(gt=0)
    final_equity: float
    net_pnl: float
    gross_pnl: float = Field(description="Net PnL plus every cost component")
    total_return: float
    cagr: float | None
    volatility: float | None = Field(description="Annualised, ddof=1")
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float = Field(le=0, description="Most negative equity / running peak − 1")
    max_drawdown_bars: int = Field(ge=0, description="Longest peak-to-recovery span, in bars")
    turnover: float = Field(ge=0, description="Traded notional / mean equity, annualised")
    avg_participation: float | None = Field(description="Mean fill qty / bar volume")
    hit_rate: float | None = Field(description="Winning closed round trips / closed trips")
    round_trips: int = Field(ge=0)
    time_in_market: float = Field(ge=0, le=1)
    avg_gross_exposure: float = Field(ge=0)
    trade_count: int = Field(ge=0, description="Fills")
    order_count: int = Field(ge=0)
    rejected_orders: int = Field(ge=0)
    total_costs: float = Field(ge=0)
    commission: float = Field(ge=0)
    spread_cost: float = Field(ge=0)
    impact_cost: float = Field(ge=0)
    penalty_cost: float = Field(ge=0)
    cost_bps: float | None = Field(description="Total costs / traded notional × 1e4")
    slippage_bps: float | None = Field(description="Notional-weighted arrival slippage")
    shortfall_bps: float | None = Field(description="Implementation shortfall vs arrival")
