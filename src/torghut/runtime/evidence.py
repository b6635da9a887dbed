"""Gate 2 evidence from a paper/shadow session: stability, champion–challenger by regime, and
paper-vs-simulation divergence (plan-details "Shadow and paper evaluation").

Everything here is computed from what the session measured (:class:`StrategyTrack`) and
from re-running the same window through :mod:`torghut.sim` with the same plugin, params,
execution and cost models — never written by hand. The window is cut into regime segments
per trading session: a session whose realised volatility exceeds ``vol_ratio`` × the
window's typical level is ``high_vol``, any other is ``normal`` (the labelling rule of
:mod:`torghut.research.regimes`); consecutive sessions of one class form a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from torghut.contracts.gates import (
    PaperEvidence,
    PaperSimDivergence,
    PaperSlice,
    PaperStability,
    RegimeClass,
    RegimeSegment,
)
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.research.regimes import Regime, RegimeRule, label_regime, reference_vol
from torghut.sim.engine import SimResult, exposure_matrix, simulate
from torghut.sim.market import Market, market_from_bars
from torghut.sim.metrics import drawdown, return_stats
from torghut.strategies.registry import ResolvedEntry
from torghut.strategies.runner import FeatureSet, batch_exposures, signal_table


@dataclass
class StrategyTrack:
    """What a session measured for one strategy, one value per clock step."""

    strategy_id: str
    ref: str
    capital: float
    equity: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)  # cumulative, currency
    traded: list[float] = field(default_factory=list)  # cumulative notional
    ordered_qty: float = 0.0
    filled_qty: float = 0.0
    exposures: dict[tuple[int, str], float] = field(default_factory=dict)  # intents
    risk_rejects: int = 0
    limit_breaches: int = 0


@dataclass(frozen=True)
class SimReference:
    """The same window through the simulator: equity, fill ratio and target exposures."""

    result: SimResult
    exposure: np.ndarray  # T × S, NaN = no decision
    fill_ratio: float | None

    @property
    def net_pnl(self) -> float:
        return float(self.result.equity[-1] - self.result.capital)


def sim_reference(entry: ResolvedEntry, bars: pd.DataFrame, features: FeatureSet, *,
                  execution: ExecutionModel, costs: CostModel, capital: float) -> SimReference:
    """Run ``entry`` over ``bars`` in :mod:`torghut.sim` (batch signals, same models)."""
    assert entry.plugin is not None and entry.params is not None
    market = market_from_bars(bars, execution)
    frame = features.frame
    signals = signal_table(frame, batch_exposures(entry.plugin, frame, entry.params))
    exposure = exposure_matrix(signals, market)
    result = simulate(market, exposure, execution, costs, capital=capital)
    orders = result.orders
    ordered = float(orders["qty"].sum())
    return SimReference(result, exposure,
                        float(orders["filled"].sum()) / ordered if ordered > 0 else None)


def regime_segments(market: Market, session_tz: str, *,
                    rule: RegimeRule = RegimeRule()) -> list[tuple[RegimeClass, int, int]]:
    """(class, first step, last step + 1) runs of sessions of one volatility class."""
    index = np.nanmean(np.log(market.close), axis=1)  # equal-weight log-price index
    days = pd.DatetimeIndex(market.ts).tz_convert(session_tz).normalize()
    bounds = np.flatnonzero(days[1:] != days[:-1]) + 1
    starts = np.concatenate([[0], bounds]).astype(int)
    ends = np.concatenate([bounds, [len(days)]]).astype(int)
    close = np.exp(index)
    sigma_ref = reference_vol(close, rule.vol_window) if close.size > 2 else 0.0
    out: list[tuple[RegimeClass, int, int]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        klass = _session_class(close[a:b], sigma_ref, rule)
        if out and out[-1][0] is klass:
            out[-1] = (klass, out[-1][1], b)
        else:
            out.append((klass, a, b))
    return out


def _session_class(close: np.ndarray, sigma_ref: float, rule: RegimeRule) -> RegimeClass:
    if close.size < 3 or not sigma_ref > 0:
        return RegimeClass.NORMAL
    regime = label_regime(close, reference=sigma_ref, rule=rule)
    return RegimeClass.HIGH_VOL if regime is Regime.HIGH_VOL else RegimeClass.NORMAL


def paper_slice(track: StrategyTrack, a: int, b: int, periods_per_year: float) -> PaperSlice:
    """Net PnL, Sharpe, cost bps and drawdown of steps ``[a, b)``."""
    equity = np.asarray(track.equity[a:b], dtype=np.float64)
    start = track.equity[a - 1] if a > 0 else track.capital
    prev = np.concatenate([[start], equity[:-1]])
    returns = equity / prev - 1.0
    costs = _delta(track.costs, a, b)
    traded = _delta(track.traded, a, b)
    return PaperSlice(bars=int(b - a), net_pnl=float(equity[-1] - start),
                      sharpe_annual=return_stats(returns, periods_per_year).sharpe,
                      cost_bps=costs / traded * 1e4 if traded > 0 else None,
                      max_drawdown=_max_drawdown(equity, start))


def _delta(cumulative: Sequence[float], a: int, b: int) -> float:
    return float(cumulative[b - 1] - (cumulative[a - 1] if a > 0 else 0.0))


def _max_drawdown(equity: np.ndarray, start: float) -> float:
    return min(0.0, float(drawdown(equity, start).min())) if equity.size else 0.0


def divergence(track: StrategyTrack, sim: SimReference, market: Market) -> PaperSimDivergence:
    """|ΔPnL| / capital, share of sim decisions the paper intents reproduced, |Δfill ratio|."""
    paper_pnl = track.equity[-1] - track.capital if track.equity else 0.0
    paper_ratio = track.filled_qty / track.ordered_qty if track.ordered_qty > 0 else None
    ratios = [r for r in (paper_ratio, sim.fill_ratio) if r is not None]
    fill_gap = abs(ratios[0] - ratios[1]) if len(ratios) == 2 else (0.0 if not ratios else 1.0)
    return PaperSimDivergence(pnl_divergence=abs(paper_pnl - sim.net_pnl) / track.capital,
                              intent_agreement=intent_agreement(track, sim, market),
                              fill_ratio_divergence=min(1.0, fill_gap))


def intent_agreement(track: StrategyTrack, sim: SimReference, market: Market) -> float:
    """Share of the simulator's (bar, symbol) exposures that paper held identically.

    Paper's exposure follows the SDK parity contract: the last intent's target, else the
    previous exposure (initially 0) — the same rule that produces the batch signals.
    """
    ts = market.ts.as_unit("ns").asi8
    decided = ~np.isnan(sim.exposure)
    total = int(decided.sum())
    if total == 0:
        return 1.0
    same = 0
    for j, symbol in enumerate(market.symbols):
        held = 0.0
        for i in range(len(ts)):
            held = track.exposures.get((int(ts[i]), symbol), held)
            if decided[i, j] and held == sim.exposure[i, j]:
                same += 1
    return same / total


def stability(track: StrategyTrack, *, plugin_errors: int, circuit_opens: int) -> PaperStability:
    equity = np.asarray(track.equity, dtype=np.float64)
    return PaperStability(plugin_errors=plugin_errors, circuit_open_count=circuit_opens,
                          risk_limit_breaches=track.limit_breaches,
                          max_drawdown=_max_drawdown(equity, track.capital))


def paper_evidence(track: StrategyTrack, *, mode: str, market: Market,
                   segments: Sequence[tuple[RegimeClass, int, int]], sim: SimReference,
                   periods_per_year: float, sessions: int, plugin_errors: int,
                   circuit_opens: int, champion: StrategyTrack | None = None) -> PaperEvidence:
    ts = market.ts
    return PaperEvidence(
        strategy=track.ref, champion=champion.ref if champion is not None else None,
        mode="shadow" if mode == "shadow" else "paper",
        start=_aware(ts[0]), end=_aware(ts[-1]), sessions=sessions,
        divergence=divergence(track, sim, market),
        stability=stability(track, plugin_errors=plugin_errors, circuit_opens=circuit_opens),
        segments=tuple(RegimeSegment(
            regime=klass, start=_aware(ts[a]), end=_aware(ts[b - 1]),
            challenger=paper_slice(track, a, b, periods_per_year),
            champion=None if champion is None else paper_slice(champion, a, b,
                                                               periods_per_year))
            for klass, a, b in segments))


def _aware(ts: pd.Timestamp) -> datetime:
    value: datetime = ts.to_pydatetime()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def sessions_in(market: Market, session_tz: str) -> int:
    days = pd.DatetimeIndex(market.ts).tz_convert(session_tz).normalize()
    return int(days.nunique())


__all__ = ["SimReference", "StrategyTrack", "divergence", "intent_agreement", "paper_evidence",
           "paper_slice", "regime_segments", "sessions_in", "sim_reference", "stability"]

