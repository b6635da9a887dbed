"""Pure risk engines: the pre-trade control chain, the allocator and the kill-switch state
machine (DESIGN.md ``risk``; CONTROLS.md pre-trade and kill-switch tables)."""
