"""Pure risk engines: the pre-trade control chain (``chain``), the allocator (``allocator``)
and the kill-switch state machine (``kill_switch``); DESIGN.md ``risk``, CONTROLS.md pre-trade
and kill-switch tables. No eager imports: governance reaches ``kill_switch`` through the
hard-stop measurement, and must not pay for (or break on) the chain."""
