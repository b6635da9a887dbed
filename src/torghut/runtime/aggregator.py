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
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from torghut.contracts import StrategyIntent


class ConflictPolicy(StrEnum):
    NET = "net"
    PRIORITY = "priority"


@dataclass(frozen=True, slots=True)
class Target:
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
            by_symbol.setdefault(intent.symbol, []).append(intent)
        self._pending = {}
        out: list[Target] = []
        for symbol in sorted(by_symbol):
            ranked = sorted(by_symbol[symbol], key=self._rank)
            out.extend(self._resolve(ranked))
        return out

    def _rank(self, intent: StrategyIntent) -> tuple[int, str]:
        return self.priorities.get(intent.strategy_id, 1 << 30), intent.strategy_id

    def _resolve(self, ranked: list[StrategyIntent]) -> list[Target]:
        signs = {(i.target_exposure > 0) - (i.target_exposure < 0) for i in ranked}
        conflict = 1 in signs and -1 in signs
        self.conflicts += conflict
        lead = next((i for i in ranked if i.target_exposure != 0), None)
        out = []
        for i in ranked:
            opposed = (conflict and lead is not None and self.policy is ConflictPolicy.PRIORITY
                       and i.target_exposure * lead.target_exposure < 0)
            out.append(Target(i.strategy_id, i.symbol, 0.0 if opposed else i.target_exposure,
                              i.seq, i.event_ts, "CONFLICT_FLATTENED" if opposed else i.reason))
        return out
