"""The intent aggregator: per clock step, one target per (strategy, symbol).

Precedence: within a strategy the intent for the latest event wins (earlier ones in the
same step are superseded). Across strategies a symbol is in *conflict* when targets point in
opposite directions; conflicts are counted and resolved by policy — ``net`` keeps every
strategy's own target (each trades its own book; the allocator's concentration cap sees the
net), ``priority`` flattens the strategies that oppose the highest-priority one. Ties break
by catalog ``priority`` (lower first), then ``strategy_id``, so resolution is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from torghut.contracts import FeatureVector


class ConflictPolicy(StrEnum):
    NET = "net"
    PRIORITY = "priority"


class Target(NamedTuple):
    """A checked intent as the runtime carries it: one (strategy, symbol) target at one
    event (a NamedTuple, ~30 per step: the runtime never needs the pydantic intent, whose
    construction cost more than the rest of a plugin call)."""

    strategy_id: str
    symbol: str
    exposure: float
    seq: int
    event_ts: datetime
    reason: str  # the intent's reason code, or CONFLICT_FLATTENED


def target_emitter(strategy_id: str) -> Callable[[FeatureVector, float, str], Target]:
    """``emit`` for :func:`torghut.strategies.runner.decider`: a checked decision of
    ``strategy_id`` as a :class:`Target` (tuple.__new__ skips the NamedTuple's Python-level
    ``__new__``)."""

    def emit(fv: FeatureVector, target: float, reason: str) -> Target:
        return _new_target(Target, (strategy_id, fv.symbol, target, fv.seq, fv.event_ts,
                                    reason))

    return emit


FLATTENED = "CONFLICT_FLATTENED"
_UNRANKED = 1 << 30  # a strategy without a catalog priority ranks after every other
_new_target = tuple.__new__


class IntentAggregator:
    def __init__(self, priorities: Mapping[str, int],
                 policy: ConflictPolicy = ConflictPolicy.NET) -> None:
        self.priorities = dict(priorities)
        self.policy = policy
        self.conflicts = 0
        self.superseded = 0
        # symbol → (priority, strategy_id) → the step's latest target: flush sorts plain
        # keys (a few strategies per symbol) instead of calling a key function per intent.
        self._pending: dict[str, dict[tuple[int, str], Target]] = {}
        self._ranks: dict[str, tuple[int, str]] = {}  # strategy_id → its key, built once

    def add(self, target: Target) -> None:
        """One checked intent of this step."""
        sid = target.strategy_id
        rank = self._ranks.get(sid)  # one lookup, not a dict get and a tuple per intent
        if rank is None:
            rank = self._ranks[sid] = (self.priorities.get(sid, _UNRANKED), sid)
        group = self._pending.get(target.symbol)
        if group is None:
            self._pending[target.symbol] = {rank: target}
            return
        held = group.get(rank)
        if held is not None:
            self.superseded += 1
            if held.seq > target.seq:
                return
        group[rank] = target

    def flush(self) -> list[Target]:
        """This step's targets, ordered by symbol then precedence; clears the step."""
        pending, self._pending = self._pending, {}
        out: list[Target] = []
        append = out.append
        # One plain loop per symbol finds its exposures' max and min (as max() and min()
        # would: a later value replaces one only when strictly beyond it) while the targets
        # go out in rank order: 12 -> 6 µs a step against building and resolving a list per
        # symbol with a list comprehension, max(), min() and a method call.
        for symbol in sorted(pending):
            group = pending[symbol]
            ranks = sorted(group)
            start = len(out)
            high = low = group[ranks[0]].exposure
            for rank in ranks:
                target = group[rank]
                append(target)
                exposure = target.exposure
                if exposure > high:
                    high = exposure
                elif exposure < low:  # low <= high, so never both
                    low = exposure
            if high > 0.0 > low:
                self.conflicts += 1
                if self.policy is not ConflictPolicy.NET:
                    out[start:] = self._flatten(out[start:])
        return out

    @staticmethod
    def _flatten(ranked: list[Target]) -> list[Target]:
        """A conflicting symbol's targets under the priority policy: those opposing the
        highest-ranked non-zero target are flattened."""
        lead = next(t.exposure for t in ranked if t.exposure)
        return [t._replace(exposure=0.0, reason=FLATTENED) if t.exposure * lead < 0 else t
                for t in ranked]
