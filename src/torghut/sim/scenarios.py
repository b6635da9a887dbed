"""Stress scenarios: named, parameterised transforms of the simulator's inputs.

Each scenario maps :class:`SimInputs` (market arrays, decisions, models) to new inputs; the
decisions themselves are held fixed, so a scenario measures how the *same* trading path
fares under worse execution, costs or markets. Random choices are seeded.

* ``spread_x2`` / ``spread_x3`` — every half spread (data or modelled) × 2 or × 3;
* ``vol_spike`` — in a window (seeded start unless given), log prices are pushed away from
  the straight line joining the window's end points by a factor ``scale``: bar returns
  inside the window are amplified around the path's trend and the path rejoins the original
  at the window's end; OHLC order is preserved (the map is monotone per bar); trailing
  volatility and modelled spreads are recomputed;
* ``liquidity_drought`` — volume × ``factor`` (0.1);
* ``delayed_data`` — latency + ``bars`` (data arrives late, decisions act later);
* ``rejection_burst`` — in ``windows`` seeded windows of ``length`` bars, each order attempt
  is rejected (``REJECT_BURST``) with probability ``rate``;
* ``pessimistic_costs`` — the ``costs-pessimistic`` cost model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from torghut.contracts.simulation import BacktestMetrics, CostModel, ExecutionModel
from torghut.errors import NotFoundError
from torghut.sim.engine import SimResult, simulate
from torghut.sim.market import Market, derive
from torghut.sim.metrics import backtest_metrics
from torghut.sim.models import get_cost_model

# Metrics compared against the baseline in every scenario report.
DEGRADATION_KEYS = ("net_pnl", "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
                    "total_costs", "cost_bps", "shortfall_bps", "trade_count",
                    "rejected_orders")


@dataclass(frozen=True)
class SimInputs:
    """Everything :func:`~torghut.sim.engine.simulate` needs, as one value to transform."""

    market: Market
    exposure: np.ndarray | None
    execution: ExecutionModel
    costs: CostModel
    capital: float = 1_000_000.0
    orders: pd.DataFrame | None = None

    def run(self) -> SimResult:
        return simulate(self.market, self.exposure, self.execution, self.costs,
                        capital=self.capital, orders=self.orders)


Transform = Callable[[SimInputs, Mapping[str, Any]], SimInputs]


@dataclass(frozen=True)
class Scenario:
    name: str
    transform: Transform
    params: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, inputs: SimInputs) -> SimInputs:
        return self.transform(inputs, self.params)


def _spread(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    m = inputs.market
    return replace(inputs, market=replace(m, half=m.half * float(p["multiplier"])))


def _window(n: int, length: int, rng: np.random.Generator) -> tuple[int, int]:
    length = max(2, min(length, n))
    start = int(rng.integers(0, n - length + 1))
    return start, start + length


def _vol_spike(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    m = inputs.market
    n = m.shape[0]
    rng = np.random.default_rng(int(p["seed"]))
    start = p.get("start")
    a, b = ((int(start), min(n, int(start) + int(p["length"]))) if start is not None
            else _window(n, int(p["length"]), rng))
    scale = float(p["scale"])
    prices = {name: getattr(m, name).copy() for name in ("open", "high", "low", "close", "mid")}
    log_close = np.log(m.close)
    for s in range(m.shape[1]):
        rows = np.arange(a, b)
        rows = rows[np.isfinite(log_close[rows, s])]
        if rows.size < 2:
            continue
        first, last = rows[0], rows[-1]
        line = np.interp(rows, [first, last], [log_close[first, s], log_close[last, s]])
        for arr in prices.values():
            x = np.log(arr[rows, s])
            arr[rows, s] = np.exp(line + scale * (x - line))
    stressed = replace(m, **prices)
    return replace(inputs, market=derive(stressed, inputs.execution))


def _drought(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    return replace(inputs, market=replace(inputs.market,
                                          volume=inputs.market.volume * float(p["factor"])))


def _delay(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    ex = inputs.execution
    return replace(inputs, execution=ex.model_copy(
        update={"latency_bars": ex.latency_bars + int(p["bars"]),
                "model_id": f"{ex.model_id}-delay{int(p['bars'])}"}))


def _rejections(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    m = inputs.market
    n, n_sym = m.shape
    rng = np.random.default_rng(int(p["seed"]))
    mask = m.reject.copy()
    for _ in range(int(p["windows"])):
        a, b = _window(n, int(p["length"]), rng)
        mask[a:b] |= rng.random((b - a, n_sym)) < float(p["rate"])
    return replace(inputs, market=replace(m, reject=mask))


def _pessimistic(inputs: SimInputs, p: Mapping[str, Any]) -> SimInputs:
    return replace(inputs, costs=get_cost_model(str(p["cost_model"])))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("spread_x2", _spread, {"multiplier": 2.0}),
    Scenario("spread_x3", _spread, {"multiplier": 3.0}),
    Scenario("vol_spike", _vol_spike, {"scale": 3.0, "length": 60, "seed": 7, "start": None}),
    Scenario("liquidity_drought", _drought, {"factor": 0.1}),
    Scenario("delayed_data", _delay, {"bars": 2}),
    Scenario("rejection_burst", _rejections, {"rate": 0.5, "windows": 3, "length": 40,
                                              "seed": 11}),
    Scenario("pessimistic_costs", _pessimistic, {"cost_model": "costs-pessimistic"}),
)}


def get_scenario(name: str, **overrides: Any) -> Scenario:
    """A named scenario, with any parameter overridden (unknown names or keys raise)."""
    try:
        base = SCENARIOS[name]
    except KeyError:
        raise NotFoundError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}",
                            field="scenario") from None
    unknown = sorted(set(overrides) - set(base.params))
    if unknown:
        raise NotFoundError(f"{name} has no parameter {unknown[0]!r}; it takes "
                            f"{', '.join(base.params)}", field=f"scenario.{name}")
    return replace(base, params={**base.params, **overrides})


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    params: Mapping[str, Any]
    metrics: BacktestMetrics
    delta: dict[str, float | None]  # scenario − baseline
    relative: dict[str, float | None]  # delta / |baseline|

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params),
                "metrics": self.metrics.model_dump(mode="json"), "delta": self.delta,
                "relative": self.relative}


def degradation(base: BacktestMetrics, stressed: BacktestMetrics
                ) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Absolute and relative change of each :data:`DEGRADATION_KEYS` metric."""
    delta: dict[str, float | None] = {}
    relative: dict[str, float | None] = {}
    for key in DEGRADATION_KEYS:
        b, s = getattr(base, key), getattr(stressed, key)
        d = None if b is None or s is None else float(s) - float(b)
        delta[key] = d
        relative[key] = (d / abs(b) if d is not None and b and math.isfinite(b) else None)
    return delta, relative


def run_scenarios(inputs: SimInputs, periods_per_year: float,
                  scenarios: list[Scenario] | None = None
                  ) -> tuple[BacktestMetrics, list[ScenarioResult]]:
    """Baseline metrics and, per scenario, its metrics and degradation vs the baseline."""
    base = backtest_metrics(inputs.run(), periods_per_year)
    out = []
    for scenario in scenarios if scenarios is not None else list(SCENARIOS.values()):
        metrics = backtest_metrics(scenario.apply(inputs).run(), periods_per_year)
        delta, relative = degradation(base, metrics)
        out.append(ScenarioResult(scenario.name, scenario.params, metrics, delta, relative))
    return base, out
