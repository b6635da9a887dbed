"""The allocator: budgets, multipliers, caps, lots, reason codes, deterministic ids, and
orders the risk chain accepts."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.risk.chain_helpers import NOW, Board, config, fill_for, limits, make_chain
from torghut.contracts.orders import CLIENT_ORDER_ID_PATTERN, KillState, OrderRequest, Side
from torghut.contracts.runtime_config import RuntimeConfig
from torghut.errors import TorghutError
from torghut.risk.allocator import Allocation, AllocationCode, Allocator

BIG: dict[str, Any] = dict(max_order_value=1e9, max_position_notional=1e9)
PRICES = {"AAA": 100.0, "BBB": 40.0, "CCC": 250.0}


def _alloc(cfg: RuntimeConfig | None = None, promoted: dict[str, str] | None = None,
           **kwargs: Any) -> Allocator:
    cfg = cfg or config({"tsmom": limits(**BIG), "meanrev": limits(**BIG)})
    promoted = promoted if promoted is not None else {sid: f"{sid}@1.0.0" for sid in cfg.limits}
    kwargs.setdefault("concentration_cap", 1.0)
    return Allocator(cfg, promoted, session_id="sess-1", operator="paper-runtime", **kwargs)


def _one(allocs: list[Allocation], sid: str, symbol: str) -> Allocation:
    (found,) = [a for a in allocs if (a.strategy_id, a.symbol) == (sid, symbol)]
    return found


def test_default_budget_is_an_equal_split_of_firm_gross_over_enabled_strategies() -> None:
    alloc = _alloc()
    capital = config().firm_limits.max_gross_notional
    assert alloc.budget("tsmom") == alloc.budget("meanrev") == capital / 2
    out = alloc.allocate({"tsmom": {"AAA": 0.5}}, prices=PRICES, positions={}, now=NOW)
    got = _one(out, "tsmom", "AAA")
    per_symbol = capital / 2 / 3  # three instruments
    expected_qty = math.floor(0.5 * per_symbol / PRICES["AAA"])
    assert got.code is AllocationCode.ORDERED
    assert got.target_qty == expected_qty
    (request,) = got.orders
    assert (request.side, request.qty, request.reduces_exposure) == (Side.BUY, expected_qty,
                                                                      False)
    assert (request.strategy_type, request.version, request.venue) == ("tsmom", "1.0.0",
                                                                        "paper")
    assert request.reference_mid == PRICES["AAA"] and request.decision_ts == NOW


def test_not_promoted_or_without_limits_is_not_enabled() -> None:
    cfg = config({"tsmom": limits(**BIG)})
    alloc = _alloc(cfg, {"tsmom": "tsmom@1.0.0", "breakout": "breakout@2.0.0"})
    assert alloc.budget("tsmom") == cfg.firm_limits.max_gross_notional  # only one enabled
    out = alloc.allocate({"breakout": {"AAA": 1.0}}, prices=PRICES, positions={}, now=NOW)
    assert out[0].code is AllocationCode.NOT_ENABLED and not out[0].orders


def test_position_cap_clips_the_budget() -> None:
    cfg = config({"tsmom": limits(max_order_value=1e9, max_position_notional=20_000.0)})
    out = _alloc(cfg).allocate({"tsmom": {"AAA": -1.0}}, prices=PRICES, positions={},
                               now=NOW)
    got = out[0]
    assert got.code is AllocationCode.CLIPPED_BUDGET
    assert got.target_notional == -20_000.0
    assert got.orders[0].side is Side.SELL and got.orders[0].qty == 200


def test_regime_and_capacity_multipliers_scale_the_target() -> None:
    alloc = _alloc()
    plain = alloc.allocate({"tsmom": {"AAA": 1.0}}, prices=PRICES, positions={}, now=NOW)
    scaled = alloc.allocate({"tsmom": {"AAA": 1.0}}, prices=PRICES, positions={}, now=NOW,
                            regime={"tsmom": 0.5}, capacity={"AAA": 0.4})
    assert scaled[0].target_notional == pytest.approx(plain[0].target_notional * 0.5 * 0.4)
    with pytest.raises(TorghutError) as bad:
        alloc.allocate({"tsmom": {"AAA": 1.0}}, prices=PRICES, positions={}, now=NOW,
                       regime=1.5)
    assert bad.value.field == "regime.tsmom"


def test_concentration_cap_scales_every_strategy_in_the_symbol() -> None:
    alloc = _alloc(concentration_cap=0.1)
    out = alloc.allocate({"tsmom": {"AAA": 1.0, "BBB": 0.01}, "meanrev": {"AAA": -0.5}},
                         prices=PRICES, positions={}, now=NOW)
    cap = 0.1 * alloc.capital
    a, b = _one(out, "tsmom", "AAA"), _one(out, "meanrev", "AAA")
    assert a.code is b.code is AllocationCode.CONCENTRATION_CAP
    assert abs(a.target_notional) + abs(b.target_notional) == pytest.approx(cap)
    assert a.target_notional / b.target_notional == pytest.approx(-2.0)  # one factor
    assert _one(out, "tsmom", "BBB").code is AllocationCode.ORDERED


def test_lots_round_toward_zero_and_small_deltas_are_dropped() -> None:
    alloc = _alloc(lot_size=100.0)
    budget = alloc.budget("tsmom") / 3
    exposure = 1_250 * PRICES["AAA"] / budget  # 1 250 shares long, 1 250 short
    out = alloc.allocate({"tsmom": {"AAA": exposure}, "meanrev": {"AAA": -exposure}},
                         prices=PRICES, positions={}, now=NOW)
    assert _one(out, "tsmom", "AAA").target_qty == 1_200
    assert _one(out, "meanrev", "AAA").target_qty == -1_200
    held = {("tsmom", "AAA"): 1_200.0}
    same = alloc.allocate({"tsmom": {"AAA": exposure}}, prices=PRICES, positions=held, now=NOW)
    assert same[0].code is AllocationCode.ZERO_DELTA and not same[0].orders
    near = {("tsmom", "AAA"): 1_150.0}
    small = alloc.allocate({"tsmom": {"AAA": exposure}}, prices=PRICES, positions=near,
                           now=NOW)
    assert small[0].code is AllocationCode.BELOW_MIN_QTY and not small[0].orders


def test_reduces_exposure_and_the_split_at_zero() -> None:
    alloc = _alloc()
    per_share = PRICES["AAA"] / (alloc.budget("tsmom") / 3)
    cases = {  # current → target (shares)
        (1_000.0, 500): [(Side.SELL, 500, True)],
        (-300.0, 0): [(Side.BUY, 300, True)],
        (100.0, -100): [(Side.SELL, 100, True), (Side.SELL, 100, False)],
        (0.0, 200): [(Side.BUY, 200, False)],
        (200.0, 500): [(Side.BUY, 300, False)],
    }
    for (current, target), legs in cases.items():
        out = alloc.allocate({"tsmom": {"AAA": target * per_share * (1 + 1e-12)}},
                             prices=PRICES, positions={("tsmom", "AAA"): current}, now=NOW)
        got = [(o.side, o.qty, o.reduces_exposure) for o in out[0].orders]
        assert got == legs, (current, target, got)


def test_order_value_cap_clips_the_delta() -> None:
    cfg = config({"tsmom": limits(max_order_value=5_000.0, max_position_notional=1e9)})
    out = _alloc(cfg).allocate({"tsmom": {"AAA": 1.0}}, prices=PRICES, positions={},
                               now=NOW)
    assert out[0].code is AllocationCode.CLIPPED_ORDER_VALUE
    assert out[0].orders[0].qty == 50


def test_inputs_that_cannot_be_sized_are_coded_not_raised() -> None:
    out = _alloc().allocate({"tsmom": {"ZZZ": 1.0, "AAA": 1.5, "BBB": 0.5}},
                            prices={"BBB": float("nan")}, positions={}, now=NOW)
    codes = {a.symbol: a.code for a in out}
    assert codes == {"ZZZ": AllocationCode.OUTSIDE_UNIVERSE,
                     "AAA": AllocationCode.INVALID_TARGET, "BBB": AllocationCode.NO_PRICE}
    assert all(not a.orders and a.message for a in out)


def test_allocations_come_in_strategy_symbol_order_with_or_without_unsized_targets() -> None:
    targets = {"tsmom": {"CCC": 0.5, "AAA": -0.5}, "meanrev": {"BBB": 0.2, "AAA": 0.1}}
    sized = _alloc().allocate(targets, prices=PRICES, positions={}, now=NOW)
    assert [(a.strategy_id, a.symbol) for a in sized] == [
        ("meanrev", "AAA"), ("meanrev", "BBB"), ("tsmom", "AAA"), ("tsmom", "CCC")]
    mixed = _alloc().allocate({**targets, "tsmom": {"CCC": 0.5, "AAA": 2.0, "ZZZ": 0.1}},
                              prices=PRICES, positions={}, now=NOW)
    assert [(a.strategy_id, a.symbol, a.code) for a in mixed] == [
        ("meanrev", "AAA", AllocationCode.ORDERED), ("meanrev", "BBB", AllocationCode.ORDERED),
        ("tsmom", "AAA", AllocationCode.INVALID_TARGET), ("tsmom", "CCC", AllocationCode.ORDERED),
        ("tsmom", "ZZZ", AllocationCode.OUTSIDE_UNIVERSE)]


def test_client_order_ids_are_deterministic_unique_and_valid() -> None:
    cfg = config({"tsmom": limits(instruments=("AAA", "BTC/USD"), **BIG)})
    targets = {"tsmom": {"AAA": 0.3, "BTC/USD": -0.2}}
    prices = {"AAA": 100.0, "BTC/USD": 50_000.0}
    held = {("tsmom", "AAA"): 10.0}

    def ids(alloc: Allocator) -> list[str]:
        out = alloc.allocate(targets, prices=prices, positions=held, now=NOW)
        return [o.client_order_id for a in out for o in a.orders]

    first = _alloc(cfg)
    a1, a2 = ids(first), ids(first)  # the sequence moves on between calls
    assert len(a1) == 2 and set(a1).isdisjoint(a2)
    assert ids(_alloc(cfg)) == a1  # same session, same sequence: the same ids
    a3 = ids(_alloc(cfg, seq_start=first.seq))  # a resumed session continues the sequence
    every = a1 + a2 + a3
    assert len(set(every)) == len(every)
    pattern = re.compile(CLIENT_ORDER_ID_PATTERN)
    assert all(pattern.match(i) for i in every)
    assert a1[0] == "sess-1:tsmom:0:AAA" and a1[1] == "sess-1:tsmom:1:BTC_USD"


def test_bad_construction_is_a_located_error() -> None:
    with pytest.raises(TorghutError) as session:
        Allocator(config(), {}, session_id="bad id!", operator="x")
    assert session.value.field == "session_id"
    with pytest.raises(TorghutError) as weights:
        _alloc(weights={"tsmom": 0.7, "meanrev": 0.6})
    assert weights.value.field == "weights"
    with pytest.raises(TorghutError) as unknown:
        _alloc(weights={"ghost": 0.1})
    assert unknown.value.field == "weights.ghost"
    with pytest.raises(TorghutError) as ref:
        _alloc(promoted={"tsmom": "tsmom"})
    assert ref.value.field == "promoted.tsmom"


def test_allocated_orders_pass_the_chain_and_reducing_legs_pass_reducing() -> None:
    cfg = config({"tsmom": limits(max_order_value=1e6, max_position_notional=1e6)})
    board = Board()
    chain = make_chain(cfg, board=board)
    alloc = _alloc(cfg)
    out = alloc.allocate({"tsmom": {"AAA": 0.2, "BBB": -0.1}}, prices=PRICES, positions={},
                         now=NOW)
    for a in out:
        for request in a.orders:
            verdict = chain.check(request, now=NOW)
            assert verdict.passed, verdict.decision
            chain.on_fill(fill_for(verdict.to_send()))
    held = {("tsmom", s): chain.exposure("tsmom", s).position for s in ("AAA", "BBB")}
    board.set("firm", KillState.REDUCING)
    flip = alloc.allocate({"tsmom": {"AAA": -0.2}}, prices=PRICES, positions=held,
                          now=NOW)
    verdicts = [chain.check(r, now=NOW) for r in flip[0].orders]
    assert [v.passed for v in verdicts] == [True, False]  # close passes, re-open does not


def test_equal_closing_and_opening_legs_are_not_duplicates() -> None:
    cfg = config({"tsmom": limits(max_order_value=1e6, max_position_notional=1e6)})
    chain = make_chain(cfg)
    alloc = _alloc(cfg)
    (opening,) = alloc.allocate({"tsmom": {"AAA": 0.03}}, prices=PRICES, positions={},
                                now=NOW)[0].orders
    verdict = chain.check(opening, now=NOW)
    chain.on_fill(fill_for(verdict.to_send()))
    held = {("tsmom", "AAA"): chain.exposure("tsmom", "AAA").position}
    flip = alloc.allocate({"tsmom": {"AAA": -0.03}}, prices=PRICES, positions=held,
                          now=NOW)[0].orders
    assert len(flip) == 2 and flip[0].qty == flip[1].qty  # same side, size, price
    assert [chain.check(r, now=NOW).passed for r in flip] == [True, True]


def _validated(request: OrderRequest) -> OrderRequest:
    return OrderRequest(**{name: getattr(request, name) for name in request.model_fields_set})


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(
    st.dictionaries(st.sampled_from(["tsmom", "meanrev"]),
                    st.dictionaries(st.sampled_from(["AAA", "BBB", "CCC"]),
                                    st.floats(-1.0, 1.0), max_size=3), max_size=2),
    st.dictionaries(st.sampled_from(["AAA", "BBB", "CCC"]),
                    st.floats(1e-3, 1e5) | st.integers(1, 10_000), max_size=3),
    st.dictionaries(st.tuples(st.sampled_from(["tsmom", "meanrev"]),
                              st.sampled_from(["AAA", "BBB", "CCC"])),
                    st.floats(-1e4, 1e4), max_size=4)), min_size=1, max_size=6))
def test_requests_built_unvalidated_equal_validated_ones(
        steps: list[tuple[dict[str, dict[str, float]], dict[str, float],
                          dict[tuple[str, str], float]]]) -> None:
    """After a (strategy, symbol)'s first (validated) request the allocator builds the rest
    unvalidated: each must be exactly what validated construction gives, field types and
    dump included (integer reference mids take the validated path)."""
    alloc = _alloc(concentration_cap=0.5)
    for targets, mids, positions in steps:
        out = alloc.allocate(targets, prices=PRICES, positions=positions, now=NOW,
                             references=mids)
        for request in (r for a in out for r in a.orders):
            slow = _validated(request)
            assert request == slow and request.model_fields_set == slow.model_fields_set
            assert {k: type(v) for k, v in request.__dict__.items()} == \
                {k: type(v) for k, v in slow.__dict__.items()}
            assert request.model_dump_json() == slow.model_dump_json()


@pytest.mark.parametrize("mid", [math.nan, math.inf, -1.0, 0.0])
def test_a_bad_reference_mid_is_still_refused_after_the_first_request(mid: float) -> None:
    alloc = _alloc()
    alloc.allocate({"tsmom": {"AAA": 0.5}}, prices=PRICES, positions={}, now=NOW)  # proven
    with pytest.raises(ValidationError):
        alloc.allocate({"tsmom": {"AAA": -0.5}}, prices=PRICES, positions={}, now=NOW,
                       references={"AAA": mid})
