"""The order firewall: the one object that holds the execution adapter.

DESIGN.md invariant 4: the runtime never places an order that did not pass the pre-trade risk
chain and the firewall. The adapter lives in a private attribute with no getter; everything
else talks to the firewall, which

* submits a request only with a token the risk chain issued for exactly that request,
  verified by the chain's ``verifier(token, request)`` and spent on first use (single-use:
  a reused, forged or missing token is refused with ``NO_TOKEN`` and counted);
* lets cancels through without a token (a cancel only removes risk; in HALTED only cancels
  pass, FIA-1), and tracks each cancel until the adapter acknowledges it (RTS-12);
* lets a replace that reduces risk through, and asks a fresh token for one that adds risk
  (more quantity or a more aggressive limit, :func:`~torghut.runtime.adapters.base.is_increase`);
* counts every answer by operation and code for the metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from itertools import count
from typing import Generic, Literal, TypeVar

from pydantic import Field

from torghut.contracts.base import Contract
from torghut.contracts.orders import AdapterAck, AdapterCode, Order, OrderRequest
from torghut.runtime.adapters.base import (
    AdapterEvent,
    AdapterEventKind,
    ExecutionAdapter,
    is_increase,
    replacement_request,
)
from torghut.runtime.feed import Step

# The token type is the issuer's (the risk chain's OrderToken); the firewall only needs to
# hash it, remember it as spent and hand it back to the issuer's verifier.
TokenT = TypeVar("TokenT", bound=Hashable)
Verifier = Callable[[TokenT, OrderRequest], bool]
Consumer = Callable[[TokenT], object]
CancelListener = Callable[[Order, AdapterAck], object]
OPERATIONS = ("submit", "cancel", "replace")


class CancelReport(Contract):
    """Where a batch of cancels stands. ``done`` only when the adapter acknowledged every
    one (an order that ended otherwise — filled, rejected — also counts: nothing of it is
    working any more); a pending cancel may need further bars to be acknowledged."""

    schema_version: Literal["1.0"] = "1.0"
    requested: tuple[str, ...]
    acknowledged: tuple[str, ...]
    pending: tuple[str, ...]
    errors: dict[str, str] = Field(default_factory=dict,
                                   description="Order id → code of a cancel that failed (retry)")

    @property
    def done(self) -> bool:
        return not self.pending


class OrderFirewall(Generic[TokenT]):
    """Token-checked access to one execution adapter (the only reference to it)."""

    __slots__ = ("__adapter", "_acked", "_consume", "_counts", "_errors", "_pending", "_seq",
                 "_submits", "_used", "_verifier")

    def __init__(self, adapter: ExecutionAdapter, verifier: Verifier[TokenT], *,
                 consume: Consumer[TokenT] | None = None) -> None:
        self.__adapter = adapter
        self._verifier = verifier
        self._consume = consume
        self._used: set[TokenT] = set()
        self._counts: dict[str, Counter[str]] = {op: Counter() for op in OPERATIONS}
        self._submits = self._counts["submit"]
        self._pending: set[str] = set()  # order ids with a cancel not yet acknowledged
        self._acked: set[str] = set()
        self._errors: dict[str, str] = {}
        self._seq = count(1)

    @property
    def name(self) -> str:
        return self.__adapter.name

    # ------------------------------------------------------------------ orders

    def submit(self, request: OrderRequest, token: TokenT | None) -> AdapterAck:
        """Send ``request`` if ``token`` is the chain's, unused and issued for it."""
        # control: RTS-12 (orders carry strategy id, version, operator: OrderRequest) and
        # DESIGN invariant 4: nothing reaches the adapter without a valid single-use token.
        refusal = self._spend(token, request)
        if refusal is not None:
            return self._count("submit", refusal)
        ack = self.__adapter.submit(request, idempotency_key=request.client_order_id)
        self._submits[ack.code._value_] += 1  # self._count("submit", ack), one call less
        return ack

    def replace(self, order_id: str, *, qty: float | None = None,
                limit_price: float | None = None, token: TokenT | None = None,
                idempotency_key: str | None = None) -> AdapterAck:
        """Replace a working order; one that adds risk needs a token issued for
        :func:`~torghut.runtime.adapters.base.replacement_request` of it."""
        current = self.__adapter.status(order_id)
        if current.ok and current.order is not None and current.order.status.open:
            try:
                new = replacement_request(current.order, qty=qty, limit_price=limit_price)
            except ValueError:
                new = None  # malformed numbers: the adapter answers INVALID_ORDER below
            if new is not None and is_increase(current.order, new):
                refusal = self._spend(token, new)
                if refusal is not None:
                    return self._count("replace", refusal)
        key = idempotency_key or f"replace:{order_id}:{next(self._seq)}"
        ack = self.__adapter.replace(order_id, qty=qty, limit_price=limit_price,
                                     idempotency_key=key)
        return self._count("replace", ack)

    def cancel(self, order_id: str, *, idempotency_key: str | None = None) -> AdapterAck:
        """Ask the adapter to cancel; tracked as pending until it acknowledges (RTS-12)."""
        # control: RTS-12 (a cancel counts done only when the adapter acknowledges it)
        key = idempotency_key or f"cancel:{order_id}:{next(self._seq)}"
        ack = self.__adapter.cancel(order_id, idempotency_key=key)
        self._count("cancel", ack)
        if ack.code is AdapterCode.NOT_OPEN or (ack.ok and ack.order is not None
                                                 and not ack.order.status.open):
            self._acknowledge(order_id)
        elif ack.ok:
            self._pending.add(order_id)
            self._errors.pop(order_id, None)
        elif ack.code is not AdapterCode.DUPLICATE_KEY:
            self._errors[order_id] = ack.code.value
            if order_id not in self._acked:
                self._pending.add(order_id)
        return ack

    def cancel_all(self, predicate: Callable[[Order], bool] | None = None, *,
                   on_answer: CancelListener | None = None) -> CancelReport:
        """Cancel every open order matching ``predicate`` (all when None); the report is
        done only once each cancel is acknowledged (call :meth:`cancel_progress` after
        further :meth:`on_bar` calls). ``on_answer`` hears each order as it was before its
        cancel and the adapter's answer, so the caller can record both (RTS-28)."""
        # control: RTS-12 (kill switch: all open orders cancelled, done only when acknowledged)
        targets = [o for o in self.__adapter.open_orders() if predicate is None or predicate(o)]
        for order in targets:
            ack = self.cancel(order.order_id)
            if on_answer is not None:
                on_answer(order, ack)
        return self.cancel_progress(o.order_id for o in targets)

    def cancel_progress(self, requested: CancelReport | Iterable[str]) -> CancelReport:
        """The current state of these cancels (a fresh report; reports are snapshots)."""
        ids = tuple(requested.requested if isinstance(requested, CancelReport) else requested)
        return CancelReport(
            requested=ids, acknowledged=tuple(i for i in ids if i in self._acked),
            pending=tuple(i for i in ids if i not in self._acked),
            errors={i: self._errors[i] for i in ids if i in self._errors})

    def on_bar(self, step: Step) -> list[AdapterEvent]:
        """Pass a market step to the adapter; note cancel acknowledgements in its events."""
        events = self.__adapter.on_bar(step)
        if self._pending:  # usually no cancel is pending: no loop over the fills
            for event in events:
                order_id = event.order.order_id
                if order_id in self._pending and (event.kind is AdapterEventKind.CANCEL_ACK
                                                  or not event.order.status.open):
                    self._acknowledge(order_id)
        return events

    # ------------------------------------------------------------------ read-only view

    def status(self, order_id: str) -> AdapterAck:
        return self.__adapter.status(order_id)

    def open_orders(self) -> list[Order]:
        return self.__adapter.open_orders()

    def positions(self) -> dict[str, float]:
        return self.__adapter.positions()

    def positions_by_strategy(self) -> dict[str, dict[str, float]]:
        return self.__adapter.positions_by_strategy()

    @property
    def pending_cancels(self) -> frozenset[str]:
        return frozenset(self._pending)

    def counts(self) -> dict[str, dict[str, int]]:
        """Answers by operation and code, e.g. ``{"submit": {"OK": 12, "NO_TOKEN": 1}}``."""
        return {op: dict(c) for op, c in self._counts.items()}

    # ------------------------------------------------------------------ internals

    def _spend(self, token: TokenT | None, request: OrderRequest) -> AdapterAck | None:
        """None when ``token`` authorises ``request`` (and is now spent), else the refusal.
        Fails closed: a verifier that raises refuses."""
        if token is None:
            return _no_token("no risk-chain token")
        try:
            if token in self._used:
                return _no_token("token already used")
        except TypeError:
            return _no_token("not a token")
        try:
            valid = bool(self._verifier(token, request))
        except Exception as exc:
            return _no_token(f"token check failed: {type(exc).__name__}")
        if not valid:
            return _no_token("token not issued by the risk chain for this request")
        self._used.add(token)
        if self._consume is not None:
            try:
                spent = self._consume(token)
            except Exception as exc:
                return _no_token(f"token could not be spent: {type(exc).__name__}")
            if spent is False:
                return _no_token("token already spent")
        return None

    def _acknowledge(self, order_id: str) -> None:
        self._pending.discard(order_id)
        self._errors.pop(order_id, None)
        self._acked.add(order_id)

    def _count(self, op: str, ack: AdapterAck) -> AdapterAck:
        self._counts[op][ack.code._value_] += 1  # _value_: .value is a property call
        return ack


def _no_token(message: str) -> AdapterAck:
    return AdapterAck(code=AdapterCode.NO_TOKEN, message=message)
