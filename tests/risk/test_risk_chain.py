"""The chain as a whole: fail-closed, exposure counted before send, single-use tokens,
reproducible decisions, bad settings refused with a located one-line error."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.risk.chain_helpers import (
    KEY,
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
from torghut.contracts.orders import KillState, OrderRequest, RiskAction, RiskCode, Side
from torghut.errors import TorghutError
from torghut.risk.chain import ChainSettings, RiskChain
from torghut.risk.tokens import OrderToken, TokenIssuer


class ExplodingBoard:
    def state_for(self, strategy_id: str, symbol: str) -> KillState:
        raise RuntimeError("kill board unreachable")


def test_a_failing_control_rejects_with_risk_error() -> None:
    chain = RiskChain(config(), {"tsmom": "tsmom@1.0.0"}, ExplodingBoard(), token_key=KEY)
    verdict = chain.check(order("o1"), now=NOW)
    assert verdict.decision.action is RiskAction.REJECT
    assert verdict.decision.code is RiskCode.RISK_ERROR
    assert "kill board unreachable" in verdict.decision.message
    assert verdict.token is None and not verdict.passed
    assert chain.firm_gross == 0.0 and chain.working_orders == 0
    # a naive clock cannot be compared with the reference time: fail closed, not crash
    naive = datetime(2026, 3, 2, 15, 0)
    assert make_chain().check(order("o2"), now=naive).decision.code is RiskCode.RISK_ERROR


def test_rejected_verdict_has_nothing_to_send() -> None:
    verdict = submit(make_chain(), "o1", limit=200.0)
    with pytest.raises(TorghutError) as err:
        verdict.to_send()
    assert "PRICE_COLLAR" in str(err.value)


def test_exposure_is_counted_before_send_then_filled_or_released() -> None:
    chain = make_chain()
    accepted = submit(chain, "o1", qty=100)
    book = chain.exposure("tsmom", "AAA")
    assert (book.open_buy, book.position, book.notional) == (100, 0, 10_000)
    assert chain.working_orders == 1 and chain.firm_gross == 10_000
    chain.on_fill(fill_for(accepted.request, qty=30, price=101.0))
    book = chain.exposure("tsmom", "AAA")
    assert (book.open_buy, book.position, book.mark) == (70, 30, 101.0)
    assert book.notional == pytest.approx(100 * 101.0)
    # the adapter says 50 of the 70 left will never fill; 20 fills are still in flight
    chain.on_order_closed("o1", 50)
    book = chain.exposure("tsmom", "AAA")
    assert (book.open_buy, chain.working_orders) == (20, 0)
    chain.on_fill(fill_for(accepted.request, qty=20, price=101.0))
    book = chain.exposure("tsmom", "AAA")
    assert (book.open_buy, book.position) == (0, 50)
    assert chain.firm_gross == pytest.approx(50 * 101.0)
    chain.on_order_closed("o1", 0)  # late duplicate: harmless
    assert chain.exposure("tsmom", "AAA").position == 50


def test_unsent_order_released_in_full() -> None:
    chain = make_chain()
    verdict = submit(chain, "o1", qty=40, side=Side.SELL)
    assert chain.exposure("tsmom", "AAA").open_sell == 40
    chain.on_order_closed(verdict.request.client_order_id, 40)  # adapter unavailable
    assert chain.firm_gross == 0 and chain.working_orders == 0


def test_token_verifies_only_its_own_request_and_only_once() -> None:
    chain = make_chain()
    verdict = submit(chain, "o1", qty=10)
    token = verdict.token
    assert token is not None and token.approved_qty == 10
    request = verdict.to_send()
    assert chain.verify_token(token, request)
    for tampered in (request.model_copy(update={"qty": 11.0}),
                     request.model_copy(update={"symbol": "BBB"}),
                     request.model_copy(update={"side": Side.SELL}),
                     request.model_copy(update={"operator": "someone-else"}),
                     request.model_copy(update={"client_order_id": "o2"})):
        assert not chain.verify_token(token, tampered)
    forged = OrderToken(token.client_order_id, token.approved_qty, bytes(32))
    assert not chain.verify_token(forged, request)
    assert chain.redeem(token, request)
    assert not chain.verify_token(token, request)  # single use
    assert not chain.consume(token)
    # another chain's key does not verify this chain's tokens
    other = make_chain()
    other_token = submit(other, "o1", qty=10).token
    assert other_token is not None
    assert chain.verify_token(other_token, request) is False


def test_token_fast_path_agrees_with_the_recomputed_mac() -> None:
    """verify skips the MAC only for the issued token object with the issued request object;
    equal copies of either take the full recomputation and get the same answer, and an
    edited copy (model_copy makes a new object) is refused."""
    issuer = TokenIssuer(KEY)
    request = order("o1", qty=10)
    token = issuer.issue(request, 10.0)
    twin_request = OrderRequest.model_validate(request.model_dump())
    twin_token = OrderToken(*token)
    for t, r in ((token, request), (twin_token, request), (token, twin_request),
                 (twin_token, twin_request)):
        assert issuer.verify(t, r)
    assert not issuer.verify(token, request.model_copy(update={"venue": "elsewhere"}))
    assert not issuer.verify(OrderToken(token.client_order_id, 11.0, token.mac),
                             request.model_copy(update={"qty": 11.0}))
    assert issuer.redeem(twin_token, twin_request)
    assert not issuer.verify(token, request)  # spent, whichever object spent it
    assert issuer.outstanding == 0


def test_clipped_token_covers_the_clipped_quantity_only() -> None:
    chain = make_chain(config({"tsmom": limits(max_position_notional=5_000.0)}))
    verdict = submit(chain, "o1", qty=80)
    assert verdict.decision.action is RiskAction.CLIP
    assert verdict.token is not None
    assert not chain.verify_token(verdict.token, verdict.request)  # 80 was not approved
    assert chain.verify_token(verdict.token, verdict.to_send())
    assert verdict.to_send().qty == 50


def test_token_key_and_settings_are_validated() -> None:
    with pytest.raises(TorghutError) as short:
        TokenIssuer(b"short")
    assert short.value.field == "token_key"
    with pytest.raises(TorghutError) as collar:
        ChainSettings(collar_fraction=0.0)
    assert collar.value.field == "collar_fraction"
    with pytest.raises(TorghutError) as cap:
        ChainSettings(symbol_limits={"AAA": float("nan")})
    assert cap.value.field == "symbol_limits.AAA"
    with pytest.raises(TorghutError):
        make_chain(reference_max_age=timedelta(0))


def test_every_reject_carries_code_and_control() -> None:
    board = Board()
    chain = make_chain(board=board)
    cases = [submit(chain, "a", limit=150.0), submit(chain, "b", qty=10_000),
             submit(chain, "c", symbol="ZZZ"), submit(chain, "d", venue="lit"),
             submit(chain, "e", mid=None)]
    board.set("firm", KillState.HALTED)
    cases.append(submit(chain, "f"))
    for verdict in cases:
        assert verdict.decision.action is RiskAction.REJECT
        assert verdict.decision.code not in (RiskCode.ACCEPTED, RiskCode.CLIPPED_POSITION)
        assert verdict.decision.control
        assert verdict.decision.approved_qty == 0


def _session(chain: RiskChain) -> list[str]:
    """A fixed stream with fills; returns every decision as canonical JSON."""
    out = []
    for i in range(40):
        verdict = submit(chain, f"o{i}", qty=float(10 + 7 * i % 90), t=i * 0.3,
                         side=Side.BUY if i % 3 else Side.SELL,
                         symbol=("AAA", "BBB", "ZZZ")[i % 3] if i % 11 else "AAA",
                         limit=None if i % 5 else 100.0 + (i % 7))
        out.append(verdict.decision.canonical_json())
        if verdict.passed and i % 2:
            chain.on_fill(fill_for(verdict.to_send(), at=later(i * 0.3)))
    return out


def test_replaying_the_same_stream_reproduces_the_decisions() -> None:
    cfg = config({"tsmom": limits(max_position_notional=20_000.0)})
    first, second = _session(make_chain(cfg)), _session(make_chain(cfg))
    assert first == second
    assert len({d for d in first if '"action":"reject"' in d}) > 0
    assert len({d for d in first if '"action":"accept"' in d}) > 0


def test_reconfigure_keeps_exposure_and_applies_new_limits() -> None:
    chain = make_chain(config({"tsmom": limits()}))
    assert submit(chain, "o1", qty=100).passed
    tighter = config({"tsmom": limits(max_position_notional=10_000.0)})
    chain.reconfigure(tighter, {"tsmom": "tsmom@1.0.0"})
    assert chain.exposure("tsmom", "AAA").open_buy == 100
    verdict = submit(chain, "o2", qty=1, t=1)
    assert verdict.decision.limit_id == "strategy:tsmom.max_position_notional"
    chain.reconfigure(tighter, {})
    assert submit(chain, "o3", side=Side.SELL, t=2).decision.code is RiskCode.NOT_PROMOTED


def test_order_token_mac_is_keyed_blake2b() -> None:
    """The copied pre-keyed state must give exactly a fresh keyed BLAKE2b's bytes (RFC 7693
    keyed mode); a key over BLAKE2b's 64 bytes is hashed down first."""
    import hashlib

    from torghut.risk.tokens import PERSON, canonical_fields
    request = order("o1", limit=100.5, operator="op\x1fweird", override_id="ovr-9")
    for key in (KEY, b"k" * 64, b"long-key" * 20):
        issuer = TokenIssuer(key)
        first, second = issuer.issue(request, 7.0), issuer.issue(request, 7.0)
        mac_key = key if len(key) <= 64 else hashlib.blake2b(key, person=PERSON).digest()
        expected = hashlib.blake2b(canonical_fields(request, 7.0), key=mac_key,
                                   digest_size=32, person=PERSON).digest()
        assert first.mac == second.mac == expected  # the keyed state is copied, never spent
    assert TokenIssuer(b"k" * 64).issue(request, 7.0).mac != \
        TokenIssuer(b"k" * 63 + b"j").issue(request, 7.0).mac
    # free-form fields are length-prefixed: joined naively, both would read "a␟b␟c"
    a = order("o1", operator="a\x1fb", symbol="c")
    b = order("o1", operator="a", symbol="b\x1fc")
    assert canonical_fields(a, 1.0) != canonical_fields(b, 1.0)


def test_reconfigure_keeps_the_repeated_execution_cycles_counted() -> None:
    cfg = config(kill_switch={"repeated_execution_cycles": 1,
                              "repeated_execution_window_seconds": 60})
    chain = make_chain(cfg)
    first = submit(chain, "o1", qty=1)
    chain.on_fill(fill_for(first.request))
    second = submit(chain, "o2", qty=2, t=1)  # cycle 1 of 1
    assert second.passed
    chain.on_fill(fill_for(second.request))
    chain.reconfigure(cfg, {"tsmom": "tsmom@1.0.0", "meanrev": "meanrev@1.0.0"})
    assert submit(chain, "o3", qty=3, t=2).decision.code is RiskCode.STRATEGY_DISABLED
    assert [t.trigger for t in chain.drain_trips()] == ["REPEATED_EXECUTION"]
