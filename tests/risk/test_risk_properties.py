"""Property tests of the chain against an independent model of open + filled exposure.

For random limits and random streams of orders, fills, closes and kill-switch changes
(prices fixed per symbol, so every limit can be recomputed exactly): no accepted order ever
leaves a breached limit, the chain's own gross agrees with the model, after a HALTED engage
nothing passes, REDUCING passes only orders that really reduce, every reject has a code and
a control, and every pass carries a token for exactly what may be sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.risk.chain_helpers import Board, config, fill_for, later, limits, make_chain, order
from torghut.contracts.orders import KillState, OrderRequest, RiskAction, RiskCode, Side
from torghut.risk.chain import ChainSettings, RiskChain

Op = tuple[Any, ...]  # ("order", strategy, symbol, side, qty, reduces) / fill / close / kill
MIDS = {"AAA": 50.0, "BBB": 80.0, "CCC": 120.0}
SYMBOLS = tuple(MIDS)
STRATEGIES = ("alpha", "beta")
TOL = 1e-6

orders = st.tuples(st.just("order"), st.sampled_from(STRATEGIES), st.sampled_from(SYMBOLS),
                   st.sampled_from((Side.BUY, Side.SELL)), st.integers(1, 120), st.booleans())
ops = st.one_of(  # orders weighted 4:2:1:1 against fills, closes and kill-switch changes
    orders, orders, orders, orders,
    st.tuples(st.just("fill"), st.integers(0, 50), st.floats(0.05, 1.0)),
    st.tuples(st.just("fill"), st.integers(0, 50), st.just(1.0)),
    st.tuples(st.just("close"), st.integers(0, 50)),
    st.tuples(st.just("kill"), st.sampled_from(("firm", "strategy:alpha", "symbol:BBB")),
              st.sampled_from((KillState.ACTIVE, KillState.ACTIVE, KillState.REDUCING,
                               KillState.REDUCING, KillState.HALTED))),
)


@dataclass
class Model:
    """Exposure recomputed from scratch: positions plus every order not yet done."""

    position: dict[tuple[str, str], float] = field(default_factory=dict)
    remaining: dict[str, tuple[OrderRequest, float]] = field(default_factory=dict)
    working: list[str] = field(default_factory=list)

    def sides(self, key: tuple[str, str]) -> tuple[float, float, float]:
        pos = self.position.get(key, 0.0)
        buys = sum(q for r, q in self.remaining.values()
                   if (r.strategy_id, r.symbol) == key and r.side is Side.BUY)
        sells = sum(q for r, q in self.remaining.values()
                    if (r.strategy_id, r.symbol) == key and r.side is Side.SELL)
        return pos, buys, sells

    def notional(self, key: tuple[str, str]) -> float:
        pos, buys, sells = self.sides(key)
        return max(abs(pos + buys), abs(pos - sells)) * MIDS[key[1]]

    def keys(self) -> set[tuple[str, str]]:
        return set(self.position) | {(r.strategy_id, r.symbol)
                                     for r, _ in self.remaining.values()}

    def firm(self) -> float:
        return sum(self.notional(k) for k in self.keys())

    def symbol(self, sym: str) -> float:
        return sum(self.notional(k) for k in self.keys() if k[1] == sym)

    def really_reduces(self, request: OrderRequest, qty: float) -> bool:
        pos, buys, sells = self.sides((request.strategy_id, request.symbol))
        if request.side is Side.SELL:
            return pos > 0 and pos - sells - qty >= -TOL
        return pos < 0 and pos + buys + qty <= TOL


limit_sets = st.fixed_dictionaries({
    "position": st.floats(1_000, 20_000), "gross": st.floats(1_000, 40_000),
    "open_orders": st.integers(1, 8), "order_value": st.floats(2_000, 50_000),
    "symbol_cap": st.one_of(st.none(), st.floats(1_000, 20_000)),
})


def _chain(lim: dict[str, float | None], board: Board) -> RiskChain:
    strategy = limits(instruments=SYMBOLS, max_position_notional=lim["position"],
                      max_order_value=lim["order_value"])
    cfg = config(dict.fromkeys(STRATEGIES, strategy),
                 firm={"max_gross_notional": lim["gross"],
                       "max_open_orders": lim["open_orders"]})
    caps = {} if lim["symbol_cap"] is None else {"BBB": lim["symbol_cap"]}
    return make_chain(cfg, board=board, settings=ChainSettings(symbol_limits=caps))


def _apply_order(chain: RiskChain, model: Model, board: Board, step: int,
                 op: Op, lim: dict[str, float | None]) -> None:
    _, sid, sym, side, qty, reduces = op
    request = order(f"o{step}", strategy=sid, symbol=sym, side=side, qty=float(qty),
                    mid=MIDS[sym], at=later(step * 0.6), reduces_exposure=bool(reduces))
    state = board.state_for(sid, sym)
    verdict = chain.check(request, now=later(step * 0.6))
    decision = verdict.decision
    if not verdict.passed:
        assert decision.action is RiskAction.REJECT
        assert decision.code not in (RiskCode.ACCEPTED, RiskCode.CLIPPED_POSITION)
        assert decision.control, decision
        assert verdict.token is None and decision.approved_qty == 0
        return
    assert state is not KillState.HALTED, "an order passed while HALTED"
    approved = decision.approved_qty
    assert 0 < approved <= request.qty
    assert verdict.token is not None
    assert chain.verify_token(verdict.token, verdict.to_send())
    if state is KillState.REDUCING:
        assert reduces and model.really_reduces(request, approved), decision
    key = (sid, sym)
    before = {"key": model.notional(key), "firm": model.firm(), "sym": model.symbol(sym)}
    model.remaining[request.client_order_id] = (verdict.to_send(), approved)
    model.working.append(request.client_order_id)
    checks = [("key", model.notional(key), lim["position"]),
              ("firm", model.firm(), lim["gross"])]
    if lim["symbol_cap"] is not None and sym == "BBB":
        checks.append(("sym", model.symbol(sym), lim["symbol_cap"]))
    for name, value, cap in checks:
        assert cap is not None
        # the order left every limit intact, or did not add exposure at all
        assert value <= cap * (1 + 1e-9) + TOL or value <= before[name] + TOL, (name, value,
                                                                                 cap, decision)
    assert len(model.working) <= int(lim["open_orders"] or 0)


def _apply_event(chain: RiskChain, model: Model, step: int, op: Op) -> None:
    if not model.remaining:
        return
    coids = sorted(model.remaining)
    coid = coids[op[1] % len(coids)]
    request, left = model.remaining[coid]
    if op[0] == "fill":
        qty = min(left, float(math.ceil(op[2] * left)))
        chain.on_fill(fill_for(request, qty=qty, at=later(step * 0.6)))
        key = (request.strategy_id, request.symbol)
        model.position[key] = model.position.get(key, 0.0) + request.side.sign * qty
        left -= qty
    else:
        chain.on_order_closed(coid, left)
        left = 0.0
    if coid in model.working and (left <= TOL or op[0] == "close"):
        model.working.remove(coid)
    if left <= TOL:
        del model.remaining[coid]
    else:
        model.remaining[coid] = (request, left)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(lim=limit_sets, stream=st.lists(ops, min_size=30, max_size=100))
def test_no_accepted_order_leaves_a_breached_limit(lim: dict[str, float | None],
                                                   stream: list[Op]) -> None:
    board = Board()
    chain, model = _chain(lim, board), Model()
    for step, op in enumerate(stream):
        if op[0] == "order":
            _apply_order(chain, model, board, step, op, lim)
        elif op[0] == "kill":
            board.set(op[1], op[2])
        else:
            _apply_event(chain, model, step, op)
        assert abs(chain.firm_gross - model.firm()) <= 1e-6 * max(1.0, model.firm())
        assert chain.working_orders == len(model.working)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(before=st.lists(orders, max_size=20), after=st.lists(orders, min_size=1, max_size=30),
       scope=st.sampled_from(("firm", "strategy:alpha", "symbol:AAA")))
def test_after_a_halted_engage_no_new_order_passes(before: list[Op],
                                                   after: list[Op],
                                                   scope: str) -> None:
    board = Board()
    chain = make_chain(config(dict.fromkeys(STRATEGIES, limits(instruments=SYMBOLS))),
                       board=board)
    step = 0
    for op in before:
        if op[0] == "order":
            chain.check(order(f"o{step}", strategy=op[1], symbol=op[2], side=op[3],
                              qty=float(op[4]), mid=MIDS[op[2]],
                              at=later(step)), now=later(step))
        step += 1
    board.set(scope, KillState.HALTED)
    for op in after:
        if op[0] != "order":
            continue
        request = order(f"o{step}", strategy=op[1], symbol=op[2], side=op[3],
                        qty=float(op[4]), mid=MIDS[op[2]], at=later(step),
                        reduces_exposure=bool(op[5]))
        verdict = chain.check(request, now=later(step))
        step += 1
        in_scope = scope == "firm" or scope == f"strategy:{op[1]}" or scope == f"symbol:{op[2]}"
        if in_scope:
            assert not verdict.passed
            assert verdict.decision.code is RiskCode.TRADING_HALTED


@settings(max_examples=80, deadline=None, derandomize=True)
@given(held=st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(-80, 80)), max_size=6),
       stream=st.lists(st.tuples(st.just("order"), st.sampled_from(("alpha", "alpha", "beta")),
                                 st.sampled_from(SYMBOLS), st.sampled_from((Side.BUY, Side.SELL)),
                                 st.integers(1, 40), st.booleans()), min_size=1, max_size=40))
def test_reducing_passes_exactly_the_orders_that_really_reduce(
        held: list[tuple[str, int]], stream: list[Op]) -> None:
    board = Board()
    chain = make_chain(config(dict.fromkeys(STRATEGIES, limits(instruments=SYMBOLS,
                                                               max_order_value=1e7,
                                                               max_position_notional=1e7))),
                       board=board)
    model = Model()
    for i, (sym, qty) in enumerate(held):  # positions built while ACTIVE, then filled
        if qty:
            side = Side.BUY if qty > 0 else Side.SELL
            v = chain.check(order(f"h{i}", strategy="alpha", symbol=sym, side=side,
                                  qty=float(abs(qty)), mid=MIDS[sym], at=later(i)),
                            now=later(i))
            assert v.passed
            chain.on_fill(fill_for(v.request, at=later(i)))
            key = ("alpha", sym)
            model.position[key] = model.position.get(key, 0.0) + qty
    board.set("firm", KillState.REDUCING)
    for step, (_, sid, sym, side, qty, flag) in enumerate(stream, start=len(held)):
        request = order(f"r{step}", strategy=sid, symbol=sym, side=side,
                        qty=float(qty), mid=MIDS[sym], at=later(step),
                        reduces_exposure=bool(flag))
        expected = bool(flag) and model.really_reduces(request, request.qty)
        verdict = chain.check(request, now=later(step))
        assert verdict.passed == expected, (verdict.decision, model.sides((sid, sym)))
        if verdict.passed:
            model.remaining[request.client_order_id] = (request, request.qty)
        else:
            assert verdict.decision.code is RiskCode.TRADING_REDUCING
