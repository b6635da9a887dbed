"""``torghut paper run``: one paper or shadow session over a replay window, end to end.

The runtime reconciles to GitOps ``main`` (recording the applied config hash), reads the
latched kill switch from the ledger, replays the window through the full pipeline
(:class:`~torghut.runtime.engine.Engine`), writes every risk decision, order event and fill
to the ledger, persists automatic kill-switch engagements as they happen, and finally
measures Gate 2 (paper-vs-sim divergence, stability, champion–challenger by regime) and
Gate 3 (TCA) evidence per strategy. Evidence files are content-addressed in the artifact
store and copied to ``runtime/<session>/`` for ``torghut gates evaluate --paper/--tca``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from torghut.contracts.gates import PaperEvidence, TcaEvidence
from torghut.data.calendars import bars_per_year
from torghut.data.snapshots import load_snapshot
from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_text
from torghut.governance import guard
from torghut.governance.rights import Action
from torghut.ledger import Ledger
from torghut.ledger.artifacts import ArtifactStore
from torghut.ledger.models import RuntimeSession
from torghut.ops import kill_switch as ops_kill
from torghut.risk.kill_switch import Trigger
from torghut.runtime.config import AppliedRecorder, ConfigReconciler
from torghut.runtime.engine import Engine, EngineOptions, steady_heap
from torghut.runtime.evidence import (
    paper_evidence,
    regime_segments,
    sessions_in,
    sim_reference,
)
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.records import record_session
from torghut.runtime.tca import order_tca, tca_evidence
from torghut.runtime.tca_ledger import MARKS_KEY, marks
from torghut.runtime.telemetry import Telemetry
from torghut.sim.market import Market, market_from_bars
from torghut.sim.models import get_cost_model, get_execution_model
from torghut.strategies.runner import FeatureSet, feature_set
from torghut.workspace import Workspace

FLUSH_EVERY_STEPS = 500  # ledger batches; also how often an operator's kill is picked up


@dataclass(frozen=True)
class SessionRequest:
    dataset: str
    as_identity: str
    mode: str = "paper"
    start: datetime | None = None
    end: datetime | None = None
    symbols: Sequence[str] | None = None
    speed: float | None = None
    champion: str | None = None  # strategy_id whose slices are the baseline
    execution_model: str = "exec-v1"
    cost_model: str = "costs-v1"


@dataclass(frozen=True)
class SessionResult:
    session_id: str
    summary: dict[str, Any]
    folder: Path
    paper: dict[str, PaperEvidence]
    tca: dict[str, TcaEvidence]


def run_session(ws: Workspace, ledger: Ledger, request: SessionRequest, *,
                telemetry: Telemetry | None = None) -> SessionResult:
    """Run one session and record it; bad input raises before anything is written."""
    if request.mode not in ("paper", "shadow"):
        raise TorghutError("must be paper or shadow (live is gated: Gate 4)", field="--mode")
    execution = get_execution_model(request.execution_model, field="--execution-model")
    costs = get_cost_model(request.cost_model, field="--cost-model")
    snapshot = load_snapshot(ws, request.dataset)
    feed = ReplayFeed.from_snapshot(ws, request.dataset, start=request.start, end=request.end,
                                    symbols=request.symbols, speed=request.speed)
    reconciler = ConfigReconciler(ws)
    applied = reconciler.reconcile()
    if not applied.runnable:
        raise TorghutError("no strategy is enabled for this mode with declared limits on "
                           "GitOps main (see `torghut promote` and /api/status)",
                           field="catalog")
    if request.champion is not None and applied.status(request.champion) is None:
        raise TorghutError(f"not a catalog strategy_id: {request.champion!r}",
                           field="--champion")
    session_id = _session_id(applied.config_sha256, feed, request)
    signed = guard.act(ws, ledger, request.as_identity, Action.RUNTIME_SESSION,
                       f"session:{session_id}", {"dataset": snapshot.manifest.dataset_id,
                                                 "mode": request.mode,
                                                 "config_sha256": applied.config_sha256})
    with ledger.write() as session:
        AppliedRecorder().record(session, applied)
    with ledger.read() as session:
        board = ops_kill.board(session)
    options = EngineOptions(session_id=session_id, operator=signed.actor, mode=request.mode,
                            execution=execution, costs=costs)

    def persist(trigger: Trigger) -> None:
        ops_kill.engage_automatic(ledger, trigger)

    engine = Engine(applied, feed, options, board=board, telemetry=telemetry,
                    on_trigger=persist)
    with steady_heap() as heap:  # as Engine.run: the collector off the decision path
        for step in feed.steps():
            engine.step(step)
            heap.idle()
            if engine.stats.steps % FLUSH_EVERY_STEPS == 0:
                engine.records.flush(ledger)
                with ledger.read() as session:
                    engine.refresh_board(ops_kill.board(session))
    engine.records.flush(ledger)
    return _finish(ws, ledger, engine, feed, request, snapshot.manifest.calendar)


def _session_id(config: str, feed: ReplayFeed, request: SessionRequest) -> str:
    """``<mode>-<start time>-<hash of config, window, symbols, mode, models>``: unique per
    run, and runs of the same inputs share the hash suffix."""
    ts = feed.bars["ts"]
    key = json.dumps([config, feed.source, str(ts.iloc[0]), str(ts.iloc[-1]),
                      list(feed.symbols), request.mode, request.execution_model,
                      request.cost_model])
    stamp = datetime.now().strftime("%Y%m%d%H%M%S")
    return f"{request.mode}-{stamp}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _finish(ws: Workspace, ledger: Ledger, engine: Engine, feed: ReplayFeed,
            request: SessionRequest, calendar: str) -> SessionResult:
    options = engine.options
    market = market_from_bars(feed.bars, options.execution)
    features = feature_set("session", feed.bars, timeframe=feed.timeframe, calendar=calendar,
                           source=feed.source)
    periods = bars_per_year(calendar, feed.timeframe)
    sessions = sessions_in(market, options.session_tz)
    closes = {s: float(c) for s, c in zip(market.symbols, _last_closes(market), strict=True)}
    records = order_tca(engine.orders.values(), engine.fills, end_prices=closes)
    start, end = market.ts[0].to_pydatetime(), market.ts[-1].to_pydatetime()
    champion = engine.tracks.get(request.champion) if request.champion else None
    papers: dict[str, PaperEvidence] = {}
    tcas: dict[str, TcaEvidence] = {}
    slots = {s.strategy_id: s for s in engine.strategies.slots}
    for entry in engine.applied.runnable:
        sid = entry.definition.strategy_id
        track = engine.tracks[sid]
        universe = sorted(engine.universes[sid] & set(market.symbols))
        bars = feed.bars[feed.bars["symbol"].isin(universe)].reset_index(drop=True)
        sub = features.frame[features.frame["symbol"].isin(universe)].reset_index(drop=True)
        sim = sim_reference(entry, bars, _with_frame(features, sub), execution=options.execution,
                            costs=options.costs, capital=track.capital)
        sub_market = sim.result.market
        papers[sid] = paper_evidence(
            track, mode=options.mode, market=sub_market,
            segments=regime_segments(sub_market, options.session_tz), sim=sim,
            periods_per_year=periods, sessions=sessions, plugin_errors=slots[sid].errors,
            circuit_opens=slots[sid].breaker.opens,
            champion=champion if champion is not None and champion is not track else None)
        tcas[sid] = tca_evidence(records, track.ref, start, end + (market.ts[1] - market.ts[0]))
    folder, refs = _write_evidence(ws, engine.options.session_id, papers, tcas)
    summary = _summary(engine, papers, tcas, folder)
    summary[MARKS_KEY] = marks(engine.orders.values(), engine.fills, closes)  # /api/tca
    record_session(ledger, RuntimeSession(
        id=options.session_id, mode=options.mode, config_sha256=engine.applied.config_sha256,
        dataset_id=feed.source.removeprefix("dataset:"), window_start=start, window_end=end,
        operator=options.operator, summary=summary, artifact_refs=refs))
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2, sort_keys=True))
    return SessionResult(options.session_id, summary, folder, papers, tcas)


def _last_closes(market: Market) -> list[float]:
    out = []
    for j in range(market.close.shape[1]):
        col = market.close[:, j]
        valid = col[~np.isnan(col)]
        out.append(float(valid[-1]) if valid.size else float("nan"))
    return out


def _with_frame(features: FeatureSet, frame: pd.DataFrame) -> FeatureSet:
    return replace(features, frame=frame)


def _write_evidence(ws: Workspace, session_id: str, papers: dict[str, PaperEvidence],
                    tcas: dict[str, TcaEvidence]) -> tuple[Path, list[str]]:
    folder = ws.root / "runtime" / session_id
    folder.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(ws.artifacts_dir)
    refs: list[str] = []
    for kind, items in (("paper", papers), ("tca", tcas)):
        for sid, evidence in items.items():
            text = json.dumps(evidence.model_dump(mode="json"), indent=2, sort_keys=True)
            refs.append(store.put(text.encode("utf-8")))
            atomic_write_text(folder / f"{kind}-{sid}.json", text + "\n")
    return folder, refs


def _summary(engine: Engine, papers: dict[str, PaperEvidence], tcas: dict[str, TcaEvidence],
             folder: Path) -> dict[str, Any]:
    st = engine.stats
    return {
        "session_id": engine.options.session_id, "mode": engine.options.mode,
        "config_sha256": engine.applied.config_sha256, "steps": st.steps,
        "events": st.events, "intents": st.intents, "requests": st.requests,
        "submitted": st.submitted, "fills": st.fills, "rejects": dict(sorted(st.rejects.items())),
        "conflicts": engine.aggregator.conflicts,
        "kill_switch_triggers": [t.code.value for t in st.triggers],
        "reconciliations": st.reconciliations,
        "reconciliation_breaks": st.reconciliation_breaks,
        "latency_us": {"p50": st.latency_us(50), "p99": st.latency_us(99)},
        "strategies": {
            sid: {"ref": papers[sid].strategy, "net_pnl": engine.tracks[sid].equity[-1]
                  - engine.tracks[sid].capital,
                  "pnl_divergence": papers[sid].divergence.pnl_divergence,
                  "intent_agreement": papers[sid].divergence.intent_agreement,
                  "orders": tcas[sid].orders, "fills": tcas[sid].fills,
                  "slippage_bps": tcas[sid].slippage_bps,
                  "paper_evidence": str(folder / f"paper-{sid}.json"),
                  "tca_evidence": str(folder / f"tca-{sid}.json")}
            for sid in papers},
    }
