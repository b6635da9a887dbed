"""Order tokens: the risk chain's proof, checked by the order firewall, that an order passed.

A token is an HMAC-SHA256 (RFC 2104) over the canonical fields of the request as it may be
sent — every field that changes what reaches the venue, with the quantity replaced by the
approved (possibly clipped) quantity — keyed by a secret only the chain and the firewall
hold. The firewall recomputes the MAC for the request it is handed, so a token cannot be
moved to another order or an edited one, and it is single-use: the issuer remembers the
tokens it issued and forgets each one when it is consumed (DESIGN.md invariant 4: nothing
reaches an adapter without passing the chain and the firewall).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import NamedTuple

from torghut.contracts.orders import OrderRequest
from torghut.errors import TorghutError

MIN_KEY_BYTES = 16


class OrderToken(NamedTuple):
    """Authorises sending exactly one request with ``qty == approved_qty``."""

    client_order_id: str
    approved_qty: float
    mac: str


_HEAD = struct.Struct("<ddIIII")


def canonical_fields(r: OrderRequest, approved_qty: float) -> bytes:
    """What the MAC covers, unambiguously and cheaply (this runs on every accepted order):
    a fixed little-endian header with the approved quantity and the limit price as IEEE-754
    doubles (-1 for none: a limit price is positive) and the lengths of the four free-form
    fields (operator, symbol, venue, override id), then every string field joined by US
    (0x1f). The other fields' patterns cannot contain 0x1f, and the header fixes where each
    free-form field ends, so two different requests never share a message."""
    o, s, v, x = r.operator, r.symbol, r.venue, r.override_id or ""
    lp = r.limit_price
    head = _HEAD.pack(approved_qty, -1.0 if lp is None else lp, len(o), len(s), len(v), len(x))
    body = head + "\x1f".join((r.client_order_id, r.strategy_id, r.strategy_type, r.version,
                               o, s, r.side._value_, r.order_type._value_, v, x)).encode()
    # a stop's trigger, last (only a stop has one, and its order type is in the body)
    return body if r.stop_price is None else body + b"\x1f" + repr(r.stop_price).encode()


class TokenIssuer:
    """Issues, verifies and consumes single-use order tokens with one secret key."""

    __slots__ = ("_inner", "_outer", "_outstanding")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise TorghutError(f"the token key must be at least {MIN_KEY_BYTES} bytes",
                               field="token_key")
        # RFC 2104 with the keyed inner and outer SHA-256 states computed once and copied
        # per token: the same bytes as hmac.new(key, msg, "sha256"), at a third of the cost
        # of the hmac module's Python-level wrapper (this runs on every accepted order).
        block = key if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._outstanding: set[str] = set()

    def _mac(self, request: OrderRequest, approved_qty: float) -> str:
        inner = self._inner.copy()
        inner.update(canonical_fields(request, approved_qty))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def issue(self, request: OrderRequest, approved_qty: float) -> OrderToken:
        mac = self._mac(request, approved_qty)
        self._outstanding.add(mac)
        return OrderToken(request.client_order_id, approved_qty, mac)

    def verify(self, token: OrderToken, request: OrderRequest) -> bool:
        """True when ``token`` was issued for exactly this request (at its approved qty) and
        has not been consumed yet. Does not consume it."""
        if request.qty != token.approved_qty or token.mac not in self._outstanding:
            return False
        return hmac.compare_digest(token.mac, self._mac(request, token.approved_qty))

    def consume(self, token: OrderToken) -> bool:
        """Spend a token; False when it is unknown or already spent."""
        if token.mac in self._outstanding:
            self._outstanding.discard(token.mac)
            return True
        return False

    def redeem(self, token: OrderToken, request: OrderRequest) -> bool:
        """Verify and consume in one step (what a firewall does just before submitting)."""
        return self.verify(token, request) and self.consume(token)

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)
