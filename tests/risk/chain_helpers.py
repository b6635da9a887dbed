"""Builders shared by the risk-chain and allocator tests: a scope-aware kill board, limits,
configs, chains, order requests and fills, all at a fixed event time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from torghut.contracts.orders import Fill, KillState, OrderRequest, OrderType, Side
from torghut.contracts.runtime_config import RuntimeConfig, StrategyLimits
from torghut.risk.chain import RiskChain, Verdict

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEY = b"test-token-key-0123456789"
_SEVERITY = {KillState.ACTIVE: 0, KillState.REDUCING: 1, KillState.HALTED: 2}


class Board:
    """A kill board: the strictest of the firm, strategy and symbol scopes."""

    def __init__(self) -> None:
        self.states: dict[str, KillState] = {}

    def set(self, scope: str, state: KillState) -> None:
        self.states[scope] = state

    def state_for(self, strategy_id: str, symbol: str) -> KillState:
        scopes = ("firm", f"strategy:{strategy_id}", f"symbol:{symbol}")
        return max((self.states.get(s, KillState.ACTIVE) for s in scopes),
                   key=_SEVERITY.__getitem__)


def limits(**overrides: Any) -> StrategyLimits:
    base: dict[str, Any] = dict(instruments=("AAA", "BBB", "CCC"), max_order_value=50_000.0,
                                max_orders_per_day=10_000, max_position_notional=100_000.0,
                                venues=("paper",))
    base.update(overrides)
    return StrategyLimits(**base)


def config(strategies: Mapping[str, StrategyLimits] | None = None, **fields: Any
           ) -> RuntimeConfig:
    if strategies is None:
        strategies = {"tsmom": limits(), "meanrev": limits()}
    firm = {"max_messages_per_second": 10_000.0, **fields.pop("firm", {})}
    kill = {"repeated_execution_cycles": 10_000, **fields.pop("kill_switch", {})}
    return RuntimeConfig.model_validate({"limits": dict(strategies), "firm_limits": firm,
                                         "kill_switch": kill, **fields})


def promoted_for(cfg: RuntimeConfig) -> dict[str, str]:
    return {sid: f"{sid}@1.0.0" for sid in cfg.limits}


def make_chain(cfg: RuntimeConfig | None = None, *, board: Board | None = None,
               promoted: Mapping[str, str] | None = None, **kwargs: Any) -> RiskChain:
    cfg = cfg or config()
    return RiskChain(cfg, promoted_for(cfg) if promoted is None else promoted,
                     board or Board(), token_key=KEY, **kwargs)


def order(coid: str, *, strategy: str = "tsmom", symbol: str = "AAA", side: Side = Side.BUY,
          qty: float = 10.0, mid: float | None = 100.0, at: datetime = NOW,
          ref_at: datetime | None = None, limit: float | None = None,
          **fields: Any) -> OrderRequest:
    base: dict[str, Any] = dict(
        client_order_id=coid, strategy_id=strategy, strategy_type=strategy, version="1.0.0",
        operator="paper-runtime", symbol=symbol, side=side, qty=qty, decision_ts=at,
        reference_mid=mid, reference_ts=ref_at or at,
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit)
    base.update(fields)
    return OrderRequest(**base)


def fill_for(request: OrderRequest, qty: float | None = None, price: float | None = None,
             at: datetime = NOW) -> Fill:
    return Fill(fill_id=f"fill-{request.client_order_id}-{qty}", order_id="x",
                client_order_id=request.client_order_id, strategy_id=request.strategy_id,
                symbol=request.symbol, side=request.side,
                qty=request.qty if qty is None else qty,
                price=price or request.limit_price or request.reference_mid or 1.0, ts=at)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def submit(chain: RiskChain, coid: str, *, t: float = 0.0, halted: bool = False,
           **fields: Any) -> Verdict:
    """Check an order decided (and referenced) at NOW + t seconds, at that time."""
    at = later(t)
    return chain.check(order(coid, at=at, **fields), now=at, halted=halted)
