"""The runtime configuration (GitOps ``apps/torghut/runtime-config.yaml``).

What the paper/shadow runtime enforces, changed only by a reviewed pull request (CONTROLS.md
SEC-9): the trading mode, firm-wide limits (15c3-5 (c)(1)), the limits every strategy
declares before deployment (RTS 6 Art 8, control RTS-8 — all required, no defaults), the
effective-dated restricted list (15c3-5 (c)(2)(ii), control SEC-6) and the thresholds that
trip the kill switch (FIA-2, RTS-15b, data staleness). Firm-level numbers have documented
defaults that a firm is expected to calibrate; strategy limits never default.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from torghut.contracts.base import SLUG_PATTERN, Contract
from torghut.contracts.strategies import Mode

SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,31}$"
VENUE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,31}$"


def _unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")
    return values


class FirmLimits(Contract):
    """Firm-level limits, the top of the hierarchy firm > strategy > instrument (RTS-15c)."""

    schema_version: Literal["1.0"] = "1.0"
    max_gross_notional: float = Field(
        default=1_000_000.0, gt=0, allow_inf_nan=False,
        description="Max gross open + filled notional across all strategies, account "
        "currency (15c3-5 (c)(1)(i) credit/capital threshold, SEC-1)")
    max_open_orders: int = Field(
        default=200, gt=0, description="Max working orders at once, firm-wide")
    daily_loss_limit: float = Field(
        default=25_000.0, gt=0, allow_inf_nan=False,
        description="Realised + unrealised loss in one trading day that halts trading, "
        "account currency (RTS-17)")
    max_drawdown_fraction: float = Field(
        default=0.10, gt=0, le=1, allow_inf_nan=False,
        description="Peak-to-trough equity loss, as a fraction of capital, that halts trading")
    max_messages_per_second: float = Field(
        default=50.0, gt=0, allow_inf_nan=False,
        description="Max order messages (new, amend, cancel) per second, firm-wide "
        "(RTS-15a; counted when sent)")


class StrategyLimits(Contract):
    """The limits one strategy declares before deployment (RTS 6 Art 8, control RTS-8).

    Every field is required: a strategy without a declared universe, order value, order
    count, position or venue list cannot be enabled (``torghut config validate``).
    """

    schema_version: Literal["1.0"] = "1.0"
    instruments: tuple[str, ...] = Field(
        min_length=1, description="Symbols the strategy may trade; anything else is rejected "
        "(RTS-15c)")
    max_order_value: float = Field(
        gt=0, allow_inf_nan=False, description="Max notional of one order, account currency "
        "(SEC-3, RTS-15a)")
    max_orders_per_day: int = Field(gt=0, description="Max orders sent per trading day")
    max_position_notional: float = Field(
        gt=0, allow_inf_nan=False, description="Max absolute position per instrument, "
        "notional, account currency (SEC-1)")
    venues: tuple[str, ...] = Field(min_length=1,
                                    description="Venues / execution adapters it may route to")

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(_each_matches(values, SYMBOL_PATTERN, "instrument"), "instruments")

    @field_validator("venues")
    @classmethod
    def _venues(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(_each_matches(values, VENUE_PATTERN, "venue"), "venues")


def _each_matches(values: tuple[str, ...], pattern: str, what: str) -> tuple[str, ...]:
    regex = re.compile(pattern)
    for value in values:
        if not regex.match(value):
            raise ValueError(f"{what} {value!r} does not match {pattern}")
    return values


def _midnight_utc(value: Any) -> Any:
    """A bare YAML date means 00:00 UTC that day (naive datetimes stay errors)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


class RestrictedEntry(Contract):
    """A symbol no strategy may trade while the entry is in effect (SEC-6).

    In effect from ``effective_from`` (inclusive) until ``effective_until`` (exclusive), or
    indefinitely when that is null.
    """

    schema_version: Literal["1.0"] = "1.0"
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="The restricted symbol")
    effective_from: AwareDatetime = Field(
        description="Start, inclusive (a bare date is 00:00 UTC)")
    effective_until: AwareDatetime | None = Field(
        description="End, exclusive; null = until removed")
    reason: str = Field(min_length=1, description="Why (e.g. MNPI, corporate action, legal)")

    @field_validator("effective_from", "effective_until", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return _midnight_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> RestrictedEntry:
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        return self

    def in_effect(self, at: datetime) -> bool:
        """Whether the restriction applies at ``at`` (an aware datetime)."""
        return self.effective_from <= at and (self.effective_until is None
                                              or at < self.effective_until)


class KillSwitchTriggers(Contract):
    """Thresholds at which the runtime engages the kill switch on its own (RTS-16)."""

    schema_version: Literal["1.0"] = "1.0"
    feed_heartbeat_gap_seconds: float = Field(
        default=5.0, gt=0, allow_inf_nan=False,
        description="A market-data or venue heartbeat gap longer than this halts the "
        "strategy and cancels its orders (cancel-on-disconnect, FIA-2)")
    data_staleness_seconds: float = Field(
        default=120.0, gt=0, allow_inf_nan=False,
        description="Reference data older than this halts the strategies that read it "
        "(the plan's Gate 0 staleness ceiling)")
    repeated_execution_cycles: int = Field(
        default=10, gt=0,
        description="More fill-and-re-entry cycles than this within the window disables the "
        "strategy until an authorised person re-enables it (RTS-15b)")
    repeated_execution_window_seconds: float = Field(
        default=60.0, gt=0, allow_inf_nan=False,
        description="The window over which repeated-execution cycles are counted (RTS-15b)")


class RuntimeConfig(Contract):
    """Everything the runtime enforces, as reviewed in GitOps (SEC-9: strategies cannot
    change limits; limits change only by a reviewed PR)."""

    schema_version: Literal["1.0"] = "1.0"
    mode: Mode = Field(default=Mode.PAPER, description="shadow, paper (default) or live; "
                       "live needs Gate 4 and explicit approval")
    firm_limits: FirmLimits = Field(default_factory=FirmLimits,
                                    description="Firm-wide limits (SEC-1, RTS-15a, RTS-17)")
    limits: dict[str, StrategyLimits] = Field(
        default_factory=dict, description="Per-strategy limits keyed by catalog strategy_id; "
        "required for every enabled strategy (RTS-8)")
    restricted_list: tuple[RestrictedEntry, ...] = Field(
        default=(), description="Effective-dated restricted symbols (SEC-6)")
    kill_switch: KillSwitchTriggers = Field(default_factory=KillSwitchTriggers,
                                            description="Automatic kill-switch triggers")
    easy_to_borrow: tuple[str, ...] = Field(
        default=("*",), description="Symbols a short sale may be sent for (SEC-5: selling "
        "below a flat position needs a located borrow); '*' = every symbol, the paper "
        "default — list symbols explicitly for live")

    @field_validator("limits")
    @classmethod
    def _strategy_ids(cls, limits: dict[str, StrategyLimits]) -> dict[str, StrategyLimits]:
        slug = re.compile(SLUG_PATTERN)
        for key in limits:
            if not slug.match(key):
                raise ValueError(f"limits key {key!r} is not a strategy_id "
                                 f"(must match {SLUG_PATTERN})")
        return limits

    def restricted_at(self, at: datetime) -> frozenset[str]:
        """Symbols restricted at ``at``."""
        return frozenset(e.symbol for e in self.restricted_list if e.in_effect(at))
