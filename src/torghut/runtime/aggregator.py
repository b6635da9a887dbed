"""The intent aggregator: per clock step, one target per (strategy, symbol).

Precedence: within a strategy the intent for the latest event wins (earlier ones in the
same step are superseded). Across strategies a symbol is in *conflict* when targets point in
opposite directions; conflicts are counted and resolved by policy — ``net`` keeps every
strategy's own target (each trades its own book; the allocator's concentration cap sees the
net), ``priority`` flattens the strategies that oppose the highest-priority one. Ties break
by catalog ``priority`` (lower first), then ``strategy_id``, so resolution is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from torghut.contracts import StrategyIntent


class ConflictPolicy(StrEnum):
    NET = "net"
    PRIORITY = "priority"


class Target(NamedTuple):
    """One (strategy, symbol) target of a step (a NamedTuple: ~30 of them per step)."""

    strategy_id: str
    symbol: str
    exposure: float
    seq: int
    event_ts: datetime
    reason: str  # the intent's reason code, or CONFLICT_FLATTENED


class IntentAggregator:
    def __init__(self, priorities: Mapping[str, int],
                 policy: ConflictPolicy = ConflictPolicy.NET) -> None:
        self.priorities = dict(priorities)
        self.policy = policy
        self.conflicts = 0
        self.superseded = 0
        self._pending: dict[tuple[str, str], StrategyIntent] = {}

    def add(self, intent: StrategyIntent) -> None:
        key = (intent.strategy_id, intent.symbol)
        held = self._pending.get(key)
        if held is not None:
            self.superseded += 1
            if held.seq > intent.seq:
                return
        self._pending[key] = intent

    def flush(self) -> list[Target]:
        """This step's targets, ordered by symbol then precedence; clears the step."""
        by_symbol: dict[str, list[StrategyIntent]] = {}
        for intent in self._pending.values():
            group = by_symbol.get(intent.symbol)
            if group is None:
                by_symbol[intent.symbol] = [intent]
            else:
                group.append(intent)
        self._pending = {}
        out: list[Target] = []
        for symbol in sorted(by_symbol):
            ranked = by_symbol[symbol]
            if len(ranked) > 1:
                ranked.sort(key=self._rank)
            self._resolve(ranked, out)
        return out

    def _rank(self, intent: StrategyIntent) -> tuple[int, str]:
        return self.priorities.get(intent.strategy_id, 1 << 30), intent.strategy_id

    def _resolve(self, ranked: list[StrategyIntent], out: list[Target]) -> None:
        """Append one symbol's targets to ``out``, conflicts resolved by policy."""
        long = short = False
        lead = 0.0  # the highest-ranked non-zero target
        for i in ranked:
            x = i.target_exposure
            if x > 0:
                long = True
            elif x < 0:
                short = True
            else:
                continue
            if lead == 0.0:
                lead = x
        conflict = long and short
        self.conflicts += conflict
        flatten = conflict and self.policy is ConflictPolicy.PRIORITY
        for i in ranked:
            x = i.target_exposure
            if flatten and x * lead < 0:
                out.append(Target(i.strategy_id, i.symbol, 0.0, i.seq, i.event_ts,
                                  "CONFLICT_FLATTENED"))
            else:
                out.append(Target(i.strategy_id, i.symbol, x, i.seq, i.event_ts, i.reason))
