"""One test (or more) per pre-trade control id in CONTROLS.md, named after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.risk.chain_helpers import (
    NOW,
    Board,
    config,
    fill_for,
    later,
    limits,
    make_chain,
    order,
    submit,
)
from torghut.contracts.orders import KillState, RiskAction, RiskCode, Side
from torghut.contracts.runtime_config import RestrictedEntry
from torghut.errors import TorghutError
from torghut.risk.chain import ChainSettings, Verdict
from torghut.risk.overrides import SOFT_CODES, OverrideGrant


def _code(verdict: Verdict) -> RiskCode:
    return verdict.decision.code


# --------------------------------------------------------------------------- SEC-1

def test_SEC_1_open_plus_filled_over_the_strategy_symbol_limit_rejects_naming_it() -> None:
    chain = make_chain(config({"tsmom": limits(max_position_notional=10_000.0)}))
    first = submit(chain, "o1", qty=60)
    assert first.decision.action is RiskAction.ACCEPT
    # open (not yet filled) notional already counts: 60 open + 50 → 11 000 > 10 000
    second = submit(chain, "o2", qty=50, t=1)
    assert second.decision.action is RiskAction.CLIP
    assert second.decision.approved_qty == 40
    chain.on_fill(fill_for(first.request))
    chain.on_fill(fill_for(second.to_send()))
    # filled notional counts the same way: position 100 × 100 = the limit
    third = submit(chain, "o3", qty=1, t=2)
    assert third.decision.action is RiskAction.REJECT
    assert third.decision.code is RiskCode.CREDIT_LIMIT
    assert third.decision.control == "SEC-1"
    assert third.decision.limit_id == "strategy:tsmom.max_position_notional"
    assert third.decision.threshold == 10_000.0
    assert third.token is None


def test_SEC_1_clip_is_rounded_down_and_must_reach_the_minimum() -> None:
    cfg = config({"tsmom": limits(max_position_notional=10_000.0)})
    chain = make_chain(cfg, settings=ChainSettings(min_clip_qty=5.0))
    clipped = submit(chain, "o1", qty=150, mid=99.0)
    assert clipped.decision.code is RiskCode.CLIPPED_POSITION
    assert clipped.decision.limit_id == "strategy:tsmom.max_position_notional"
    assert clipped.decision.approved_qty == int(10_000 / 99.0)  # 101, toward zero
    assert clipped.to_send().qty == clipped.decision.approved_qty
    # room left for 10 000 / 99 - 101 ≈ 0.01 units: nothing to clip to
    assert _code(submit(chain, "o2", qty=20, mid=99.0, t=1)) is RiskCode.CREDIT_LIMIT
    # room for 3 units: below a minimum clip of 5 rejects, the default minimum (1) clips
    for min_clip, expected in ((5.0, RiskCode.CREDIT_LIMIT), (1.0, RiskCode.CLIPPED_POSITION)):
        fresh = make_chain(cfg, settings=ChainSettings(min_clip_qty=min_clip))
        assert submit(fresh, "p1", qty=97).passed
        assert _code(submit(fresh, "p2", qty=20, t=1)) is expected


def test_SEC_1_firm_and_symbol_levels_and_exposure_reducing_orders() -> None:
    cfg = config(firm={"max_gross_notional": 15_000.0})
    chain = make_chain(cfg, settings=ChainSettings(symbol_limits={"BBB": 4_000.0}))
    assert submit(chain, "a1", qty=100).passed  # tsmom AAA 10 000
    firm = submit(chain, "b1", strategy="meanrev", qty=80, t=1)
    assert firm.decision.code is RiskCode.CLIPPED_POSITION
    assert firm.decision.limit_id == "firm.max_gross_notional"
    assert firm.decision.approved_qty == 50
    assert chain.firm_gross == pytest.approx(15_000.0)
    over = submit(chain, "b2", strategy="meanrev", symbol="CCC", qty=1, t=2)
    assert over.decision.code is RiskCode.CREDIT_LIMIT
    assert over.decision.limit_id == "firm.max_gross_notional"
    # a sell against the open buy does not add exposure: it passes at the firm limit
    assert submit(chain, "a2", side=Side.SELL, qty=30, t=3).passed
    # a symbol cap across strategies
    chain.on_order_closed("a1", 100)
    chain.on_order_closed("b1", 50)
    sym = submit(chain, "c1", symbol="BBB", qty=50, t=4)
    assert sym.decision.limit_id == "symbol:BBB.max_gross_notional"
    assert sym.decision.approved_qty == 40


def test_SEC_1_max_open_orders() -> None:
    chain = make_chain(config(firm={"max_open_orders": 2}))
    assert submit(chain, "o1", qty=1).passed
    assert submit(chain, "o2", qty=2, t=1).passed
    third = submit(chain, "o3", qty=3, t=2)
    assert third.decision.code is RiskCode.MAX_OPEN_ORDERS
    assert third.decision.limit_id == "firm.max_open_orders"
    chain.on_order_closed("o1", 1)
    assert submit(chain, "o4", qty=3, t=3).passed


# --------------------------------------------------------------------------- SEC-2

def test_SEC_2_price_collar_five_percent_from_the_reference_mid() -> None:
    chain = make_chain()
    wide = submit(chain, "o1", limit=105.5)
    assert wide.decision.code is RiskCode.PRICE_COLLAR
    assert wide.decision.control == "SEC-2"
    assert wide.decision.observed == pytest.approx(0.055)
    assert wide.decision.threshold == 0.05
    assert submit(chain, "o2", side=Side.SELL, limit=94.0).decision.code \
        is RiskCode.PRICE_COLLAR
    assert submit(chain, "o3", limit=104.9).passed


def test_SEC_2_missing_or_stale_reference_rejects() -> None:
    chain = make_chain()
    assert _code(submit(chain, "o1", mid=None)) is RiskCode.REFERENCE_MISSING
    no_ts = order("o2", reference_ts=None)
    assert _code(chain.check(no_ts, now=NOW)) is RiskCode.REFERENCE_MISSING
    naive_ts = order("o2", reference_ts=NOW.replace(tzinfo=None))
    assert _code(chain.check(naive_ts, now=NOW)) is RiskCode.REFERENCE_MISSING
    stale = chain.check(order("o3", ref_at=NOW - timedelta(seconds=2.5)), now=NOW)
    assert stale.decision.code is RiskCode.REFERENCE_STALE
    assert stale.decision.threshold == 2.0
    assert chain.check(order("o4", ref_at=NOW - timedelta(seconds=1.5)), now=NOW).passed
    # replay passes one bar as the bound
    replay = make_chain(reference_max_age=timedelta(minutes=1))
    assert replay.check(order("o5", ref_at=NOW - timedelta(seconds=59)), now=NOW).passed
    late = replay.check(order("o6", ref_at=NOW - timedelta(seconds=61)), now=NOW)
    assert late.decision.code is RiskCode.REFERENCE_STALE


# --------------------------------------------------------------------------- SEC-3

def test_SEC_3_per_order_maxima() -> None:
    chain = make_chain(settings=ChainSettings(max_order_qty=400.0))
    qty = submit(chain, "o1", qty=401, mid=1.0)
    assert qty.decision.code is RiskCode.MAX_ORDER_QTY
    assert qty.decision.limit_id == "firm.max_order_qty"
    value = submit(chain, "o2", qty=300, mid=200.0)  # 60 000 > 50 000
    assert value.decision.code is RiskCode.MAX_ORDER_NOTIONAL
    assert value.decision.limit_id == "strategy:tsmom.max_order_value"
    assert value.decision.observed == pytest.approx(60_000.0)
    assert submit(chain, "o3", qty=250, mid=200.0).passed


def test_SEC_3_cumulative_notional_in_a_short_window() -> None:
    cfg = config({"tsmom": limits(max_order_value=5_000.0, max_position_notional=1e9)})
    chain = make_chain(cfg, settings=ChainSettings(window_notional_multiple=3.0,
                                                   notional_window=timedelta(seconds=10)))
    for i in range(3):  # 3 × 4 000 = 12 000 <= 3 × 5 000
        assert submit(chain, f"o{i}", qty=40 + i / 10, mid=100.0, t=i).passed
    fourth = submit(chain, "o3", qty=40, t=3)
    assert fourth.decision.code is RiskCode.NOTIONAL_RATE
    assert fourth.decision.limit_id == "strategy:tsmom.window_notional"
    assert fourth.decision.threshold == 15_000.0
    # the first order left the window at t=10
    assert submit(chain, "o4", qty=40, t=10).passed


# --------------------------------------------------------------------------- SEC-4

def test_SEC_4_reused_client_order_id_rejects() -> None:
    chain = make_chain()
    assert submit(chain, "dup").passed
    again = submit(chain, "dup", qty=99, symbol="BBB", t=5)
    assert again.decision.code is RiskCode.DUPLICATE_ORDER_ID
    assert again.decision.control == "SEC-4"
    # an id whose order was rejected was never sent: it may be corrected and resubmitted
    assert not submit(chain, "fixme", limit=120.0, t=6).passed
    assert submit(chain, "fixme", limit=100.5, t=6).passed


def test_SEC_4_identical_order_within_500_ms_rejects() -> None:
    chain = make_chain()
    assert submit(chain, "o1", qty=10, limit=100.0).passed
    same = submit(chain, "o2", qty=10, limit=100.0, t=0.499)
    assert same.decision.code is RiskCode.DUPLICATE_ORDER
    assert submit(chain, "o3", qty=11, limit=100.0, t=0.2).passed
    assert submit(chain, "o4", qty=10, limit=100.1, t=0.2).passed
    assert submit(chain, "o5", qty=10, limit=100.0, side=Side.SELL, t=0.2).passed
    assert submit(chain, "o6", qty=10, limit=100.0, t=0.5).passed


# --------------------------------------------------------------------------- SEC-5

def test_SEC_5_halted_symbol_rejects() -> None:
    chain = make_chain(halted_symbols=("BBB",))
    assert _code(submit(chain, "o1", symbol="BBB")) is RiskCode.SYMBOL_HALTED
    assert _code(chain.check(order("o2"), now=NOW, halted=True)) is RiskCode.SYMBOL_HALTED
    chain.set_halted("BBB", False)
    chain.set_halted("AAA", True)
    assert submit(chain, "o3", symbol="BBB").passed
    assert _code(submit(chain, "o4", t=1)) is RiskCode.SYMBOL_HALTED


def test_SEC_5_short_sale_needs_the_symbol_on_the_borrow_list() -> None:
    chain = make_chain(config(easy_to_borrow=["BBB"]))
    short = submit(chain, "s1", side=Side.SELL)
    assert short.decision.code is RiskCode.SHORT_NO_BORROW
    assert short.decision.control == "SEC-5"
    assert submit(chain, "s2", symbol="BBB", side=Side.SELL).passed
    bought = submit(chain, "b1", qty=10)
    chain.on_fill(fill_for(bought.request))
    assert submit(chain, "s3", side=Side.SELL, qty=6, t=1).passed
    # 10 held, 6 already being sold: selling 5 more would go short
    assert _code(submit(chain, "s4", side=Side.SELL, qty=5, t=2)) \
        is RiskCode.SHORT_NO_BORROW
    assert submit(chain, "s5", side=Side.SELL, qty=4, t=3).passed
    # the paper default '*' lets every symbol be sold short
    assert make_chain().check(order("s6", side=Side.SELL), now=NOW).passed


# --------------------------------------------------------------------------- SEC-6

def test_SEC_6_restricted_list_is_effective_dated_and_rejects_fully() -> None:
    entry = RestrictedEntry(symbol="AAA", effective_from=NOW - timedelta(days=1),
                            effective_until=NOW + timedelta(days=1), reason="MNPI")
    chain = make_chain(config(restricted_list=[entry]))
    hit = submit(chain, "o1")
    assert hit.decision.code is RiskCode.RESTRICTED_SYMBOL
    assert hit.decision.control == "SEC-6"
    assert "MNPI" in hit.decision.message
    assert _code(submit(chain, "o2", side=Side.SELL, reduces_exposure=True, t=23 * 3600)) \
        is RiskCode.RESTRICTED_SYMBOL
    before = order("o3", at=NOW - timedelta(days=2))
    assert chain.check(before, now=NOW - timedelta(days=2)).passed
    after = order("o4", at=NOW + timedelta(days=1))  # effective_until is exclusive
    assert chain.check(after, now=NOW + timedelta(days=1)).passed


# --------------------------------------------------------------------------- SEC-7

def test_SEC_7_only_the_promoted_id_at_version_submits() -> None:
    chain = make_chain(promoted={"tsmom": "tsmom@1.0.0"})
    assert submit(chain, "o1").passed
    newer = submit(chain, "o2", version="1.1.0")
    assert newer.decision.code is RiskCode.NOT_PROMOTED
    assert newer.decision.control == "SEC-7"
    other_type = order("o3", strategy_type="breakout")
    assert _code(chain.check(other_type, now=NOW)) is RiskCode.NOT_PROMOTED
    # meanrev has limits but is not promoted to this mode
    assert _code(submit(chain, "o4", strategy="meanrev")) \
        is RiskCode.NOT_PROMOTED


# --------------------------------------------------------------------------- RTS-8

def test_RTS_8_a_strategy_without_declared_limits_cannot_trade() -> None:
    chain = make_chain(config({"tsmom": limits()}),
                       promoted={"tsmom": "tsmom@1.0.0", "breakout": "breakout@1.0.0"})
    missing = submit(chain, "o1", strategy="breakout")
    assert missing.decision.code is RiskCode.LIMITS_MISSING
    assert missing.decision.control == "RTS-8"


def test_RTS_8_venues_and_orders_per_day() -> None:
    chain = make_chain(config({"tsmom": limits(max_orders_per_day=3)}))
    venue = submit(chain, "v1", venue="nasdaq")
    assert venue.decision.code is RiskCode.VENUE_NOT_ALLOWED
    assert venue.decision.limit_id == "strategy:tsmom.venues"
    for i in range(3):
        assert submit(chain, f"d{i}", qty=1 + i, t=i).passed
    fourth = submit(chain, "d3", qty=9, t=3)
    assert fourth.decision.code is RiskCode.MAX_ORDERS_PER_DAY
    assert fourth.decision.limit_id == "strategy:tsmom.max_orders_per_day"
    tomorrow = NOW + timedelta(days=1)
    assert chain.check(order("d4", qty=9, at=tomorrow), now=tomorrow).passed


# --------------------------------------------------------------------------- RTS-15a

def test_RTS_15a_message_rate_counts_orders_and_cancels_at_once() -> None:
    chain = make_chain(config(firm={"max_messages_per_second": 5}))
    for i in range(2):
        assert submit(chain, f"o{i}", qty=1 + i, t=i / 10).passed
    for _ in range(3):  # cancels go out and count, but never refuse
        chain.count_message("tsmom", later(0.3))
    over = submit(chain, "o2", qty=5, t=0.4)
    assert over.decision.code is RiskCode.RATE_LIMIT
    assert over.decision.control == "RTS-15a"
    assert over.decision.limit_id == "firm.max_messages_per_second"
    assert over.decision.observed == 6
    assert submit(chain, "o3", qty=5, t=1.05).passed  # o0 and o1 left


def test_RTS_15a_per_strategy_message_rate() -> None:
    chain = make_chain(settings=ChainSettings(strategy_messages_per_second=2))
    assert submit(chain, "t1", qty=1).passed
    assert submit(chain, "t2", qty=2).passed
    third = submit(chain, "t3", qty=3, t=0.5)
    assert third.decision.code is RiskCode.RATE_LIMIT
    assert third.decision.limit_id == "strategy:tsmom.max_messages_per_second"
    assert submit(chain, "m1", strategy="meanrev", t=0.5).passed


# --------------------------------------------------------------------------- RTS-15b

def test_RTS_15b_repeated_fill_and_reentry_disables_the_strategy() -> None:
    chain = make_chain(config(kill_switch={"repeated_execution_cycles": 2,
                                           "repeated_execution_window_seconds": 60}))
    verdicts = []
    for i in range(3):  # entry, then fill + re-entry twice: 2 cycles, still allowed
        verdict = submit(chain, f"o{i}", qty=1 + i, t=i)
        assert verdict.passed
        chain.on_fill(fill_for(verdict.request, at=later(i)))
        verdicts.append(verdict)
    third_cycle = submit(chain, "o3", qty=9, t=3)
    assert third_cycle.decision.code is RiskCode.STRATEGY_DISABLED
    assert third_cycle.decision.control == "RTS-15b"
    assert third_cycle.decision.observed == 3 and third_cycle.decision.threshold == 2
    trips = chain.drain_trips()
    assert [(t.scope, t.trigger) for t in trips] == [("strategy:tsmom", "REPEATED_EXECUTION")]
    assert trips[0].at == later(3)
    assert chain.drain_trips() == []
    # disabled until an authorised person re-enables it, whatever the order
    assert _code(submit(chain, "o4", symbol="BBB", t=200)) \
        is RiskCode.STRATEGY_DISABLED
    assert submit(chain, "m1", strategy="meanrev", t=4).passed
    with pytest.raises(TorghutError):
        chain.reenable("tsmom", actor="ops-alice", reason=" ")
    chain.reenable("tsmom", actor="ops-alice", reason="INC-7: feed glitch fixed")
    assert chain.disabled() == {}
    assert submit(chain, "o5", symbol="BBB", t=201).passed


def test_RTS_15b_cycles_outside_the_window_do_not_count() -> None:
    chain = make_chain(config(kill_switch={"repeated_execution_cycles": 1,
                                           "repeated_execution_window_seconds": 10}))
    for i in range(4):  # one cycle every 11 s: never more than 1 in 10 s
        verdict = submit(chain, f"o{i}", qty=1 + i, t=11 * i)
        assert verdict.passed, verdict.decision
        chain.on_fill(fill_for(verdict.request))
    assert chain.drain_trips() == []


# --------------------------------------------------------------------------- RTS-15c

def test_RTS_15c_instrument_outside_the_universe_rejects() -> None:
    chain = make_chain(config({"tsmom": limits(instruments=("AAA",))}))
    outside = submit(chain, "o1", symbol="BBB")
    assert outside.decision.code is RiskCode.OUTSIDE_UNIVERSE
    assert outside.decision.control == "RTS-15c"
    assert outside.decision.limit_id == "strategy:tsmom.instruments"


def test_RTS_15c_hierarchy_firm_over_strategy_over_instrument() -> None:
    # the strategy may hold 50 000 in the instrument, but the firm only 20 000 in total
    cfg = config({"tsmom": limits(max_position_notional=50_000.0, max_order_value=1e6)},
                 firm={"max_gross_notional": 20_000.0})
    chain = make_chain(cfg)
    verdict = submit(chain, "o1", qty=300)
    assert verdict.decision.code is RiskCode.CLIPPED_POSITION
    assert verdict.decision.limit_id == "firm.max_gross_notional"
    assert verdict.decision.approved_qty == 200
    # equal rooms at two levels: the higher level is named
    tie = make_chain(config({"tsmom": limits(max_position_notional=20_000.0,
                                             max_order_value=1e6)},
                            firm={"max_gross_notional": 20_000.0}))
    assert submit(tie, "o2", qty=300).decision.limit_id \
        == "firm.max_gross_notional"


# --------------------------------------------------------------------------- RTS-15d

def _grant(coid: str, *, codes: tuple[RiskCode, ...] = (RiskCode.PRICE_COLLAR,),
           verifier: str = "risk-ann", approver: str = "ops-bob",
           minutes: float = 10, oid: str = "ovr-1") -> OverrideGrant:
    return OverrideGrant(override_id=oid, client_order_id=coid, codes=codes,
                         verifier=verifier, approver=approver, reason="auction print",
                         granted_at=NOW, expires_at=NOW + timedelta(minutes=minutes))


def test_RTS_15d_override_is_bound_to_one_order_and_single_use() -> None:
    chain = make_chain(risk_verifiers=("risk-ann",))
    blocked = submit(chain, "o1", limit=107.0)
    assert blocked.decision.code is RiskCode.PRICE_COLLAR
    chain.grant_override(_grant("o1"))
    forced = submit(chain, "o1", limit=107.0, override_id="ovr-1", t=60)
    assert forced.passed and forced.decision.code is RiskCode.ACCEPTED
    reused = submit(chain, "o2", limit=107.0, override_id="ovr-1", t=61)
    assert reused.decision.code is RiskCode.OVERRIDE_REUSED
    assert reused.decision.control == "RTS-15d"
    # bound to its order: another order cannot borrow it
    chain.grant_override(_grant("o3", oid="ovr-2"))
    other = submit(chain, "o4", limit=107.0, override_id="ovr-2", t=62)
    assert other.decision.code is RiskCode.OVERRIDE_INVALID
    unknown = submit(chain, "o5", override_id="nope", t=63)
    assert unknown.decision.code is RiskCode.OVERRIDE_INVALID


def test_RTS_15d_expired_override_rejects() -> None:
    chain = make_chain(risk_verifiers=("risk-ann",))
    chain.grant_override(_grant("o1", minutes=15))
    late = chain.check(order("o1", limit=107.0, override_id="ovr-1",
                             at=later(900)), now=later(900))
    assert late.decision.code is RiskCode.OVERRIDE_EXPIRED


def test_RTS_15d_grant_rules_verifier_differs_from_approver_ttl_soft_codes() -> None:
    chain = make_chain(risk_verifiers=("risk-ann",))
    with pytest.raises(TorghutError) as same:
        chain.grant_override(_grant("o1", approver="risk-ann"))
    assert same.value.field == "approver"
    # never registered, so the order carrying it is refused
    assert _code(submit(chain, "o1", limit=107.0, override_id="ovr-1")) \
        is RiskCode.OVERRIDE_INVALID
    with pytest.raises(TorghutError) as long_lived:
        chain.grant_override(_grant("o2", minutes=15.5, oid="ovr-2"))
    assert long_lived.value.field == "expires_at"
    with pytest.raises(TorghutError) as not_risk:
        chain.grant_override(_grant("o3", verifier="trader-joe", oid="ovr-3"))
    assert not_risk.value.field == "verifier"
    for hard in (RiskCode.TRADING_HALTED, RiskCode.RESTRICTED_SYMBOL, RiskCode.NOT_PROMOTED,
                 RiskCode.CREDIT_LIMIT):
        with pytest.raises(TorghutError) as refused:
            chain.grant_override(_grant("o4", codes=(hard,), oid="ovr-4"))
        assert hard.value in str(refused.value)


def test_RTS_15d_override_lifts_only_the_soft_codes_it_names() -> None:
    entry = RestrictedEntry(symbol="BBB", effective_from=NOW - timedelta(days=1),
                            effective_until=None, reason="legal hold")
    board = Board()
    chain = make_chain(config(restricted_list=[entry]), board=board,
                       risk_verifiers=("risk-ann",))
    chain.grant_override(_grant("o1"))
    too_big = order("o1", qty=1000, limit=107.0, override_id="ovr-1")  # also 107 000 > max
    assert _code(chain.check(too_big, now=NOW)) is RiskCode.MAX_ORDER_NOTIONAL
    chain.grant_override(_grant("o2", oid="ovr-2"))
    restricted = order("o2", symbol="BBB", limit=107.0, override_id="ovr-2")
    assert _code(chain.check(restricted, now=NOW)) is RiskCode.RESTRICTED_SYMBOL
    board.set("firm", KillState.HALTED)
    chain.grant_override(_grant("o3", oid="ovr-3"))
    halted = order("o3", limit=107.0, override_id="ovr-3")
    assert _code(chain.check(halted, now=NOW)) is RiskCode.TRADING_HALTED


# --------------------------------------------------------------------------- FIA-1

def test_FIA_1_halted_rejects_everything_reducing_only_verified_reductions() -> None:
    board = Board()
    chain = make_chain(board=board)
    bought = submit(chain, "b1", qty=10)
    chain.on_fill(fill_for(bought.request))
    board.set("strategy:tsmom", KillState.REDUCING)
    lie = submit(chain, "s0", side=Side.BUY, qty=5, reduces_exposure=True, t=1)
    assert lie.decision.code is RiskCode.TRADING_REDUCING  # the flag is never trusted
    unflagged = submit(chain, "s1", side=Side.SELL, qty=5, t=1)
    assert unflagged.decision.code is RiskCode.TRADING_REDUCING
    too_far = submit(chain, "s2", side=Side.SELL, qty=11, reduces_exposure=True, t=1)
    assert too_far.decision.code is RiskCode.TRADING_REDUCING  # would flip short
    assert submit(chain, "s3", side=Side.SELL, qty=6, reduces_exposure=True, t=1).passed
    # 6 already being sold: 5 more would cross zero once both fill
    assert _code(submit(chain, "s4", side=Side.SELL, qty=5, reduces_exposure=True, t=2)) \
        is RiskCode.TRADING_REDUCING
    assert submit(chain, "m1", strategy="meanrev", t=2).passed
    board.set("symbol:AAA", KillState.HALTED)
    halted = submit(chain, "s5", side=Side.SELL, qty=1, reduces_exposure=True, t=3)
    assert halted.decision.code is RiskCode.TRADING_HALTED
    assert halted.decision.control == "FIA-1"
    assert submit(chain, "m2", strategy="meanrev", symbol="BBB", t=3).passed
    chain.count_message("tsmom", later(3))  # a cancel still goes out


def test_RTS_15d_every_soft_code_is_lifted_by_an_override_naming_it() -> None:
    """Each soft control hands its objection to the order's override (``unless_lifted``):
    one scenario per soft code, and every soft code has one."""
    scenarios: dict[RiskCode, tuple[ChainSettings, dict[str, Any]]] = {
        RiskCode.PRICE_COLLAR: (ChainSettings(), {"limit": 107.0}),
        RiskCode.MAX_ORDER_QTY: (ChainSettings(max_order_qty=50.0), {"qty": 60.0}),
        RiskCode.MAX_ORDER_NOTIONAL: (ChainSettings(), {"qty": 600.0}),
        RiskCode.NOTIONAL_RATE: (ChainSettings(window_notional_multiple=0.1), {"qty": 60.0}),
    }
    assert set(scenarios) == SOFT_CODES
    for code, (settings, fields) in scenarios.items():
        chain = make_chain(settings=settings, risk_verifiers=("risk-ann",))
        assert _code(submit(chain, "b1", **fields)) is code
        chain.grant_override(_grant("f1", codes=(code,)))
        forced = submit(chain, "f1", override_id="ovr-1", t=60, **fields)
        assert forced.passed and forced.decision.code is RiskCode.ACCEPTED, code
