"""The shadow adapter: records what the runtime would do and sends nothing.

Shadow mode (plan-details "Shadow and paper evaluation"): intents and orders are recorded,
no order leaves the process, and the fills are hypothetical (``Fill.hypothetical``), priced
by exactly the paper broker's model so shadow, paper and backtest stay comparable. It holds no
connection, client or credential of any kind (RTS-7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from torghut.contracts.orders import AdapterAck, OrderRequest
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.runtime.adapters.paper import PaperAdapter


class ShadowAdapter(PaperAdapter):
    """A :class:`PaperAdapter` whose every fill is hypothetical, with a record of intents
    and requests."""

    name = "shadow"
    hypothetical = True
    sent = 0  # orders sent anywhere: none, ever (there is nowhere to send them)

    def __init__(self, execution: ExecutionModel, costs: CostModel, *, capital: float,
                 cancel_ack_delay_bars: int = 0, symbols: Iterable[str] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(execution, costs, capital=capital,
                         cancel_ack_delay_bars=cancel_ack_delay_bars, symbols=symbols,
                         clock=clock)
        self.intents: list[object] = []
        self.requests: list[OrderRequest] = []

    def record_intent(self, intent: object) -> None:
        """Keep an intent the runtime produced (whether or not it became an order)."""
        self.intents.append(intent)

    def submit(self, request: OrderRequest, *, idempotency_key: str) -> AdapterAck:
        self.requests.append(request)
        return super().submit(request, idempotency_key=idempotency_key)
