"""Strategy definitions (catalog entries), the catalog, and the intents plugins emit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from torghut.contracts.base import SEMVER_PATTERN, SLUG_PATTERN, Contract


class Mode(StrEnum):
    """Where a strategy runs. Paper is the default; live is gated (Gate 4)."""

    SHADOW = "shadow"
    PAPER = "paper"
    LIVE = "live"


class RiskProfile(Contract):
    """Limits a strategy declares before deployment (CONTROLS.md RTS-8).

    Fields are optional in the contract; config validation (a later lane) requires them
    for any entry that is enabled.
    """

    schema_version: Literal["1.0"] = "1.0"
    instruments: tuple[str, ...] | None = Field(default=None, description="Tradable universe")
    venues: tuple[str, ...] | None = None
    max_position_notional: float | None = Field(default=None, gt=0)
    max_order_notional: float | None = Field(default=None, gt=0)
    max_orders_per_day: int | None = Field(default=None, gt=0)
    max_order_value_per_day: float | None = Field(default=None, gt=0)
    max_gross_exposure: float | None = Field(default=None, gt=0,
                                             description="Fraction of allocated capital")


class ExecutionProfile(Contract):
    """How the strategy's intents become orders."""

    schema_version: Literal["1.0"] = "1.0"
    order_type: Literal["market", "limit"] = "market"
    time_in_force: Literal["day", "gtc", "ioc"] = "day"
    limit_offset_bps: float = Field(default=0.0, ge=0)
    max_participation: float = Field(default=0.1, gt=0, le=1,
                                     description="Cap on fill size as a fraction of bar volume")


class StrategyDefinition(Contract):
    """One catalog entry: which plugin, at which version, with which params, where."""

    schema_version: Literal["1.0"] = "1.0"
    strategy_id: str = Field(pattern=SLUG_PATTERN)
    strategy_type: str = Field(pattern=SLUG_PATTERN)
    version: str = Field(pattern=SEMVER_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    feature_requirements: tuple[str, ...] = ()
    risk_profile: RiskProfile = Field(default_factory=RiskProfile)
    execution_profile: ExecutionProfile = Field(default_factory=ExecutionProfile)
    enabled: bool = False
    mode: Mode = Mode.PAPER
    cooldown_seconds: int = Field(default=0, ge=0)
    max_parallel_positions: int = Field(default=1, ge=1)
    priority: int = Field(default=100, ge=0)

    @property
    def ref(self) -> str:
        return f"{self.strategy_type}@{self.version}"


class StrategyCatalog(Contract):
    """The set of strategies a runtime should run; strategy ids are unique."""

    schema_version: Literal["1.0"] = "1.0"
    strategies: tuple[StrategyDefinition, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> StrategyCatalog:
        seen: set[str] = set()
        for entry in self.strategies:
            if entry.strategy_id in seen:
                raise ValueError(f"duplicate strategy_id {entry.strategy_id!r}")
            seen.add(entry.strategy_id)
        return self


class StrategyIntent(Contract):
    """What a plugin wants — a target exposure, never an order.

    ``target_exposure`` is a signed fraction of the strategy's budget for the symbol:
    +1 fully long, -1 fully short, 0 flat.
    """

    schema_version: Literal["1.0"] = "1.0"
    strategy_id: str
    strategy_type: str
    version: str = Field(pattern=SEMVER_PATTERN)
    symbol: str = Field(min_length=1)
    event_ts: datetime
    seq: int = Field(ge=0)
    target_exposure: float = Field(ge=-1.0, le=1.0)
    reason: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Stable reason code")
    feature_schema_version: str
