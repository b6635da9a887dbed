"""The chain's fast paths must decide as the plain rules do: decisions built without pydantic
equal validated ones on every path (accept, clip, each kind of reject, fail closed); a
reference stamped at the decision instant is fresh; the per-strategy lane keeps what was
sent across a reload and nothing else."""

from __future__ import annotations

from datetime import timedelta, timezone

from tests.risk.chain_helpers import (
    NOW,
    config,
    fill_for,
    limits,
    make_chain,
    order,
    promoted_for,
    submit,
)
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
    broken._fia1_kill = lambda r, c: 1 / 0  # type: ignore[method-assign,assignment,return-value]
    verdicts.append(submit(broken, "c1"))  # fail closed
    codes = {v.decision.code for v in verdicts}
    assert {RiskCode.ACCEPTED, RiskCode.DUPLICATE_ORDER_ID, RiskCode.OUTSIDE_UNIVERSE,
            RiskCode.PRICE_COLLAR, RiskCode.REFERENCE_STALE, RiskCode.RISK_ERROR} <= codes
    for verdict in verdicts:
        _same_as_validated(verdict.decision)
        for value in (verdict.decision.observed, verdict.decision.threshold,
                      verdict.decision.approved_qty):
            assert value is None or type(value) is float  # never an int in the record


def test_a_reference_at_the_decision_instant_is_fresh_in_any_time_zone() -> None:
    """SEC-2 skips timestamp() when the reference is the decision instant (compared as
    instants, so another zone's clock reading of the same moment counts as age 0)."""
    chain = make_chain()
    elsewhere = NOW.astimezone(timezone(timedelta(hours=2)))
    fresh = chain.check(order("z1", ref_at=elsewhere), now=NOW)
    assert fresh.decision.code is RiskCode.ACCEPTED
    stale = chain.check(order("z2", ref_at=elsewhere - timedelta(seconds=2.5)), now=NOW)
    assert stale.decision.code is RiskCode.REFERENCE_STALE
    assert stale.decision.observed == 2.5


def test_a_reload_keeps_each_strategys_day_count_and_forgets_its_limits() -> None:
    """The per-strategy lane outlives a reconfigure: what was sent still counts (RTS-8);
    limits and promotion are the new config's."""
    cfg = config({"tsmom": limits(max_orders_per_day=2)})
    chain = make_chain(cfg)
    assert submit(chain, "d1").passed and submit(chain, "d2", t=1.0).passed
    chain.reconfigure(cfg, promoted_for(cfg))
    assert submit(chain, "d3", t=2.0).decision.code is RiskCode.MAX_ORDERS_PER_DAY
    chain.reconfigure(config({"meanrev": limits()}), {"tsmom": "tsmom@1.0.0"})
    assert submit(chain, "d4", t=3.0).decision.code is RiskCode.LIMITS_MISSING
    chain.reconfigure(cfg, {})
    assert submit(chain, "d5", t=4.0).decision.code is RiskCode.NOT_PROMOTED
    chain.reconfigure(config({"tsmom": limits(max_orders_per_day=3)}), promoted_for(cfg))
    assert submit(chain, "d6", t=5.0).passed  # the two from before still count: 3rd today
    assert submit(chain, "d7", t=6.0).decision.code is RiskCode.MAX_ORDERS_PER_DAY
