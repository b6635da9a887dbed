"""Read-only ledger queries behind the service's API, metrics and dashboard.

Nothing here writes: every function takes a read session (one consistent snapshot, see
:meth:`torghut.ledger.Ledger.read`) and returns plain JSON-ready data. Order and fill rows are
the runtime's own records (RTS-28), so TCA here is recomputed from what was recorded, never
from what the runtime says about itself.

TCA is the runtime's (:mod:`torghut.runtime.tca`, definitions there): the recorded rows are
rebuilt into orders and fills (:mod:`torghut.runtime.tca_ledger`) and aggregated by the same
functions that write a session's Gate 3 evidence, so ``/api/tca``, the dashboard and
``tca-<strategy>.json`` report the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from torghut.governance.lifecycle import current_state
from torghut.ledger.models import (
    FillRow,
    GateResultRow,
    OrderEvent,
    PullRequest,
    PullRequestEvent,
    RiskDecisionRow,
    RuntimeSession,
)
from torghut.ops import kill_switch
from torghut.runtime.records import CANCEL_REQUESTED_EVENT
from torghut.runtime.tca import GroupBy, aggregate
from torghut.runtime.tca_ledger import ledger_records
from torghut.runtime.telemetry import SLIPPAGE_WINDOW, ScrapeReadings

#: ``order_events.event`` values that are an order submission.
SUBMIT_EVENTS = frozenset({"submitted"})
#: ``order_events.event`` values that are a cancel or replace message the runtime sent (churn;
#: the runtime sends no replaces today).
CHURN_EVENTS = frozenset({CANCEL_REQUESTED_EVENT})
MAX_LIMIT = 1000
GROUPINGS = ("symbol", "strategy", "session")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# ----------------------------------------------------------------------------- kill switch


def kill_states(session: Session) -> list[dict[str, Any]]:
    """Each scope's latched state, firm first (:func:`torghut.ops.kill_switch.status`)."""
    return kill_switch.status(session)


def kill_state_map(session: Session) -> dict[str, str]:
    """scope → state, read the way the board is rebuilt (FIA-1: latched in the ledger)."""
    return {row.scope: kill_switch.row_state(row).value
            for row in kill_switch.latest_rows(session)}


# ----------------------------------------------------------------------------- TCA


def slippage_bps(side: str, price: float, arrival_mid: float | None) -> float | None:
    """Arrival-mid slippage in bps (None without an arrival mid)."""
    if arrival_mid is None or arrival_mid <= 0:
        return None
    sign = 1.0 if side == "buy" else -1.0
    return sign * (price - arrival_mid) / arrival_mid * 1e4


def latest_session_id(session: Session) -> str | None:
    """The session of the newest order event or fill (the one being traded, or last traded)."""
    newest_order = session.execute(select(OrderEvent.session_id, OrderEvent.ts)
                                   .order_by(OrderEvent.id.desc()).limit(1)).first()
    newest_fill = session.execute(select(FillRow.session_id, FillRow.ts)
                                  .order_by(FillRow.id.desc()).limit(1)).first()
    rows = [r for r in (newest_order, newest_fill) if r is not None]
    if not rows:
        return None
    newest = max(rows, key=lambda r: r[1])[0]
    return str(newest) if newest is not None else None


def scrape_readings(session: Session, *, window: int = SLIPPAGE_WINDOW) -> ScrapeReadings:
    """Kill-switch states, and the latest session's recent slippage and order churn."""
    sid = latest_session_id(session)
    fills = select(FillRow.side, FillRow.price, FillRow.arrival_mid).where(
        FillRow.arrival_mid.is_not(None)).order_by(FillRow.id.desc()).limit(window)
    counts = select(OrderEvent.event, func.count()).group_by(OrderEvent.event)
    if sid is not None:
        fills = fills.where(FillRow.session_id == sid)
        counts = counts.where(OrderEvent.session_id == sid)
    slips = [s for s in (slippage_bps(side, price, mid)
                         for side, price, mid in session.execute(fills)) if s is not None]
    by_event = {str(event): int(n) for event, n in session.execute(counts)}
    return ScrapeReadings(kill_switch=kill_state_map(session), slippage_bps=tuple(slips),
                          orders=sum(by_event.get(e, 0) for e in SUBMIT_EVENTS),
                          cancels_replaces=sum(by_event.get(e, 0) for e in CHURN_EVENTS))


def tca(session: Session, *, by: GroupBy = "symbol", session_id: str | None = None
        ) -> list[dict[str, Any]]:
    """TCA per symbol, strategy (type@version) or session: :func:`torghut.runtime.tca.aggregate`
    over the orders rebuilt from the ledger, exactly as the Gate 3 evidence computes it."""
    return [{by: g.key, **g.model_dump(mode="json")}
            for g in aggregate(ledger_records(session, session_id=session_id), by)]


def slippage_values(session: Session, *, session_id: str | None = None) -> list[float]:
    """Every recorded fill's arrival-mid slippage (bps), order by order: the histogram."""
    return [s for r in ledger_records(session, session_id=session_id)
            for s in r.fill_slippage_bps]


def shortfall_series(session: Session, *, session_id: str | None = None
                     ) -> dict[str, list[tuple[float, float]]]:
    """Cumulative implementation shortfall (Perold: execution, opportunity cost and fees)
    per symbol over decision time: (unix seconds, account currency)."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    running: dict[str, float] = defaultdict(float)
    records = [r for r in ledger_records(session, session_id=session_id)
               if r.shortfall is not None]
    for r in sorted(records, key=lambda r: (r.decision_ts, r.order_id)):
        running[r.symbol] += r.shortfall or 0.0
        out[r.symbol].append((r.decision_ts.timestamp(), running[r.symbol]))
    return dict(out)


# ----------------------------------------------------------------------------- orders


def orders(session: Session, *, strategy: str | None = None, symbol: str | None = None,
           session_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent order events, newest first, optionally filtered."""
    query = select(OrderEvent).order_by(OrderEvent.id.desc()).limit(min(limit, MAX_LIMIT))
    if strategy is not None:
        query = query.where(OrderEvent.strategy_id == strategy)
    if symbol is not None:
        query = query.where(OrderEvent.symbol == symbol)
    if session_id is not None:
        query = query.where(OrderEvent.session_id == session_id)
    return [{"id": e.id, "session_id": e.session_id, "client_order_id": e.client_order_id,
             "order_id": e.order_id, "strategy_id": e.strategy_id,
             "strategy_ref": e.strategy_ref, "operator": e.operator, "symbol": e.symbol,
             "side": e.side, "event": e.event, "status": e.status, "qty": e.qty,
             "filled_qty": e.filled_qty, "price": e.price, "code": e.code, "ts": _iso(e.ts)}
            for e in session.scalars(query)]


def risk_codes(session: Session, *, session_id: str | None = None) -> list[tuple[str, int]]:
    """Pre-trade decisions per reason code (most frequent first, then by code)."""
    query = select(RiskDecisionRow.code, func.count()).group_by(RiskDecisionRow.code)
    if session_id is not None:
        query = query.where(RiskDecisionRow.session_id == session_id)
    rows = [(str(code), int(n)) for code, n in session.execute(query)]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


# ----------------------------------------------------------------------------- sessions


def last_session(session: Session) -> dict[str, Any] | None:
    row = session.scalars(select(RuntimeSession).order_by(RuntimeSession.created_at.desc())
                          .limit(1)).first()
    if row is None:
        return None
    return {"id": row.id, "mode": row.mode, "config_sha256": row.config_sha256,
            "dataset_id": row.dataset_id, "window_start": _iso(row.window_start),
            "window_end": _iso(row.window_end), "operator": row.operator,
            "summary": row.summary, "created_at": _iso(row.created_at)}


# ----------------------------------------------------------------------------- governance


def gate_status(session: Session) -> list[dict[str, Any]]:
    """Per candidate, the newest result of each gate (and the candidate's lifecycle state)."""
    latest: dict[tuple[str, str], GateResultRow] = {}
    for row in session.scalars(select(GateResultRow).order_by(GateResultRow.id)):
        latest[(row.candidate_id, row.gate_id)] = row
    per: dict[str, dict[str, Any]] = {}
    for (cid, gate), row in sorted(latest.items()):
        entry = per.setdefault(cid, {"candidate_id": cid, "gates": {}, "evaluated_at": None})
        entry["gates"][gate] = row.status
        stamp = _iso(row.evaluated_at)
        entry["evaluated_at"] = max(filter(None, (entry["evaluated_at"], stamp)), default=None)
    for cid, entry in per.items():
        entry["state"] = current_state(session, cid).value
    return [per[c] for c in sorted(per)]


def gate_ids(candidates: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({g for c in candidates for g in c["gates"]})


def pull_requests(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """Pull requests, newest first, each with its events and its candidate's state."""
    prs = list(session.scalars(select(PullRequest).order_by(PullRequest.id.desc())
                               .limit(min(limit, MAX_LIMIT))))
    by_pr: dict[int, list[PullRequestEvent]] = defaultdict(list)
    if prs:
        events = select(PullRequestEvent).where(
            PullRequestEvent.pull_request_id.in_([p.id for p in prs])).order_by(
            PullRequestEvent.id)
        for ev in session.scalars(events):
            by_pr[ev.pull_request_id].append(ev)
    out = []
    for pr in prs:
        evs = by_pr[pr.id]
        out.append({"id": pr.id, "kind": pr.kind, "provider": pr.provider,
                    "branch": pr.branch, "title": pr.title, "proposer": pr.proposer,
                    "candidate_id": pr.candidate_id, "target": pr.target, "url": pr.url,
                    "head_sha": pr.head_sha, "created_at": _iso(pr.created_at),
                    "state": evs[-1].event if evs else "open",
                    "events": [{"event": e.event, "actor": e.actor, "head_sha": e.head_sha,
                                "merge_sha": e.merge_sha, "at": _iso(e.created_at)}
                               for e in evs],
                    "candidate_state": (current_state(session, pr.candidate_id).value
                                        if pr.candidate_id else None)})
    return out


def count_by(rows: Sequence[dict[str, Any]], key: str) -> list[tuple[str, float]]:
    """How many rows per value of ``key`` (sorted by value), for a bar chart."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[str(row.get(key) or "-")] += 1
    return [(k, float(v)) for k, v in sorted(counts.items())]
