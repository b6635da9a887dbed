"""Open + filled exposure as the risk chain counts it (SEC-1, 15c3-5 (c)(1)(i)).

Exposure is counted *before* send: an accepted order's quantity joins its side's open
quantity at once; a fill moves quantity from open to the position; a close (cancel, reject,
expiry) releases what will never fill. The exposure of one (strategy, symbol) is the larger
absolute position it could reach if every working order on one side filled,

    max(|position + open_buy|, |position - open_sell|) × mark,

marked at the last price the chain saw for it (the accepted order's price or a fill). The
firm's gross is the sum over every (strategy, symbol), the symbol's gross the sum over
strategies; both are kept incrementally so a check costs O(1).
"""

from __future__ import annotations

from dataclasses import dataclass

EPS = 1e-9


@dataclass(slots=True)
class Exposure:
    """One strategy's book in one symbol."""

    position: float = 0.0
    open_buy: float = 0.0
    open_sell: float = 0.0
    mark: float = 0.0
    notional: float = 0.0
    filled_since_entry: bool = False  # RTS-15b: a fill happened since the last new order

    def worst_qty(self) -> float:
        return max(abs(self.position + self.open_buy), abs(self.position - self.open_sell))


@dataclass(slots=True)
class OpenOrder:
    key: tuple[str, str]
    sign: int
    remaining: float
    working: bool = True


EMPTY = Exposure()  # read-only default for books never traded (never mutate)


class ExposureBook:
    """Positions, working orders and gross notionals of every strategy and symbol."""

    __slots__ = ("_books", "_orders", "firm_gross", "symbol_gross", "working")

    def __init__(self) -> None:
        self._books: dict[tuple[str, str], Exposure] = {}
        self._orders: dict[str, OpenOrder] = {}
        self.firm_gross = 0.0
        self.symbol_gross: dict[str, float] = {}
        self.working = 0

    def get(self, key: tuple[str, str]) -> Exposure:
        """The book for ``key``, or a shared empty one (callers only read it)."""
        return self._books.get(key, EMPTY)

    def books(self) -> dict[tuple[str, str], Exposure]:
        return dict(self._books)

    def _book(self, key: tuple[str, str]) -> Exposure:
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = Exposure()
        return book

    def _remark(self, key: tuple[str, str], book: Exposure) -> None:
        """Recompute one book's notional and move the grosses by the difference."""
        long, short = abs(book.position + book.open_buy), abs(book.position - book.open_sell)
        new = (long if long >= short else short) * book.mark  # worst_qty(), without max()
        delta = new - book.notional
        book.notional = new
        self.firm_gross += delta
        self.symbol_gross[key[1]] = self.symbol_gross.get(key[1], 0.0) + delta

    def add_open(self, client_order_id: str, key: tuple[str, str], sign: int, qty: float,
                 price: float) -> bool:
        """Count an accepted order. Returns whether this was a re-entry after a fill."""
        book = self._books.get(key) or self._book(key)  # the common case without a call
        if sign > 0:
            book.open_buy += qty
        else:
            book.open_sell += qty
        book.mark = price
        reentry = book.filled_since_entry
        book.filled_since_entry = False
        self._orders[client_order_id] = OpenOrder(key, sign, qty)
        self.working += 1
        self._remark(key, book)
        return reentry

    def fill(self, client_order_id: str, key: tuple[str, str], sign: int, qty: float,
             price: float) -> None:
        """Move ``qty`` from open to the position (a fill of an unknown or closed order
        still moves the position: the venue's word on what traded wins)."""
        book = self._books.get(key) or self._book(key)  # the common case without a call
        book.position += sign * qty
        book.mark = price
        book.filled_since_entry = True
        order = self._orders.get(client_order_id)
        if order is not None:
            remaining = order.remaining
            # min() without the builtin call (the same value, NaN and ties included)
            self._release(order, book, remaining if remaining < qty else qty)
            if order.remaining <= EPS:
                self._drop(client_order_id, order, book)
        self._remark(key, book)

    def close(self, client_order_id: str, remaining_qty: float) -> None:
        """The order stopped working with ``remaining_qty`` unfilled: release that much.
        Open quantity beyond it stays counted until its fills arrive (fail closed)."""
        order = self._orders.get(client_order_id)
        if order is None:
            return
        book = self._books[order.key]
        self._release(order, book, min(max(remaining_qty, 0.0), order.remaining))
        if order.working:
            order.working = False
            self.working -= 1
        if order.remaining <= EPS:
            self._drop(client_order_id, order, book)
        self._remark(order.key, book)

    def _release(self, order: OpenOrder, book: Exposure, qty: float) -> None:
        order.remaining -= qty
        # max(left, 0.0) without the builtin call (the same value, NaN and -0.0 included)
        if order.sign > 0:
            left = book.open_buy - qty
            book.open_buy = 0.0 if left < 0.0 else left
        else:
            left = book.open_sell - qty
            book.open_sell = 0.0 if left < 0.0 else left

    def _drop(self, client_order_id: str, order: OpenOrder, book: Exposure) -> None:
        if order.remaining > 0.0:  # float dust
            self._release(order, book, order.remaining)
        del self._orders[client_order_id]
        if order.working:
            self.working -= 1

    def is_open(self, client_order_id: str) -> bool:
        return client_order_id in self._orders
