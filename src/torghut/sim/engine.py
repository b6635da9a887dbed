"""The execution simulator: target exposures (or explicit orders) → fills, equity, positions.

Semantics (each switchable through :class:`ExecutionModel` / :class:`CostModel`):

Clock and latency
    Bars are pivoted onto one clock (:mod:`torghut.sim.market`). A decision taken at the
    close of bar t produces an order that is active from bar ``t + latency_bars``
    (``latency_bars >= 1``), so nothing ever fills on the bar whose close produced the signal.

Sizing (target-exposure input)
    ``exposure[t, s]`` in [-1, 1] is a decision at the close of bar t (NaN = no decision).
    Each symbol gets an equal budget: target notional = exposure × equity(t) / S, converted
    to shares at close(t) and rounded toward zero to ``lot_size`` (0 = fractional). The
    target is re-sized only when the exposure changes, so a held position drifts with its
    price like a real one (no silent daily re-balancing). When the order becomes active its
    quantity is ``target − position`` at that moment, replacing (``SUPERSEDED``) any
    still-working order for the symbol. A decision is re-issued, with the same target, at
    the next close where nothing is working or in flight and the position misses the target
    (after a reject or a cancelled remainder). With ``sizing="activation"`` the exposure is
    turned into shares only when the order becomes active: from equity marked at that bar's
    open, at the open price, leaving room for the proportional commission (target-percent
    orders as backtesting.py and many brokers size them).

Order types (the rules read the quote on the order's side: ask = mid + half spread for
buys, bid = mid − half spread for sells; with zero spread they are the textbook OHLC rules)
    * market: fills at the open of the active bar;
    * limit (arrival mid ∓ ``limit_offset_bps``): fills only if the bar trades *through* the
      limit (buy: low < limit; touching is not enough) at min(open, limit) — a gap through
      the limit fills at the open; sells mirror;
    * stop (arrival mid ± ``stop_offset_bps``): triggers when high ≥ stop (buy) or low ≤ stop
      (sell) and fills at max(open, stop) (buy) / min(open, stop) (sell): a gap fills at the
      open.
    The arrival mid is the mid at the decision bar's close ((bid + ask) / 2 when quoted,
    else the close).

Constraints, partial fills and rejects (stable reason codes, one row per order)
    No bar for the symbol → ``HALTED`` reject (or the order keeps working, ``on_halt``);
    zero volume → ``ZERO_VOLUME``; scenario-forced → ``REJECT_BURST``; a limit/stop further
    than ``collar_pct`` from the active bar's open on its first tradable bar →
    ``PRICE_COLLAR``. Fills are capped at ``participation_rate × volume`` (lot-rounded down);
    the remainder keeps working (``carry``) or is cancelled (``PARTICIPATION_CAP``).
    Unfilled limits/stops likewise carry or are cancelled (``NOT_FILLED``). Orders still
    working after the last bar end ``OPEN_AT_END``.

Prices and costs (each recorded per fill)
    Marketable fills (market, triggered stop) pay half the spread and a volatility-adjusted
    square-root impact per share, ``eta × sigma × sqrt(q / V) × mid`` (Almgren, Thum,
    Hauptmann & Li 2005, "Direct estimation of equity market impact"; Tóth et al. 2011,
    "Anomalous price impact and the critical nature of liquidity"), both inside the fill
    price. Passive limit fills pay the half spread (they fill at the limit on the ask/bid)
    but no impact. Commission = per-share × q + bps × notional, at least ``commission_min``
    per fill; turnover penalty = bps × notional. Both are charged in cash.

Accounting (exact, long/short, no financing or borrow costs)
    ``cash += −side × q × price − commission − penalty`` per fill; equity(t) = cash +
    Σ position × close(t) (the last known close while a symbol has no bar).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.errors import TorghutError
from torghut.sim import _kernel as k
from torghut.sim.market import Market

ORDER_TYPES = ("market", "limit", "stop")
STATUS_NAMES = ("working", "filled", "cancelled", "rejected", "replaced", "open_at_end")
REASON_NAMES = ("", "ZERO_VOLUME", "HALTED", "PRICE_COLLAR", "REJECT_BURST",
                "PARTICIPATION_CAP", "NOT_FILLED", "SUPERSEDED", "END_OF_DATA")
SIDE_NAMES = ("sell", "buy")  # indexed by (side > 0)
ORDER_LIST_COLUMNS = ("ts", "symbol", "side", "qty", "type", "limit_price", "stop_price")


@dataclass(frozen=True)
class SimResult:
    """Everything one run produced. ``fills`` and ``orders`` are tables, one row per item,
    built from the kernel's records on first use (a sweep that reads only the equity curve
    never pays for them)."""

    market: Market
    execution: ExecutionModel
    costs: CostModel
    capital: float
    equity: np.ndarray  # per bar, marked at the close
    cash: np.ndarray
    positions: np.ndarray  # T×S shares after each bar
    fill_records: np.ndarray  # kernel rows, columns as in torghut.sim._kernel (F_*)
    order_records: np.ndarray  # kernel rows (O_*)

    @cached_property
    def orders(self) -> pd.DataFrame:
        return orders_table(self.order_records, self.market)

    @cached_property
    def fills(self) -> pd.DataFrame:
        fills = fills_table(self.fill_records, self.market)
        ids = fills["order_id"].to_numpy()
        # Each fill names its order's type and how that order ended (e.g. a capped remainder).
        fills["type"] = self.orders["type"].array.take(ids)
        fills["order_status"] = self.orders["status"].array.take(ids)
        fills["order_reason"] = self.orders["reason"].array.take(ids)
        return fills

    @property
    def ts(self) -> pd.DatetimeIndex:
        return self.market.ts

    def equity_series(self) -> pd.Series:
        return pd.Series(self.equity, index=self.market.ts, name="equity")

    def returns(self) -> np.ndarray:
        """Simple per-bar returns, the first against the initial capital."""
        prev = np.concatenate([[self.capital], self.equity[:-1]])
        return self.equity / prev - 1.0


def simulate(market: Market, exposure: np.ndarray | None, execution: ExecutionModel,
             costs: CostModel, *, capital: float = 1_000_000.0,
             orders: pd.DataFrame | None = None) -> SimResult:
    """Run the simulator on target exposures (T×S) and/or an explicit order list."""
    if not (math.isfinite(capital) and capital > 0):
        raise TorghutError(f"must be a positive number, got {capital!r}", field="capital")
    shape = market.shape
    exp, changes = ((np.full(shape, np.nan), 0) if exposure is None
                    else _check_exposure(exposure, shape))
    requests = (np.zeros((0, 9)) if orders is None
                else order_requests(orders, market, execution.latency_bars))
    params = kernel_params(execution, costs, capital)
    order_cap = changes + shape[1] + len(requests) + 1024
    while True:
        fill_cap = 2 * order_cap
        out = k.simulate_kernel(market.open, market.high, market.low, market.close, market.mid,
                                market.volume, market.half, market.sigma, market.reject, exp,
                                requests, params, order_cap, fill_cap)
        equity, positions, cash, order_rows, n_orders, fill_rows, n_fills, ok = out
        if ok:
            break
        order_cap *= 4  # rare: many retries or long partial fills; rerun with more room
    return SimResult(market=market, execution=execution, costs=costs, capital=capital,
                     equity=equity, cash=cash, positions=positions,
                     fill_records=fill_rows[:n_fills], order_records=order_rows[:n_orders])


def kernel_params(execution: ExecutionModel, costs: CostModel, capital: float) -> np.ndarray:
    p = np.zeros(k.N_PARAMS)
    p[k.P_LATENCY] = execution.latency_bars
    p[k.P_ORDER_TYPE] = ORDER_TYPES.index(execution.order_type)
    p[k.P_LIMIT_OFF] = execution.limit_offset_bps
    p[k.P_STOP_OFF] = execution.stop_offset_bps
    p[k.P_PARTICIPATION] = execution.participation_rate or 0.0
    p[k.P_CARRY] = execution.remainder == "carry"
    p[k.P_HALT_CARRY] = execution.on_halt == "carry"
    p[k.P_COLLAR] = math.inf if execution.collar_pct is None else execution.collar_pct
    p[k.P_LOT] = execution.lot_size
    p[k.P_SIZE_AT_ACTIVATION] = execution.sizing == "activation"
    p[k.P_PER_SHARE] = costs.commission_per_share
    p[k.P_BPS] = costs.commission_bps
    p[k.P_MIN] = costs.commission_min
    p[k.P_SPREAD_ON] = costs.spread_crossing
    p[k.P_ETA] = costs.impact_eta
    p[k.P_PENALTY_BPS] = costs.turnover_penalty_bps
    p[k.P_CAPITAL] = capital
    return p


def _check_exposure(exposure: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The exposures as a C-contiguous float64 array, and how many level changes they hold."""
    exp: np.ndarray = np.ascontiguousarray(exposure, dtype=np.float64)
    if exp.shape != shape:
        raise TorghutError(f"shape {exp.shape} does not match the bars {shape}",
                           field="exposure")
    bad, changes = k.scan_exposure(exp)
    if bad:
        raise TorghutError("exposures must be NaN (no decision) or within [-1, 1]",
                           field="exposure")
    return exp, int(changes)


def exposure_matrix(signals: pd.DataFrame, market: Market) -> np.ndarray:
    """Pivot a (ts, symbol, exposure) table onto the market clock; NaN where absent."""
    ts_pos = market.ts.get_indexer(pd.DatetimeIndex(signals["ts"]))
    sym_pos = pd.Index(market.symbols).get_indexer(signals["symbol"].to_numpy(dtype=object))
    if (ts_pos < 0).any() or (sym_pos < 0).any():
        raise TorghutError("signal rows at a (ts, symbol) that has no bar", field="signals")
    out = np.full(market.shape, np.nan)
    out[ts_pos, sym_pos] = signals["exposure"].to_numpy(dtype=np.float64)
    return out


def order_requests(orders: pd.DataFrame, market: Market, latency: int) -> np.ndarray:
    """Explicit orders (decided at the close of ``ts``) as kernel rows, by active bar."""
    missing = [c for c in ORDER_LIST_COLUMNS[:5] if c not in orders.columns]
    if missing:
        raise TorghutError(f"missing column(s) {', '.join(missing)}", field="orders")
    n = len(orders)
    decision = market.ts.get_indexer(pd.DatetimeIndex(orders["ts"]))
    sym = pd.Index(market.symbols).get_indexer(orders["symbol"].to_numpy(dtype=object))
    side_map = {"buy": 1.0, "sell": -1.0}
    side = np.array([side_map.get(str(v), np.nan) for v in orders["side"]])
    kind = np.array([ORDER_TYPES.index(v) if v in ORDER_TYPES else -1 for v in orders["type"]])
    qty = orders["qty"].to_numpy(dtype=np.float64)
    limit = _optional(orders, "limit_price", n)
    stop = _optional(orders, "stop_price", n)
    problems = [("ts", decision < 0, "not a bar timestamp"),
                ("symbol", sym < 0, "unknown symbol"),
                ("side", np.isnan(side), "must be buy or sell"),
                ("type", kind < 0, f"must be one of {', '.join(ORDER_TYPES)}"),
                ("qty", ~(np.isfinite(qty) & (qty > 0)), "must be a positive number"),
                ("limit_price", (kind == 1) & ~(limit > 0), "a limit order needs a price > 0"),
                ("stop_price", (kind == 2) & ~(stop > 0), "a stop order needs a price > 0")]
    for field, bad, message in problems:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TorghutError(f"row {row + 1}: {message}", field=f"orders.{field}")
    rows = np.column_stack([decision + latency, sym, side, qty, kind, limit, stop,
                            market.mid[decision, sym], decision]).astype(np.float64)
    ordered: np.ndarray = rows[np.argsort(rows[:, 0], kind="stable")]
    return np.ascontiguousarray(ordered)


def _optional(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame.columns:
        return np.full(n, np.nan)
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def fills_table(rows: np.ndarray, market: Market) -> pd.DataFrame:
    """One row per fill with its full cost breakdown and arrival slippage."""
    bar = rows[:, k.F_BAR].astype(np.int64)
    side = rows[:, k.F_SIDE]
    price, arrival, qty = rows[:, k.F_PRICE], rows[:, k.F_ARRIVAL], rows[:, k.F_QTY]
    return pd.DataFrame({
        "ts": market.ts[bar], "bar": bar,
        "symbol": _labels(rows[:, k.F_SYM], market.symbols),
        "order_id": rows[:, k.F_ORDER].astype(np.int64),
        "side": _labels(side > 0, SIDE_NAMES), "qty": qty, "price": price,
        "arrival_mid": arrival, "commission": rows[:, k.F_COMMISSION],
        "spread_cost": rows[:, k.F_SPREAD], "impact_cost": rows[:, k.F_IMPACT],
        "penalty": rows[:, k.F_PENALTY], "bar_volume": rows[:, k.F_VOLUME],
        "slippage_bps": side * (price - arrival) / arrival * 1e4,
    })


def orders_table(rows: np.ndarray, market: Market) -> pd.DataFrame:
    """One row per order: request, outcome and reason code (rejections included)."""
    end = rows[:, k.O_END].astype(np.int64)
    return pd.DataFrame({
        "order_id": np.arange(len(rows)),
        "symbol": _labels(rows[:, k.O_SYM], market.symbols),
        "decision_ts": market.ts[rows[:, k.O_DECISION].astype(np.int64)],
        "active_ts": market.ts[rows[:, k.O_ACTIVE].astype(np.int64)],
        "end_bar": end,
        "side": _labels(rows[:, k.O_SIDE] > 0, SIDE_NAMES),
        "type": _labels(rows[:, k.O_TYPE], ORDER_TYPES),
        "qty": rows[:, k.O_QTY], "filled": rows[:, k.O_FILLED],
        "limit_price": np.where(rows[:, k.O_TYPE] == k.LIMIT, rows[:, k.O_LIMIT], np.nan),
        "stop_price": np.where(rows[:, k.O_TYPE] == k.STOP, rows[:, k.O_STOP], np.nan),
        "arrival_mid": rows[:, k.O_ARRIVAL],
        "status": _labels(rows[:, k.O_STATUS], STATUS_NAMES),
        "reason": _labels(rows[:, k.O_REASON], REASON_NAMES),
    })


def _labels(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """Integer codes from the kernel as a categorical of ``names`` (no per-row strings)."""
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=list(names))
