"""Stress replay at a multiple of the peak load: does every pre-trade control still fire?

CONTROLS.md RTS-10 (RTS 6 Art 10): a stress test at twice the peak message and trade volume
must still fire every control. Two parts:

* :func:`session_peak` measures a normal paper session (a real :class:`Engine` run): the most
  order messages decided in one step, and the most notional filled in one step.
* :func:`stress_replay` then replays, through the real :class:`RiskChain`,
  :class:`OrderFirewall` and :class:`PaperAdapter`, bar after bar, a *flow* of orders at
  ``multiple`` × both peaks (spread over several strategies so that the flow itself stays
  inside every limit) together with, every step, orders that breach each pre-trade control:
  collar, credit (SEC-1), order size (quantity and value), message rate, duplicate id,
  identical order, halted symbol, restricted symbol, not-promoted strategy, repeated
  execution (RTS-15b) and the kill switch. Each breach carries the code its control must
  answer with; a breach is *leaked* if the chain passed it or the firewall let it reach the
  adapter (every breach is also offered to the firewall with the token — none — that the
  chain gave it).

The report says, per control, how many breaches were offered, fired and leaked, how many
flow orders passed, and the load achieved against the targets. ``bench/stress_replay.py``
prints it as JSON; ``tests/risk/test_rts10_stress_replay.py`` asserts on it.
"""

# control: RTS-10

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from torghut.contracts.orders import (
    AdapterCode,
    KillState,
    OrderRequest,
    OrderType,
    RiskCode,
    Side,
)
from torghut.contracts.runtime_config import (
    FirmLimits,
    KillSwitchTriggers,
    RestrictedEntry,
    RuntimeConfig,
    StrategyLimits,
)
from torghut.gitops.manifests import default_catalog, render_catalog_configmap
from torghut.gitops.patch import upsert_catalog_entry
from torghut.gitops.runtime_config import default_runtime_config, render_runtime_config_yaml
from torghut.risk.chain import RiskChain, Verdict
from torghut.risk.kill_switch import KillBoard
from torghut.risk.tokens import OrderToken
from torghut.runtime.adapters.paper import PaperAdapter
from torghut.runtime.config import AppliedConfig, apply_config
from torghut.runtime.engine import Engine, EngineOptions
from torghut.runtime.feed import Bar, ReplayFeed, Step
from torghut.runtime.firewall import OrderFirewall
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.strategies.registry import Registry

MULTIPLE = 2.0
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
BAR = timedelta(minutes=1)
MAX_CYCLES = 3  # RTS-15b threshold in the stress config; a flow strategy makes <= 2 a step
FLOW_PER_STRATEGY = 20  # flow orders per strategy per step (rate limit 50/s, window 20×)
BURST = 55  # orders of the burst strategy per step: 50 pass the rate limit, 5 breach
CHURN_SYMBOLS = 4  # books the churn strategy re-enters each step (> MAX_CYCLES)
CREDIT_LIMIT = 10_000.0
HALTED, RESTRICTED = "HLT", "RST"


@dataclass(frozen=True)
class Peak:
    """The busiest step of a normal session: order messages, and notional filled."""

    messages: int
    fill_notional: float
    steps: int


NORMAL_STRATEGIES = {"tsmom": {"lookback": 10}, "mean-reversion": {}, "legacy-macd-rsi": {}}


def paper_config(symbols: Sequence[str],
                 strategies: Mapping[str, Mapping[str, Any]] = NORMAL_STRATEGIES
                 ) -> AppliedConfig:
    """GitOps main after promoting ``strategies`` (built-in plugins by catalog id, with their
    params) on ``symbols``: a normal desk, also the runtime benchmark's."""
    catalog = render_catalog_configmap(default_catalog())
    for sid, params in strategies.items():
        catalog = upsert_catalog_entry(catalog, {"strategy_id": sid, "enabled": True,
                                                 "params": params})
    limits = _limits(symbols, 100_000.0, 250_000.0)
    runtime = default_runtime_config().model_copy(
        update={"limits": dict.fromkeys(strategies, limits)})
    return apply_config(catalog, render_runtime_config_yaml(runtime), commit="0" * 40,
                        registry=Registry.from_entry_points())


def normal_session(feed: ReplayFeed) -> Engine:
    """A normal paper session over ``feed``, run to the end."""
    engine = Engine(paper_config(feed.symbols), feed,
                    EngineOptions(session_id="stress-baseline", operator="stress"))
    engine.run()
    return engine


def session_peak(engine: Engine) -> Peak:
    """The peak of a session the engine has run (orders by decision time, fills by time)."""
    messages = Counter(o.request.decision_ts for o in engine.orders.values())
    filled: dict[datetime, float] = defaultdict(float)
    for fill in engine.fills:
        filled[fill.ts] += fill.qty * fill.price
    return Peak(messages=max(messages.values(), default=0),
                fill_notional=max(filled.values(), default=0.0), steps=engine.stats.steps)


@dataclass(frozen=True)
class Planned:
    """One order of the stream; ``expect`` is the code a breach must get (None: flow)."""

    control: str | None
    request: OrderRequest
    expect: frozenset[RiskCode] = frozenset()


@dataclass
class ControlTally:
    offered: int = 0
    fired: int = 0
    leaked: int = 0
    codes: Counter[str] = field(default_factory=Counter)


@dataclass
class StressReport:
    multiple: float
    peak: Peak
    steps: int
    target_messages: int
    target_fill_notional: float
    flow_messages_max: int = 0
    fill_notional_max: float = 0.0
    flow_offered: int = 0
    flow_passed: int = 0
    flow_rejects: Counter[str] = field(default_factory=Counter)
    controls: dict[str, ControlTally] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"multiple": self.multiple, "steps": self.steps,
                "peak": {"messages_per_step": self.peak.messages,
                         "fill_notional_per_step": round(self.peak.fill_notional, 2),
                         "session_steps": self.peak.steps},
                "target": {"messages_per_step": self.target_messages,
                           "fill_notional_per_step": round(self.target_fill_notional, 2)},
                "achieved": {"flow_messages_per_step": self.flow_messages_max,
                             "fill_notional_per_step": round(self.fill_notional_max, 2)},
                "flow": {"offered": self.flow_offered, "passed": self.flow_passed,
                         "rejects": dict(self.flow_rejects)},
                "controls": {k: {"offered": t.offered, "fired": t.fired, "leaked": t.leaked,
                                 "codes": dict(t.codes)} for k, t in self.controls.items()}}


# ----------------------------------------------------------------------------- the setup


@dataclass(frozen=True)
class _Plan:
    flow: tuple[str, ...]  # flow strategy ids, two symbols each
    symbols: tuple[str, ...]
    per_order_notional: float
    max_order_value: float

    def flow_symbols(self, k: int) -> tuple[str, str]:
        return self.symbols[2 * k], self.symbols[2 * k + 1]


def _plan(peak: Peak, multiple: float) -> _Plan:
    messages = max(1, math.ceil(multiple * peak.messages))
    k = max(2, math.ceil(messages / FLOW_PER_STRATEGY))
    per_order = max(multiple * peak.fill_notional / messages, 1_000.0)
    return _Plan(flow=tuple(f"flow-{i}" for i in range(k)),
                 symbols=tuple(f"S{i:02d}" for i in range(2 * k)),
                 per_order_notional=per_order, max_order_value=4 * per_order)


def _limits(instruments: Iterable[str], value: float, position: float) -> StrategyLimits:
    return StrategyLimits(instruments=tuple(instruments), max_order_value=value,
                          max_orders_per_day=1_000_000, max_position_notional=position,
                          venues=("paper",))


def _config(plan: _Plan) -> RuntimeConfig:
    wide = 1e12
    value = plan.max_order_value
    limits = {sid: _limits((*plan.flow_symbols(k), HALTED, RESTRICTED), value, wide)
              for k, sid in enumerate(plan.flow)}
    limits.update({"burst": _limits(plan.symbols[:1], wide, wide),  # only its rate binds
                   "churn": _limits(plan.symbols[:CHURN_SYMBOLS], value, wide),
                   "credit": _limits(plan.symbols[:1], value, CREDIT_LIMIT),
                   "ghost": _limits(plan.symbols[:1], value, wide),
                   "killed": _limits(plan.symbols[:1], value, wide)})
    return RuntimeConfig(
        firm_limits=FirmLimits(max_gross_notional=wide, max_open_orders=1_000_000,
                               daily_loss_limit=wide, max_messages_per_second=1e9),
        limits=limits,
        restricted_list=(RestrictedEntry(symbol=RESTRICTED, effective_from=START,
                                         effective_until=None, reason="stress: restricted"),),
        kill_switch=KillSwitchTriggers(repeated_execution_cycles=MAX_CYCLES,
                                       repeated_execution_window_seconds=30.0))


def _board(at: datetime) -> KillBoard:
    board = KillBoard()
    board.engage("strategy:killed", KillState.HALTED, reason="stress: kill switch",
                 actor="stress", at=at)
    return board


# ----------------------------------------------------------------------------- the stream


class _Orders:
    """Builds requests with unique client order ids at one step's time and prices."""

    def __init__(self, step: int, at: datetime, mids: dict[str, float]) -> None:
        self.step, self.at, self.mids = step, at, mids
        self.n = 0

    def make(self, strategy: str, symbol: str, qty: float, side: Side, *,
             limit: float | None = None, coid: str | None = None,
             version: str = "1.0.0") -> OrderRequest:
        self.n += 1
        return OrderRequest(
            client_order_id=coid or f"{self.step}:{self.n}:{strategy}", strategy_id=strategy,
            strategy_type=strategy, version=version, operator="stress", symbol=symbol,
            side=side, qty=qty, decision_ts=self.at, reference_mid=self.mids.get(symbol, 100.0),
            reference_ts=self.at, limit_price=limit,
            order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET)


def _flow(plan: _Plan, o: _Orders, messages: int, side: Side) -> list[Planned]:
    out = []
    for j in range(messages):
        k = j % len(plan.flow)
        symbol = plan.flow_symbols(k)[(j // len(plan.flow)) % 2]
        qty = max(1.0, round(plan.per_order_notional / o.mids[symbol])) + j // (2 * len(plan.flow))
        out.append(Planned(None, o.make(plan.flow[k], symbol, qty, side)))
    return out


def _breaches(plan: _Plan, o: _Orders, first: OrderRequest, side: Side) -> list[Planned]:
    """One order breaching each stateless control, for this step."""
    s0, mid = plan.symbols[0], o.mids[plan.symbols[0]]
    flow0 = plan.flow[0]

    def one(control: str, request: OrderRequest, *codes: RiskCode) -> Planned:
        return Planned(control, request, frozenset(codes))

    return [
        one("collar", o.make(flow0, s0, 1, Side.BUY, limit=round(mid * 1.10, 4)),
            RiskCode.PRICE_COLLAR),
        one("size_value", o.make(flow0, s0, math.ceil(2 * plan.max_order_value / mid), side),
            RiskCode.MAX_ORDER_NOTIONAL),
        one("size_qty", o.make(flow0, s0, 2_000_000, side), RiskCode.MAX_ORDER_QTY),
        one("duplicate_id", first.model_copy(update={"qty": first.qty + 1}),
            RiskCode.DUPLICATE_ORDER_ID),
        one("duplicate_order", first.model_copy(update={"client_order_id": f"{o.step}:dup"}),
            RiskCode.DUPLICATE_ORDER),
        one("halted", o.make(flow0, HALTED, 1, side), RiskCode.SYMBOL_HALTED),
        one("restricted", o.make(flow0, RESTRICTED, 1, side), RiskCode.RESTRICTED_SYMBOL),
        one("not_promoted", o.make("ghost", s0, 1, side), RiskCode.NOT_PROMOTED),
        one("not_promoted", o.make(flow0, s0, 1, side, version="9.9.9"),
            RiskCode.NOT_PROMOTED),
        one("kill_switch", o.make("killed", s0, 1, side), RiskCode.TRADING_HALTED),
        one("credit", o.make("credit", s0, math.ceil(3 * CREDIT_LIMIT / mid), Side.BUY),
            RiskCode.CREDIT_LIMIT, RiskCode.CLIPPED_POSITION),
    ]


def _burst(plan: _Plan, o: _Orders) -> list[Planned]:
    """More orders of one strategy in one instant than its message rate (50/s) allows."""
    limit = 50
    return [Planned("rate" if i >= limit else None,
                    o.make("burst", plan.symbols[0], 1 + i, Side.BUY if i % 2 else Side.SELL),
                    frozenset({RiskCode.RATE_LIMIT}) if i >= limit else frozenset())
            for i in range(BURST)]


def _churn(plan: _Plan, o: _Orders, side: Side) -> list[OrderRequest]:
    return [o.make("churn", sym, 1 + o.step % 3, side) for sym in plan.symbols[:CHURN_SYMBOLS]]


# ----------------------------------------------------------------------------- the replay


class _Churn:
    """An oracle for RTS-15b, independent of the chain: a re-entry into a book filled
    since its last entry is a cycle; more than MAX_CYCLES in a step disables the strategy
    for good (nobody re-enables it here)."""

    def __init__(self) -> None:
        self.filled: set[str] = set()
        self.disabled = False

    def plan(self, requests: Sequence[OrderRequest]) -> list[Planned]:
        out, cycles = [], 0
        for r in requests:
            if r.symbol in self.filled:
                cycles += 1
            self.disabled = self.disabled or cycles > MAX_CYCLES
            self.filled.discard(r.symbol)
            out.append(Planned("repeated_execution", r, frozenset({RiskCode.STRATEGY_DISABLED}))
                       if self.disabled else Planned(None, r))
        return out


def _bars(symbols: Sequence[str], mids: dict[str, float], rng: random.Random,
          ts_ns: int) -> tuple[Bar, ...]:
    out = []
    for sym in symbols:
        prev = mids[sym]
        close = prev * math.exp(rng.gauss(0.0, 0.001))
        mids[sym] = close
        out.append(Bar(symbol=sym, ts_ns=ts_ns, open=prev, high=max(prev, close) * 1.0005,
                       low=min(prev, close) * 0.9995, close=close, volume=1e9))
    return tuple(out)


def stress_replay(peak: Peak, *, multiple: float = MULTIPLE, steps: int = 30,
                  seed: int = 7) -> StressReport:
    """Replay ``steps`` bars of flow at ``multiple`` × ``peak`` plus every breach."""
    plan = _plan(peak, multiple)
    config = _config(plan)
    promoted = {sid: f"{sid}@1.0.0" for sid in config.limits if sid != "ghost"}
    chain = RiskChain(config, promoted, _board(START), token_key=b"stress-replay-key",
                      reference_max_age=BAR)
    chain.set_halted(HALTED, True)
    adapter = PaperAdapter(get_execution_model("exec-v1"), get_cost_model("costs-v1"),
                           capital=1e12)
    firewall = OrderFirewall(adapter, chain.verify_token, consume=chain.consume)
    report = StressReport(multiple, peak, steps, max(1, math.ceil(multiple * peak.messages)),
                          multiple * peak.fill_notional)
    rng = random.Random(seed)
    mids = {s: 100.0 + 5 * i for i, s in enumerate(plan.symbols)}
    churn = _Churn()
    for i in range(steps):
        at = START + i * BAR
        step = Step(ts_ns=int(at.timestamp() * 1e9), bars=_bars(plan.symbols, mids, rng,
                                                               int(at.timestamp() * 1e9)))
        _on_bar(chain, firewall, step, churn, report)
        _decide(chain, firewall, _stream(plan, _Orders(i, at, dict(mids)), report, churn),
                at, report)
    return report


def _on_bar(chain: RiskChain, firewall: OrderFirewall[OrderToken], step: Step, churn: _Churn,
            report: StressReport) -> None:
    notional = 0.0
    for event in firewall.on_bar(step):
        order = event.order
        if event.fill is not None:
            chain.on_fill(event.fill)
            notional += event.fill.qty * event.fill.price
            if event.fill.strategy_id == "churn":
                churn.filled.add(event.fill.symbol)
        if not order.status.open:
            chain.on_order_closed(order, max(0.0, order.qty - order.filled_qty))
    report.fill_notional_max = max(report.fill_notional_max, notional)


def _stream(plan: _Plan, o: _Orders, report: StressReport, churn: _Churn) -> list[Planned]:
    side = Side.BUY if o.step % 2 == 0 else Side.SELL
    flow = _flow(plan, o, report.target_messages, side)
    report.flow_messages_max = max(report.flow_messages_max, len(flow))
    return [*flow, *_breaches(plan, o, flow[0].request, side), *_burst(plan, o),
            *churn.plan(_churn(plan, o, side))]


def _decide(chain: RiskChain, firewall: OrderFirewall[OrderToken], planned: Iterable[Planned],
            at: datetime, report: StressReport) -> None:
    for p in planned:
        verdict = chain.check(p.request, now=at)
        sent = _send(firewall, verdict)
        if p.control is None:
            report.flow_offered += 1
            report.flow_passed += sent
            if not sent:
                report.flow_rejects[verdict.decision.code.value] += 1
            continue
        tally = report.controls.setdefault(p.control, ControlTally())
        tally.offered += 1
        tally.codes[verdict.decision.code.value] += 1
        tally.fired += verdict.decision.code in p.expect
        tally.leaked += sent and not _clipped_within(chain, verdict)


def _send(firewall: OrderFirewall[OrderToken], verdict: Verdict) -> bool:
    """Offer the order to the firewall with the chain's token (None when rejected): True
    when it reached the adapter."""
    request = verdict.to_send() if verdict.passed else verdict.request
    ack = firewall.submit(request, verdict.token)
    return ack.code is AdapterCode.OK


def _clipped_within(chain: RiskChain, verdict: Verdict) -> bool:
    """A SEC-1 clip is the control firing: what was sent must keep the book in its limit."""
    if verdict.decision.code is not RiskCode.CLIPPED_POSITION:
        return False
    r = verdict.request
    book = chain.exposure(r.strategy_id, r.symbol)
    return book.worst_qty() * (r.reference_mid or 0.0) <= CREDIT_LIMIT * (1 + 1e-9)
