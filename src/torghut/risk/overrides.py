"""RTS-15d: overriding a blocked order.

RTS 6 Art 15(6) lets a firm override a pre-trade control for one order, under its risk
function's control. Torghut's rule (CONTROLS.md RTS-15d): a grant is bound to exactly one
client order id, lives at most 15 minutes, names a risk verifier and a *different* approver,
and is spent on first use; reuse or expiry rejects. Only soft controls — the price collar and
the order size/notional-rate checks — can be overridden; the kill switch, the restricted
list, promotion, limits, duplicates and credit limits never can.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from torghut.contracts.base import Contract
from torghut.contracts.orders import CLIENT_ORDER_ID_PATTERN, OrderRequest, RiskCode
from torghut.errors import TorghutError

MAX_OVERRIDE_TTL = timedelta(minutes=15)

# control: RTS-15d — the only codes an override may lift.
SOFT_CODES: frozenset[RiskCode] = frozenset({
    RiskCode.PRICE_COLLAR, RiskCode.MAX_ORDER_QTY, RiskCode.MAX_ORDER_NOTIONAL,
    RiskCode.NOTIONAL_RATE,
})


class OverrideGrant(Contract):
    """A risk verifier's and an approver's permission to force one blocked order."""

    schema_version: Literal["1.0"] = "1.0"
    override_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN)
    client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN,
                                 description="The one order this grant applies to")
    codes: tuple[RiskCode, ...] = Field(min_length=1, description="Soft codes it lifts")
    verifier: str = Field(min_length=1, description="Risk-function identity that verified")
    approver: str = Field(min_length=1, description="A different identity that approved")
    reason: str = Field(min_length=1)
    granted_at: AwareDatetime
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> OverrideGrant:
        if self.expires_at <= self.granted_at:
            raise ValueError("expires_at must be after granted_at")
        return self


def validate_grant(grant: OverrideGrant, risk_verifiers: Collection[str]) -> None:
    """Refuse a grant that breaks RTS-15d, as a one-line :class:`TorghutError`."""
    # control: RTS-15d
    if grant.verifier not in risk_verifiers:
        raise TorghutError(f"{grant.verifier!r} is not a risk verifier", field="verifier")
    if grant.approver == grant.verifier:
        raise TorghutError("the approver must differ from the risk verifier",
                           field="approver")
    if grant.expires_at - grant.granted_at > MAX_OVERRIDE_TTL:
        raise TorghutError("an override lives at most 15 minutes", field="expires_at")
    hard = sorted(code.value for code in grant.codes if code not in SOFT_CODES)
    if hard:
        raise TorghutError(f"cannot override {', '.join(hard)} (only "
                           f"{', '.join(sorted(c.value for c in SOFT_CODES))})",
                           field="codes")


class OverrideBook:
    """Grants in force and the ones already spent."""

    __slots__ = ("_grants", "_spent", "_verifiers")

    def __init__(self, risk_verifiers: Collection[str] = ()) -> None:
        self._verifiers = frozenset(risk_verifiers)
        self._grants: dict[str, OverrideGrant] = {}
        self._spent: set[str] = set()

    def grant(self, grant: OverrideGrant) -> None:
        validate_grant(grant, self._verifiers)
        if grant.override_id in self._grants or grant.override_id in self._spent:
            raise TorghutError(f"override {grant.override_id} already exists",
                               field="override_id")
        self._grants[grant.override_id] = grant

    def use(self, request: OrderRequest, now: datetime
            ) -> tuple[RiskCode | None, frozenset[RiskCode]]:
        """Spend the request's override. Returns (rejection code or None, codes lifted).

        A valid grant is spent on first presentation, whatever the rest of the chain then
        says: a second attempt needs a new grant (OVERRIDE_REUSED)."""
        oid = request.override_id
        if oid is None:
            return None, frozenset()
        if oid in self._spent:
            return RiskCode.OVERRIDE_REUSED, frozenset()
        grant = self._grants.get(oid)
        if grant is None or grant.client_order_id != request.client_order_id:
            return RiskCode.OVERRIDE_INVALID, frozenset()
        if not grant.granted_at <= now < grant.expires_at:
            return RiskCode.OVERRIDE_EXPIRED, frozenset()
        del self._grants[oid]
        self._spent.add(oid)
        return None, frozenset(grant.codes)
