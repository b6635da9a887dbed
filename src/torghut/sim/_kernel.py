"""The simulator's hot loop (numba): bars × symbols, preallocated outputs, no Python objects.

Rules are documented in :mod:`torghut.sim.engine`; this module only implements them. Codes
shared with the engine are plain ints so the kernel stays nopython.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MARKET, LIMIT, STOP = 0, 1, 2
WORKING, FILLED, CANCELLED, REJECTED, REPLACED, OPEN_AT_END = 0, 1, 2, 3, 4, 5
(NO_REASON, ZERO_VOLUME, HALTED, PRICE_COLLAR, REJECT_BURST, PARTICIPATION_CAP, NOT_FILLED,
 SUPERSEDED, END_OF_DATA) = range(9)
EPS = 1e-9

# Order table columns (float64 matrix, one row per order).
(O_SYM, O_SIDE, O_QTY, O_FILLED, O_TYPE, O_LIMIT, O_STOP, O_ARRIVAL, O_DECISION, O_ACTIVE,
 O_END, O_STATUS, O_REASON, O_TRIED) = range(14)
ORDER_COLS = 14
# Fill table columns.
(F_BAR, F_SYM, F_ORDER, F_SIDE, F_QTY, F_PRICE, F_ARRIVAL, F_COMMISSION, F_SPREAD, F_IMPACT,
 F_PENALTY, F_VOLUME) = range(12)
FILL_COLS = 12
# Scalar parameters, packed in one float64 vector so the signature stays short.
(P_LATENCY, P_ORDER_TYPE, P_LIMIT_OFF, P_STOP_OFF, P_PARTICIPATION, P_CARRY, P_HALT_CARRY,
 P_COLLAR, P_LOT, P_PER_SHARE, P_BPS, P_MIN, P_SPREAD_ON, P_ETA, P_PENALTY_BPS,
 P_CAPITAL, P_SIZE_AT_ACTIVATION) = range(17)
N_PARAMS = 17


@njit(cache=True, inline="always", error_model="numpy")
def _lot_round(x: float, lot: float) -> float:
    """Round toward zero to a multiple of ``lot`` (0 = fractional)."""
    if lot <= 0.0:
        return x
    return math.trunc(x / lot + math.copysign(EPS, x)) * lot


# Per-fill scalar rules, shared with the paper/shadow execution adapters
# (torghut.runtime.adapters.paper) so a paper fill and a simulated fill are the same numbers.
# Each is inlined into the kernel; Python callers get the same compiled arithmetic.


@njit(cache=True, inline="always", error_model="numpy")
def collar_breached(level: float, open_: float, collar: float) -> bool:
    """A limit/stop further than ``collar`` (a fraction) from the active bar's open."""
    return abs(level - open_) > collar * open_


@njit(cache=True, inline="always", error_model="numpy")
def quote_half(half: float, spread_on: bool) -> float:
    """The half spread a fill pays: zero when spread crossing is off or unknown (NaN)."""
    hs = half if spread_on else 0.0
    if math.isnan(hs):
        hs = 0.0
    return hs


@njit(cache=True, inline="always", error_model="numpy")
def touch_price(kind: int, side: float, open_: float, high: float, low: float, hs: float,
                level: float) -> float:
    """Fill price before impact, on the order's side of the quote (ask for buys, bid for
    sells); NaN when the bar does not reach the order (limit not traded through, stop not
    triggered). Gaps through the level fill at the open."""
    q_open, q_high, q_low = open_ + side * hs, high + side * hs, low + side * hs
    if kind == MARKET:
        return q_open
    if kind == LIMIT:
        through = q_low < level if side > 0 else q_high > level
        if not through:
            return math.nan
        return min(q_open, level) if side > 0 else max(q_open, level)
    triggered = q_high >= level if side > 0 else q_low <= level
    if not triggered:
        return math.nan
    return max(q_open, level) if side > 0 else min(q_open, level)


@njit(cache=True, inline="always", error_model="numpy")
def capped_qty(remaining: float, participation: float, volume: float, lot: float) -> float:
    """What can fill on this bar: the remainder, capped at ``participation × volume`` (0 = no
    cap), rounded toward zero to the lot."""
    qty = remaining
    if participation > 0.0:
        qty = min(qty, participation * volume)
    return _lot_round(qty, lot)


@njit(cache=True, inline="always", error_model="numpy")
def impact_per_share(eta: float, sigma: float, qty: float, volume: float,
                     ref_mid: float) -> float:
    """Square-root impact ``eta × sigma × sqrt(q / V) × mid`` (Almgren et al. 2005); zero
    without a coefficient or a volatility estimate."""
    if eta > 0.0 and not math.isnan(sigma):
        return eta * sigma * math.sqrt(qty / volume) * ref_mid
    return 0.0


@njit(cache=True, inline="always", error_model="numpy")
def commission(per_share: float, bps: float, minimum: float, qty: float,
               notional: float) -> float:
    """Per-share plus bps of notional, at least ``minimum`` per fill when that is > 0."""
    fee = per_share * qty + bps * 1e-4 * notional
    if minimum > 0.0 and fee < minimum:
        fee = minimum
    return fee


@njit(cache=True, inline="always", error_model="numpy")
def turnover_penalty(bps: float, notional: float) -> float:
    """The turnover penalty charged in cash: bps of traded notional."""
    return bps * 1e-4 * notional


@njit(cache=True, error_model="numpy")
def scan_exposure(exposure):  # pragma: no cover - compiled
    """One pass over the T×S exposures: (values outside [-1, 1] or infinite, decisions that
    change a symbol's level) — validation and order-buffer sizing without temporaries."""
    n_bars, n_sym = exposure.shape
    bad, changes = 0, 0
    for s in range(n_sym):
        prev = 0.0
        for t in range(n_bars):
            e = exposure[t, s]
            if math.isnan(e):
                continue
            if not (-1.0 <= e <= 1.0):
                bad += 1
            elif e != prev:
                changes += 1
                prev = e
    return bad, changes


@njit(cache=True, error_model="numpy")
def simulate_kernel(o, h, lo, c, mid, vol, half, sigma, reject, exposure, requests, p,
                    order_cap, fill_cap):  # pragma: no cover - compiled
    """Run the bars; returns (equity, positions, cash, orders, n_orders, fills, n_fills, ok).

    ``requests``: explicit orders, rows (active bar, sym, side, qty, type, limit, stop,
    arrival, decision bar), sorted by active bar. ``ok`` is False when a capacity ran out
    (the caller retries with more room).
    """
    n_bars, n_sym = c.shape
    latency = int(p[P_LATENCY])
    lot, carry, halt_carry = p[P_LOT], p[P_CARRY] > 0, p[P_HALT_CARRY] > 0
    at_activation = p[P_SIZE_AT_ACTIVATION] > 0  # pending holds exposures, not shares
    equity = np.empty(n_bars)
    cash_out = np.empty(n_bars)
    positions = np.empty((n_bars, n_sym))
    orders = np.zeros((order_cap, ORDER_COLS))
    fills = np.zeros((fill_cap, FILL_COLS))
    pos = np.zeros(n_sym)
    last_close = np.full(n_sym, np.nan)
    prev_exp = np.zeros(n_sym)
    target = np.zeros(n_sym)
    pending = np.full((latency + 1, n_sym), np.nan)  # decided targets in flight
    in_flight = np.zeros(n_sym, dtype=np.int64)
    working_of = np.full(n_sym, -1, dtype=np.int64)  # the symbol's target order
    work = np.empty(order_cap, dtype=np.int64)
    n_work, n_orders, n_fills, next_req = 0, 0, 0, 0
    cash = p[P_CAPITAL]
    ring = latency + 1
    decide_slot = 0  # t % ring, kept by rotation: a modulo per bar costs more than the bar
    for t in range(n_bars):
        # 1. Orders becoming active at t: targets decided at t - latency, then explicit ones.
        if t >= latency:
            # (t - latency) % ring == (t + 1) % ring: the slot after this bar's decision slot
            slot = decide_slot + 1 if decide_slot + 1 < ring else 0
            for s in range(n_sym):
                tgt = pending[slot, s]
                if math.isnan(tgt):
                    continue
                pending[slot, s] = np.nan
                in_flight[s] -= 1
                k = working_of[s]
                if k >= 0 and orders[k, O_STATUS] == WORKING:
                    orders[k, O_STATUS] = REPLACED
                    orders[k, O_REASON] = SUPERSEDED
                    orders[k, O_END] = t
                working_of[s] = -1
                if at_activation:
                    tgt = _size_at_open(tgt, s, cash, pos, o[t], last_close, n_sym, lot, p)
                    target[s] = tgt
                qty = tgt - pos[s]
                if abs(qty) <= EPS:
                    continue
                if n_orders == order_cap:
                    return equity, positions, cash_out, orders, n_orders, fills, n_fills, False
                side = 1.0 if qty > 0 else -1.0
                arrival = mid[t - latency, s]
                k = n_orders
                orders[k, O_SYM] = s
                orders[k, O_SIDE] = side
                orders[k, O_QTY] = abs(qty)
                orders[k, O_TYPE] = p[P_ORDER_TYPE]
                orders[k, O_LIMIT] = arrival * (1.0 - side * p[P_LIMIT_OFF] * 1e-4)
                orders[k, O_STOP] = arrival * (1.0 + side * p[P_STOP_OFF] * 1e-4)
                orders[k, O_ARRIVAL] = arrival
                orders[k, O_DECISION] = t - latency
                orders[k, O_ACTIVE] = t
                orders[k, O_END] = -1
                n_orders += 1
                working_of[s] = k
                work[n_work] = k
                n_work += 1
        while next_req < requests.shape[0] and requests[next_req, 0] <= t:
            if n_orders == order_cap:
                return equity, positions, cash_out, orders, n_orders, fills, n_fills, False
            k = n_orders
            r = requests[next_req]
            orders[k, O_SYM] = r[1]
            orders[k, O_SIDE] = r[2]
            orders[k, O_QTY] = r[3]
            orders[k, O_TYPE] = r[4]
            orders[k, O_LIMIT] = r[5]
            orders[k, O_STOP] = r[6]
            orders[k, O_ARRIVAL] = r[7]
            orders[k, O_DECISION] = r[8]
            orders[k, O_ACTIVE] = t
            orders[k, O_END] = -1
            n_orders += 1
            next_req += 1
            work[n_work] = k
            n_work += 1
        # 2. Fill attempts, in order of creation; compact the working list as we go.
        kept = 0
        for w in range(n_work):
            k = work[w]
            if orders[k, O_STATUS] != WORKING:
                continue
            if n_fills == fill_cap:
                return equity, positions, cash_out, orders, n_orders, fills, n_fills, False
            filled = _attempt(k, t, orders, fills, n_fills, o, h, lo, vol, half, sigma, reject,
                              p, carry, halt_carry, lot)
            if filled > 0.0:
                s = int(orders[k, O_SYM])
                side = orders[k, O_SIDE]
                pos[s] += side * filled
                f = fills[n_fills]
                cash -= (side * filled * f[F_PRICE] + f[F_COMMISSION] + f[F_PENALTY])
                n_fills += 1
            if orders[k, O_STATUS] == WORKING:
                work[kept] = k
                kept += 1
        n_work = kept
        # 3. Mark to the close (the last known close while a symbol has no bar).
        value = 0.0
        for s in range(n_sym):
            if not math.isnan(c[t, s]):
                last_close[s] = c[t, s]
            if pos[s] != 0.0:
                value += pos[s] * last_close[s]
            positions[t, s] = pos[s]
        eq = cash + value
        equity[t] = eq
        cash_out[t] = cash
        # 4. Decisions at the close of t (active from t + latency).
        slot = decide_slot
        for s in range(n_sym):
            e = exposure[t, s]
            if math.isnan(e) or math.isnan(c[t, s]):
                continue
            changed = e != prev_exp[s]
            if changed:
                prev_exp[s] = e
                if not at_activation:
                    target[s] = _lot_round(e * eq / n_sym / c[t, s], lot)
            idle = in_flight[s] == 0 and (working_of[s] < 0
                                          or orders[working_of[s], O_STATUS] != WORKING)
            if changed or (idle and abs(target[s] - pos[s]) > EPS):
                if not math.isnan(pending[slot, s]):
                    in_flight[s] -= 1
                pending[slot, s] = prev_exp[s] if at_activation else target[s]
                in_flight[s] += 1
        decide_slot = decide_slot + 1 if decide_slot + 1 < ring else 0
    for w in range(n_work):
        k = work[w]
        if orders[k, O_STATUS] == WORKING:
            orders[k, O_STATUS] = OPEN_AT_END
            orders[k, O_REASON] = END_OF_DATA
            orders[k, O_END] = n_bars - 1
    return equity, positions, cash_out, orders, n_orders, fills, n_fills, True


@njit(cache=True, error_model="numpy")
def _size_at_open(exposure, s, cash, pos, opens, last_close, n_sym, lot, p):  # pragma: no cover
    """Target shares for ``exposure`` at this bar's open: equity marked at the open (the last
    close where a symbol has no open), an equal budget per symbol, and room left for the
    proportional commission so the position plus its fee fits the budget."""
    equity = cash
    for j in range(n_sym):
        if pos[j] != 0.0:
            mark = opens[j] if not math.isnan(opens[j]) else last_close[j]
            equity += pos[j] * mark
    price = opens[s] if not math.isnan(opens[s]) else last_close[s]
    if math.isnan(price) or price <= 0.0:
        return pos[s]  # nothing to price the target with: keep the position
    unit = price * (1.0 + p[P_BPS] * 1e-4) + p[P_PER_SHARE]
    return _lot_round(exposure * equity / n_sym / unit, lot)


@njit(cache=True, error_model="numpy")
def _close(orders, k, t, status, reason):  # pragma: no cover - compiled
    orders[k, O_STATUS] = status
    orders[k, O_REASON] = reason
    orders[k, O_END] = t


@njit(cache=True, error_model="numpy")
def _attempt(k, t, orders, fills, n_fills, o, h, lo, vol, half, sigma, reject, p, carry,
             halt_carry, lot):  # pragma: no cover - compiled
    """Try to fill order k on bar t; write the fill row, update status; return the qty."""
    s = int(orders[k, O_SYM])
    side = orders[k, O_SIDE]
    kind = int(orders[k, O_TYPE])
    op = o[t, s]
    if math.isnan(op):
        if not halt_carry:
            _close(orders, k, t, REJECTED, HALTED)
        return 0.0
    if vol[t, s] <= 0.0:
        _close(orders, k, t, REJECTED, ZERO_VOLUME)
        return 0.0
    if reject[t, s]:
        _close(orders, k, t, REJECTED, REJECT_BURST)
        return 0.0
    level = orders[k, O_LIMIT] if kind == LIMIT else orders[k, O_STOP]
    if kind != MARKET and orders[k, O_TRIED] == 0.0 and collar_breached(level, op, p[P_COLLAR]):
        _close(orders, k, t, REJECTED, PRICE_COLLAR)
        return 0.0
    orders[k, O_TRIED] = 1.0
    hs = quote_half(half[t, s], p[P_SPREAD_ON] > 0)
    price = touch_price(kind, side, op, h[t, s], lo[t, s], hs, level)
    if math.isnan(price):
        return _unfilled(orders, k, t, carry, NOT_FILLED)
    qty = capped_qty(orders[k, O_QTY] - orders[k, O_FILLED], p[P_PARTICIPATION], vol[t, s],
                     lot)
    if qty <= EPS:
        return _unfilled(orders, k, t, carry, PARTICIPATION_CAP)
    ref_mid = price - side * hs
    impact = 0.0
    if kind != LIMIT:  # marketable: market, triggered stop
        impact = impact_per_share(p[P_ETA], sigma[t, s], qty, vol[t, s], ref_mid)
        price += side * impact
    notional = qty * price
    f = fills[n_fills]
    f[F_BAR] = t
    f[F_SYM] = s
    f[F_ORDER] = k
    f[F_SIDE] = side
    f[F_QTY] = qty
    f[F_PRICE] = price
    f[F_ARRIVAL] = orders[k, O_ARRIVAL]
    f[F_COMMISSION] = commission(p[P_PER_SHARE], p[P_BPS], p[P_MIN], qty, notional)
    f[F_SPREAD] = hs * qty
    f[F_IMPACT] = impact * qty
    f[F_PENALTY] = turnover_penalty(p[P_PENALTY_BPS], notional)
    f[F_VOLUME] = vol[t, s]
    orders[k, O_FILLED] += qty
    if orders[k, O_QTY] - orders[k, O_FILLED] <= EPS:
        _close(orders, k, t, FILLED, NO_REASON)
    elif not carry:
        _close(orders, k, t, CANCELLED, PARTICIPATION_CAP)
    return qty


@njit(cache=True, error_model="numpy")
def _unfilled(orders, k, t, carry, reason):  # pragma: no cover - compiled
    if not carry:
        _close(orders, k, t, CANCELLED, reason)
    return 0.0
