"""The execution simulator: latency, spreads, order types, partial fills, costs, scenarios.

Modules: :mod:`~torghut.sim.market` (bars → T×S arrays, point-in-time vol and spreads),
:mod:`~torghut.sim.engine` (the rules and :func:`~torghut.sim.engine.simulate`),
:mod:`~torghut.sim.models` (versioned execution/cost models by id),
:mod:`~torghut.sim.metrics` (metric conventions), :mod:`~torghut.sim.scenarios` (stress
suite), :mod:`~torghut.sim.backtest` (a plugin on a bar set) and :mod:`~torghut.sim.report`.
"""
