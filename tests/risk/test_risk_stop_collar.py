"""SEC-2 price collar on stop orders: the stop price is collared against the reference mid
exactly as a limit price is, and the order token binds the stop price (a stop moved after
the chain approved it does not pass the firewall)."""

from __future__ import annotations

import pytest

from tests.risk.chain_helpers import make_chain, submit
from torghut.contracts.orders import OrderType, RiskCode, Side

STOP = {"order_type": OrderType.STOP}


# control: SEC-2
@pytest.mark.parametrize(("side", "trigger"), [(Side.BUY, 106.0), (Side.SELL, 94.0),
                                                (Side.BUY, 90.0)])
def test_a_stop_beyond_the_collar_is_rejected(side: Side, trigger: float) -> None:
    verdict = submit(make_chain(), "s1", side=side, stop_price=trigger, **STOP)
    d = verdict.decision
    assert (d.code, d.control, d.limit_id) == (RiskCode.PRICE_COLLAR, "SEC-2",
                                               "firm.price_collar")
    assert d.observed == pytest.approx(abs(trigger / 100.0 - 1.0)) and d.threshold == 0.05
    assert d.message.startswith(f"stop {trigger:g} is") and verdict.token is None


def test_a_stop_inside_the_collar_passes_and_its_token_binds_the_stop_price() -> None:
    chain = make_chain()
    verdict = submit(chain, "s2", side=Side.BUY, stop_price=104.0, **STOP)
    assert verdict.decision.code is RiskCode.ACCEPTED and verdict.token is not None
    sent = verdict.to_send()
    moved = sent.model_copy(update={"stop_price": 130.0})
    assert chain.verify_token(verdict.token, sent)
    assert not chain.verify_token(verdict.token, moved)


def test_a_stop_needs_a_fresh_reference_like_any_order() -> None:
    verdict = submit(make_chain(), "s3", mid=None, stop_price=101.0, **STOP)
    assert verdict.decision.code is RiskCode.REFERENCE_MISSING


# control: SEC-4
def test_stops_at_different_triggers_are_not_duplicates_but_the_same_stop_is() -> None:
    chain = make_chain()
    first = submit(chain, "d1", side=Side.BUY, stop_price=103.0, **STOP)
    other = submit(chain, "d2", t=0.1, side=Side.BUY, stop_price=104.0, **STOP)
    again = submit(chain, "d3", t=0.2, side=Side.BUY, stop_price=103.0, **STOP)
    assert first.decision.code is RiskCode.ACCEPTED and other.decision.code is RiskCode.ACCEPTED
    assert again.decision.code is RiskCode.DUPLICATE_ORDER
