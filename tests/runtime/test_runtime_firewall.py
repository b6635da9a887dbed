"""The order firewall: no token, no order; single-use tokens; cancels tracked until the
adapter acknowledges them (RTS-12); replace needs a token only to add risk."""

from __future__ import annotations

from collections.abc import Hashable
from itertools import count

from tests.runtime.adapter_helpers import PLAIN, ZERO, req, step
from torghut.contracts.orders import AdapterCode, Order, OrderRequest, OrderStatus, Side
from torghut.runtime.adapters.base import replacement_request
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.firewall import OrderFirewall


class Issuer:
    """A stand-in for the risk chain's token issuer: tokens bound to one request."""

    def __init__(self) -> None:
        self.live: dict[Hashable, OrderRequest] = {}
        self._n = count(1)

    def issue(self, request: OrderRequest) -> Hashable:
        token = ("token", next(self._n))
        self.live[token] = request
        return token

    def verify(self, token: Hashable, request: OrderRequest) -> bool:
        return self.live.get(token) == request

    def consume(self, token: Hashable) -> bool:
        return self.live.pop(token, None) is not None


def setup(delay: int = 0) -> tuple[OrderFirewall, PaperAdapter, Issuer]:
    adapter = PaperAdapter(PLAIN, ZERO, capital=100_000.0, cancel_ack_delay_bars=delay)
    issuer = Issuer()
    fw = OrderFirewall(adapter, issuer.verify, consume=issuer.consume)
    fw.on_bar(step(0, AAA=100.0, BBB=50.0))
    return fw, adapter, issuer


def test_firewall_rejects_order_without_token() -> None:
    fw, adapter, _ = setup()
    ack = fw.submit(req(), None)
    assert ack.code is AdapterCode.NO_TOKEN and ack.order is None
    assert adapter.open_orders() == [] and adapter.orders() == []
    assert fw.counts()["submit"] == {"NO_TOKEN": 1}


def test_firewall_rejects_forged_token() -> None:
    fw, adapter, issuer = setup()
    r = req()
    forged = ("token", 1)  # looks like one, never issued
    assert fw.submit(r, forged).code is AdapterCode.NO_TOKEN
    other = issuer.issue(req())  # a real token, issued for another request
    assert fw.submit(r, other).code is AdapterCode.NO_TOKEN
    edited = r.model_copy(update={"qty": 1000.0})
    token = issuer.issue(r)
    assert fw.submit(edited, token).code is AdapterCode.NO_TOKEN  # bound to the request
    assert fw.submit(r, ["unhashable"]).code is AdapterCode.NO_TOKEN  # type: ignore[arg-type]
    assert adapter.orders() == []
    assert fw.submit(r, token).ok  # the genuine pair still passes


def test_firewall_rejects_reused_token() -> None:
    fw, adapter, issuer = setup()
    r = req()
    token = issuer.issue(r)
    assert fw.submit(r, token).ok
    again = fw.submit(r, token)
    assert again.code is AdapterCode.NO_TOKEN and "used" in again.message
    # even when the verifier would say yes (a lax chain), the firewall spends tokens once
    lax = OrderFirewall(PaperAdapter(PLAIN, ZERO, capital=1.0), lambda t, q: True)
    assert lax.submit(r, "t").ok
    assert lax.submit(req(), "t").code is AdapterCode.NO_TOKEN
    assert len(adapter.orders()) == 1
    assert fw.counts()["submit"] == {"OK": 1, "NO_TOKEN": 1}


def test_firewall_fails_closed_when_the_chain_errs() -> None:
    def broken(token: Hashable, request: OrderRequest) -> bool:
        raise RuntimeError("chain down")

    adapter = PaperAdapter(PLAIN, ZERO, capital=1.0)
    fw = OrderFirewall(adapter, broken)
    assert fw.submit(req(), "t").code is AdapterCode.NO_TOKEN
    spent = OrderFirewall(adapter, lambda t, q: True, consume=lambda t: False)
    assert spent.submit(req(), "t").code is AdapterCode.NO_TOKEN
    assert adapter.orders() == []


def test_firewall_is_the_only_holder_of_the_adapter() -> None:
    fw, adapter, _ = setup()
    public = [n for n in dir(fw) if not n.startswith("_")]
    assert all(getattr(fw, n) is not adapter for n in public)
    assert not hasattr(fw, "adapter") and not hasattr(fw, "__dict__")
    assert fw.name == "paper"


def test_replace_needs_a_token_only_to_add_risk() -> None:
    fw, _, issuer = setup()
    r = req(qty=10, limit=99.0)
    order = fw.submit(r, issuer.issue(r)).order
    assert order is not None
    down = fw.replace(order.order_id, qty=6)  # smaller: no token needed
    assert down.ok and down.order is not None and down.order.qty == 6
    up = fw.replace(down.order.order_id, qty=8)
    assert up.code is AdapterCode.NO_TOKEN
    richer = fw.replace(down.order.order_id, limit_price=99.5)  # more aggressive buy
    assert richer.code is AdapterCode.NO_TOKEN
    token = issuer.issue(replacement_request(down.order, qty=8))
    up = fw.replace(down.order.order_id, qty=8, token=token)
    assert up.ok and up.order is not None and up.order.qty == 8
    assert fw.counts()["replace"] == {"OK": 2, "NO_TOKEN": 2}


def test_RTS_12_cancel_counts_done_only_when_acknowledged() -> None:
    fw, adapter, issuer = setup(delay=2)
    ids = []
    for symbol, limit in (("AAA", 90.0), ("AAA", 91.0), ("BBB", 45.0)):
        r = req(symbol, qty=5, limit=limit, strategy="alpha" if symbol == "AAA" else "beta")
        ack = fw.submit(r, issuer.issue(r))
        assert ack.ok and ack.order is not None
        ids.append(ack.order.order_id)
    report = fw.cancel_all(lambda o: o.request.strategy_id == "alpha")
    assert set(report.requested) == set(ids[:2]) and not report.done
    assert report.acknowledged == () and set(report.pending) == set(ids[:2])
    assert {o.order_id for o in adapter.open_orders()} == set(ids)  # still working
    fw.on_bar(step(1, AAA=100.0, BBB=50.0))
    assert not fw.cancel_progress(report).done  # sent, not acknowledged: not done
    fw.on_bar(step(2, AAA=100.0, BBB=50.0))
    done = fw.cancel_progress(report)
    assert done.done and set(done.acknowledged) == set(ids[:2]) and done.pending == ()
    assert {o.order_id for o in adapter.open_orders()} == {ids[2]}
    everything = fw.cancel_all()
    assert everything.requested == (ids[2],) and not everything.done
    fw.on_bar(step(3, AAA=100.0, BBB=50.0))
    fw.on_bar(step(4, AAA=100.0, BBB=50.0))
    assert fw.cancel_progress(everything).done and adapter.open_orders() == []
    assert fw.pending_cancels == frozenset()


def test_cancel_acknowledged_at_once_and_order_ended_first() -> None:
    fw, _, issuer = setup(delay=0)
    r = req(qty=5, limit=90.0)
    order = fw.submit(r, issuer.issue(r)).order
    assert order is not None
    report = fw.cancel_all()
    assert report.done and report.acknowledged == (order.order_id,)
    fw2, adapter2, issuer2 = setup(delay=5)
    m = req(qty=5)  # a market order fills on the next bar, before the cancel lands
    order2 = fw2.submit(m, issuer2.issue(m)).order
    assert order2 is not None
    report2 = fw2.cancel_all()
    assert not report2.done
    fw2.on_bar(step(1, AAA=100.0, BBB=50.0))
    assert fw2.cancel_progress(report2).done
    assert adapter2.status(order2.order_id).order.status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert fw2.cancel(order2.order_id).code is AdapterCode.NOT_OPEN
    assert fw2.counts()["cancel"] == {"OK": 1, "NOT_OPEN": 1}


def test_failed_cancel_stays_pending_with_its_code() -> None:
    fw, _, _ = setup()
    report = fw.cancel_progress([])
    assert report.done
    fw.cancel("ghost")
    ghost = fw.cancel_progress(["ghost"])
    assert not ghost.done and ghost.errors == {"ghost": "UNKNOWN_ORDER"}


def test_sell_side_and_predicate_types() -> None:
    fw, _, issuer = setup()
    r = req(side=Side.SELL, qty=3, limit=110.0)
    assert fw.submit(r, issuer.issue(r)).ok

    def only_sells(order: Order) -> bool:
        return order.request.side is Side.SELL

    assert len(fw.cancel_all(only_sells).requested) == 1
