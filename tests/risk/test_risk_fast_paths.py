"""The chain's decisions are built without pydantic: they must equal validated ones, on every
path (accept, clip, each kind of reject, fail closed)."""

from __future__ import annotations

from datetime import timedelta

from tests.risk.chain_helpers import NOW, fill_for, make_chain, order, submit
from torghut.contracts.orders import RiskCode, RiskDecision


def _same_as_validated(decision: RiskDecision) -> None:
    again = RiskDecision(**decision.model_dump())
    assert decision == again
    assert decision.canonical_json() == again.canonical_json()
    assert list(decision.model_dump()) == list(again.model_dump())


def test_every_decision_kind_equals_its_validated_twin() -> None:
    chain = make_chain()
    verdicts = [
        submit(chain, "a1"),  # accepted
        submit(chain, "a1", t=1.0),  # reused client order id
        submit(chain, "a2", symbol="ZZZ"),  # outside the universe
        submit(chain, "a3", limit=150.0),  # price collar (observed/threshold floats)
        submit(chain, "a4", ref_at=NOW - timedelta(seconds=30)),  # stale reference
        submit(chain, "a5", qty=1e9),  # max order qty
    ]
    chain.on_fill(fill_for(order("a1")))
    big = make_chain()
    verdicts.append(submit(big, "b1", qty=2_400.0))  # clipped or credit limit
    broken = make_chain()
    broken._controls = (lambda r, c: 1 / 0,)  # type: ignore[assignment,misc,return-value]
    verdicts.append(submit(broken, "c1"))  # fail closed
    codes = {v.decision.code for v in verdicts}
    assert {RiskCode.ACCEPTED, RiskCode.DUPLICATE_ORDER_ID, RiskCode.OUTSIDE_UNIVERSE,
            RiskCode.PRICE_COLLAR, RiskCode.REFERENCE_STALE, RiskCode.RISK_ERROR} <= codes
    for verdict in verdicts:
        _same_as_validated(verdict.decision)
        for value in (verdict.decision.observed, verdict.decision.threshold,
                      verdict.decision.approved_qty):
            assert value is None or type(value) is float  # never an int in the record
