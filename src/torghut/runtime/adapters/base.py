"""The execution-adapter interface every venue implements (paper, shadow, a broker).

An adapter answers every call with an :class:`~torghut.contracts.orders.AdapterAck` carrying a
standard :class:`~torghut.contracts.orders.AdapterCode`, and reports what the market did to
its orders as :class:`AdapterEvent` s from :meth:`ExecutionAdapter.on_bar`. Every mutating
call carries an idempotency key: a key seen before is never executed again, its first answer
stands and is returned with ``DUPLICATE_KEY`` (so a retried network call cannot double an
order or a cancel).

Only the order firewall (:mod:`torghut.runtime.firewall`) holds an adapter; everything else
reads through :class:`AdapterView`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import Field

from torghut.contracts.base import Contract
from torghut.contracts.orders import AdapterAck, AdapterCode, Fill, Order, OrderRequest
from torghut.runtime.feed import Step

# Order.reason for an order the strategy cancelled (TCA counts these as cancel messages).
CANCEL_REQUESTED = "CANCEL_REQUESTED"


class AdapterEventKind(StrEnum):
    FILL = "fill"  # a fill (the order's state after it rides along)
    ORDER_UPDATE = "order_update"  # a status change without a fill (reject, model cancel)
    CANCEL_ACK = "cancel_ack"  # a requested cancel is acknowledged (RTS-12)


class AdapterEvent(Contract):
    """Something an adapter reports on a bar; ``order`` is always the state after it.

    A ``CANCEL_ACK`` whose order is not ``cancelled`` says the order ended otherwise (filled,
    rejected) before the cancel reached it: nothing of it is working any more either way.
    """

    schema_version: Literal["1.0"] = "1.0"
    kind: AdapterEventKind
    ts: datetime
    order: Order
    fill: Fill | None = None
    message: str = Field(default="", description="e.g. the reason of a reject")


class AdapterView(Protocol):
    """Read-only questions about an adapter's state (what reconciliation and the API ask)."""

    @property
    def name(self) -> str: ...

    def status(self, order_id: str) -> AdapterAck: ...

    def open_orders(self) -> list[Order]: ...

    def positions(self) -> dict[str, float]: ...

    def positions_by_strategy(self) -> dict[str, dict[str, float]]: ...


class ExecutionAdapter(AdapterView, Protocol):
    """Submit / cancel / replace / status with idempotency keys and standard codes."""

    def submit(self, request: OrderRequest, *, idempotency_key: str) -> AdapterAck: ...

    def cancel(self, order_id: str, *, idempotency_key: str) -> AdapterAck: ...

    def replace(self, order_id: str, *, qty: float | None = None,
                limit_price: float | None = None, idempotency_key: str) -> AdapterAck: ...

    def on_bar(self, step: Step) -> list[AdapterEvent]: ...


class IdempotencyCache:
    """Key → first answer. A repeated key gets ``DUPLICATE_KEY`` with the original order."""

    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first: dict[str, AdapterAck] = {}

    def replay(self, key: str) -> AdapterAck | None:
        """The answer to a repeated key (None for a new key): nothing is executed again."""
        first = self._first.get(key)
        if first is None:
            return None
        return AdapterAck(code=AdapterCode.DUPLICATE_KEY, order=first.order,
                          message=f"idempotency key {key!r} already used; first answer "
                                  f"{first.code.value}" + (f": {first.message}"
                                                            if first.message else ""))

    def remember(self, key: str, ack: AdapterAck) -> AdapterAck:
        self._first[key] = ack
        return ack


def replacement_request(order: Order, *, qty: float | None = None,
                        limit_price: float | None = None) -> OrderRequest:
    """The request a replace of ``order`` sends: its request with a new quantity (default:
    what is still working; the part already filled stays with the replaced order) and/or a
    new limit price. The firewall verifies a token against exactly this request, so a risk
    chain issuing a token for a replace builds it with this function too. Raises
    ``ValueError`` (pydantic) for a non-positive quantity or price."""
    update: dict[str, object] = {"qty": order.qty - order.filled_qty if qty is None else qty}
    if limit_price is not None:
        update["limit_price"] = limit_price
    return OrderRequest.model_validate({**order.request.model_dump(), **update})


def is_increase(order: Order, replacement: OrderRequest) -> bool:
    """Does the replace add risk: more quantity than the order still has working, or a more
    aggressive limit (a higher buy, a lower sell)? Such a replace needs a fresh token."""
    remaining = order.qty - order.filled_qty
    if replacement.qty > remaining:
        return True
    old, new = order.request.limit_price, replacement.limit_price
    if old is None or new is None:
        return old != new
    return (new - old) * order.request.side.sign > 0
