"""Pure risk engines: the pre-trade control chain, the allocator and the kill-switch state
machine (DESIGN.md ``risk``; CONTROLS.md pre-trade and kill-switch tables)."""

from torghut.risk.allocator import AllocationCode, Allocator
from torghut.risk.chain import ChainSettings, KillBoardView, RiskChain, Trip, Verdict
from torghut.risk.overrides import OverrideGrant
from torghut.risk.tokens import OrderToken

__all__ = ["AllocationCode", "Allocator", "ChainSettings", "KillBoardView", "OrderToken",
           "OverrideGrant", "RiskChain", "Trip", "Verdict"]
