"""Backtest metrics and their conventions (pure functions; research reuses them).

Conventions
    * Returns are simple per-bar returns of the equity marked at each close; the first is
      against the initial capital. No risk-free rate is subtracted.
    * Annualisation factor P = ``bars_per_year(calendar, timeframe)``
      (:func:`torghut.data.calendars.bars_per_year`: sessions per year × bars per session).
    * Volatility = std(r, ddof=1) × sqrt(P). Sharpe = mean(r) / std(r, ddof=1) × sqrt(P).
    * Sortino = mean(r) / DD × sqrt(P), with downside deviation DD = sqrt(Σ min(r, 0)² /
      (n − 1)) over *all* n returns (target 0, Sortino & van der Meer 1991; same ddof as
      Sharpe).
    * Drawdown(t) = equity(t) / running max − 1, where the running max starts at the
      initial capital (a loss on the first bar is a drawdown). Max drawdown is the most
      negative value (≤ 0); its duration is the longest span, in bars, from a peak until
      equity is back at that peak (or the end of the data).
    * CAGR on calendar time: (final / initial) ^ (1 / years) − 1, years = (last bar ts −
      first bar ts) / 365.25 days. Calmar = CAGR / |max drawdown|.
    * Turnover = Σ |fill notional| / mean equity / years (annualised, one-way).
    * Hit rate = winning / closed round trips; a round trip runs per symbol from flat to
      flat (a sign flip closes one and opens the next), its PnL net of its fills' costs.
    * TCA (plan-details): slippage bps = side × (fill − arrival) / arrival × 1e4, weighted by
      fill notional. Implementation shortfall (Perold 1988) = [Σ side × (fill − arrival) × q
      + commission + penalty + opportunity cost] / Σ arrival × ordered qty × 1e4, where the
      opportunity cost is side × (close − arrival) × unfilled qty for orders that end
      cancelled, rejected or open (superseded orders hand their remainder to the next one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from torghut.contracts.simulation import BacktestMetrics
from torghut.sim.engine import SimResult

DAYS_PER_YEAR = 365.25
COST_COLUMNS = ("commission", "spread_cost", "impact_cost", "penalty")


@dataclass(frozen=True)
class ReturnStats:
    volatility: float | None
    sharpe: float | None
    sortino: float | None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 and math.isfinite(den) else None


def return_stats(returns: np.ndarray, periods_per_year: float) -> ReturnStats:
    """Annualised volatility, Sharpe and Sortino of per-bar returns (see module conventions)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return ReturnStats(None, None, None)
    scale = math.sqrt(periods_per_year)
    mean, std = float(r.mean()), float(r.std(ddof=1))
    downside = math.sqrt(float(np.sum(np.minimum(r, 0.0) ** 2)) / (r.size - 1))
    sharpe = _ratio(mean, std)
    sortino = _ratio(mean, downside)
    return ReturnStats(std * scale if std > 0 else None,
                       sharpe * scale if sharpe is not None else None,
                       sortino * scale if sortino is not None else None)


def drawdown(equity: np.ndarray, capital: float) -> np.ndarray:
    """equity / running peak − 1, the peak starting at ``capital``."""
    peak = np.maximum.accumulate(np.concatenate([[capital], equity]))[1:]
    return equity / peak - 1.0


def max_drawdown_duration(dd: np.ndarray) -> int:
    """Longest run of bars spent below a previous peak."""
    longest = run = 0
    for below in dd < 0:
        run = run + 1 if below else 0
        longest = max(longest, run)
    return longest


def cagr(initial: float, final: float, years: float) -> float | None:
    if years <= 0 or final <= 0:
        return None if years <= 0 else -1.0
    return float((final / initial) ** (1.0 / years) - 1.0)


def round_trip_pnls(fills: pd.DataFrame) -> np.ndarray:
    """Net PnL of each closed flat-to-flat round trip, per symbol, in fill order."""
    out: list[float] = []
    costs = fills[["commission", "penalty"]].sum(axis=1).to_numpy()  # explicit fees
    for _, idx in fills.groupby("symbol", sort=True).indices.items():
        pos = episode = 0.0
        for i in idx:
            side = 1.0 if fills["side"].iat[i] == "buy" else -1.0
            qty, price, cost = fills["qty"].iat[i], fills["price"].iat[i], costs[i]
            closing = min(qty, abs(pos)) if pos * side < 0 else 0.0
            if closing > 0:
                episode -= side * closing * price + cost * closing / qty
                pos += side * closing
                if abs(pos) <= 1e-9:
                    out.append(episode)
                    pos = episode = 0.0
            rest = qty - closing
            if rest > 0:
                episode -= side * rest * price + cost * rest / qty
                pos += side * rest
    return np.asarray(out)


def shortfall_bps(result: SimResult) -> float | None:
    """Implementation shortfall vs the arrival mid (module conventions), in bps."""
    orders, fills = result.orders, result.fills
    if orders.empty:
        return None
    side = np.where(fills["side"] == "buy", 1.0, -1.0)
    executed = float(np.sum(side * (fills["price"] - fills["arrival_mid"]) * fills["qty"])
                     + fills["commission"].sum() + fills["penalty"].sum())
    ended = orders["status"].isin(["cancelled", "rejected", "open_at_end"]).to_numpy()
    unfilled = (orders["qty"] - orders["filled"]).to_numpy() * ended
    sym = pd.Index(result.market.symbols).get_indexer(orders["symbol"].to_numpy(dtype=object))
    closes = pd.DataFrame(result.market.close).ffill().to_numpy()
    mark = closes[orders["end_bar"].to_numpy(), sym]
    oside = np.where(orders["side"] == "buy", 1.0, -1.0)
    arrival = orders["arrival_mid"].to_numpy()
    opportunity = float(np.nansum(oside * (mark - arrival) * unfilled))
    paper = float(np.sum(arrival * orders["qty"].to_numpy()))
    return _ratio((executed + opportunity) * 1e4, paper)


def backtest_metrics(result: SimResult, periods_per_year: float) -> BacktestMetrics:
    """Every summary metric of one run, by the conventions above."""
    eq, capital, fills = result.equity, result.capital, result.fills
    ts = result.ts
    years = (ts[-1] - ts[0]) / pd.Timedelta(days=DAYS_PER_YEAR) if len(ts) > 1 else 0.0
    stats = return_stats(result.returns(), periods_per_year)
    dd = drawdown(eq, capital)
    final = float(eq[-1])
    growth = cagr(capital, final, years)
    cost = {c: float(fills[c].sum()) for c in COST_COLUMNS}
    total_cost = sum(cost.values())
    notional = (fills["qty"] * fills["price"]).to_numpy()
    traded = float(notional.sum())
    gross_value = np.abs(result.positions * pd.DataFrame(result.market.close).ffill()
                         .fillna(0.0).to_numpy()).sum(axis=1)
    trips = round_trip_pnls(fills)
    max_dd = float(dd.min()) if dd.size else 0.0
    return BacktestMetrics(
        bars=len(eq), periods_per_year=periods_per_year, years=float(years),
        initial_capital=capital, final_equity=final, net_pnl=final - capital,
        gross_pnl=final - capital + total_cost, total_return=final / capital - 1.0,
        cagr=growth, volatility=stats.volatility, sharpe=stats.sharpe, sortino=stats.sortino,
        calmar=_ratio(growth, -max_dd) if growth is not None else None,
        max_drawdown=min(max_dd, 0.0), max_drawdown_bars=max_drawdown_duration(dd),
        turnover=traded / float(eq.mean()) / years if years > 0 else 0.0,
        avg_participation=(float((fills["qty"] / fills["bar_volume"]).mean())
                           if len(fills) else None),
        hit_rate=float((trips > 0).mean()) if trips.size else None, round_trips=int(trips.size),
        time_in_market=float((np.abs(result.positions).sum(axis=1) > 0).mean()),
        avg_gross_exposure=float((gross_value / eq).mean()),
        trade_count=len(fills), order_count=len(result.orders),
        rejected_orders=int((result.orders["status"] == "rejected").sum()),
        total_costs=total_cost, commission=cost["commission"],
        spread_cost=cost["spread_cost"], impact_cost=cost["impact_cost"],
        penalty_cost=cost["penalty"], cost_bps=_ratio(total_cost * 1e4, traded),
        slippage_bps=(_ratio(float((fills["slippage_bps"] * notional).sum()), traded)),
        shortfall_bps=shortfall_bps(result))
