"""SQLAlchemy 2 models of the research ledger (plan-details.md, "Research ledger").

Every table is history: rows are inserted once and never updated or deleted — the first
migration installs database triggers that refuse UPDATE and DELETE, so a correction is
always a new row. Timestamps are timezone-aware UTC on both SQLite and PostgreSQL; JSON
columns hold plain JSON data (metrics, params, reasons); artifact references are sha256
hex digests of blobs in the :class:`~torghut.ledger.artifacts.ArtifactStore`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Hash = String(64)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ledger timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON,
    }


class ResearchRun(Base):
    __tablename__ = "research_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy_type: Mapped[str] = mapped_column(String(64), index=True)
    strategy_version: Mapped[str] = mapped_column(String(32))
    code_version: Mapped[str] = mapped_column(String(64))
    feature_schema_version: Mapped[str] = mapped_column(String(16))
    dataset_id: Mapped[str] = mapped_column(String(128))
    execution_model_id: Mapped[str] = mapped_column(String(128))
    cost_model_id: Mapped[str] = mapped_column(String(128))
    runner_version: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    bundle_hash: Mapped[str | None] = mapped_column(Hash)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Trial(Base):
    """One backtest attempt; Gate 1 deflates by how many of these a family has recorded."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("research_runs.id"), index=True)
    strategy_type: Mapped[str] = mapped_column(String(64), index=True)
    plugin_version: Mapped[str] = mapped_column(String(32))
    params_hash: Mapped[str] = mapped_column(Hash)
    params: Mapped[dict[str, Any]]
    dataset_id: Mapped[str] = mapped_column(String(128))
    execution_model_id: Mapped[str] = mapped_column(String(128))
    cost_model_id: Mapped[str] = mapped_column(String(128))
    in_sample: Mapped[dict[str, Any]]
    out_of_sample: Mapped[dict[str, Any]]
    sharpe: Mapped[float | None] = mapped_column(Float)
    return_series_hash: Mapped[str | None] = mapped_column(Hash)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("research_runs.id"), index=True)
    trial_id: Mapped[int | None] = mapped_column(ForeignKey("trials.id"))
    strategy_type: Mapped[str] = mapped_column(String(64))
    strategy_version: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]
    decision_count: Mapped[int] = mapped_column(Integer)
    trade_count: Mapped[int] = mapped_column(Integer)
    symbols: Mapped[list[Any]]
    universe: Mapped[str] = mapped_column(String(128))
    spec_hash: Mapped[str] = mapped_column(Hash)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FoldMetric(Base):
    __tablename__ = "fold_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("research_runs.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), index=True)
    fold_name: Mapped[str] = mapped_column(String(64))
    fold_order: Mapped[int] = mapped_column(Integer)
    train_start: Mapped[datetime]
    train_end: Mapped[datetime]
    test_start: Mapped[datetime]
    test_end: Mapped[datetime]
    decision_count: Mapped[int] = mapped_column(Integer)
    trade_count: Mapped[int] = mapped_column(Integer)
    gross_pnl: Mapped[float] = mapped_column(Float)
    net_pnl: Mapped[float] = mapped_column(Float)
    max_drawdown: Mapped[float] = mapped_column(Float)
    turnover: Mapped[float] = mapped_column(Float)
    cost_bps: Mapped[float] = mapped_column(Float)
    regime_label: Mapped[str | None] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StressMetric(Base):
    __tablename__ = "stress_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("research_runs.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), index=True)
    case: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]]
    pessimistic_pnl_delta: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromotionDecision(Base):
    """One allow/deny, carrying the hash of every input so it can be reproduced."""

    __tablename__ = "promotion_decisions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), index=True)
    target: Mapped[str] = mapped_column(String(16))
    allowed: Mapped[bool]
    reasons: Mapped[list[Any]]
    input_hashes: Mapped[dict[str, Any]]
    policy_version: Mapped[str] = mapped_column(String(32))
    policy_checksum: Mapped[str] = mapped_column(Hash)
    code_version: Mapped[str] = mapped_column(String(64))
    report_hash: Mapped[str | None] = mapped_column(Hash)
    decided_at: Mapped[datetime]


class GateResultRow(Base):
    __tablename__ = "gate_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("promotion_decisions.id"))
    gate_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    result: Mapped[dict[str, Any]]
    result_hash: Mapped[str] = mapped_column(Hash)
    policy_checksum: Mapped[str] = mapped_column(Hash)
    evaluated_at: Mapped[datetime]


class Promotion(Base):
    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("promotion_decisions.id"))
    state: Mapped[str] = mapped_column(String(32))
    requested_mode: Mapped[str] = mapped_column(String(16))
    approved_mode: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reasons: Mapped[list[Any]]
    patch_ref: Mapped[str | None] = mapped_column(String(256))
    effective_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id"), index=True)
    approver: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]]
    signature: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """An incident's state change; the latest row per ``incident_id`` is its current state."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    incident_class: Mapped[str] = mapped_column(String(1))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]]
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentRecordRow(Base):
    """The whole :class:`~torghut.contracts.incidents.IncidentRecord` after one change,
    beside its ``incidents`` row (a table of its own, so rows recorded before migration
    0004 keep the content their audit events hashed)."""

    __tablename__ = "incident_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_row_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    record: Mapped[dict[str, Any]]
    record_sha256: Mapped[str] = mapped_column(Hash)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KillSwitchEvent(Base):
    """An engage (to ``state`` reducing|halted) or a release (to active) of one scope.

    The latest row per ``scope`` is that scope's latched state (FIA-1): it survives any
    restart because the runtime reads it back from here on start.
    """

    __tablename__ = "kill_switch_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))  # engage | release
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scope: Mapped[str] = mapped_column(String(160), default="firm", index=True)
    state: Mapped[str | None] = mapped_column(String(16))  # active | reducing | halted
    trigger: Mapped[str | None] = mapped_column(String(64))  # MANUAL or an automatic code
    signature: Mapped[str | None] = mapped_column(Text)


class RuntimeSession(Base):
    """One paper/shadow session: what ran, on which config and data, and what it produced."""

    __tablename__ = "runtime_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # paper | shadow
    config_sha256: Mapped[str] = mapped_column(Hash)
    dataset_id: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    operator: Mapped[str] = mapped_column(String(128))
    summary: Mapped[dict[str, Any]]
    artifact_refs: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskDecisionRow(Base):
    """One pre-trade decision (accept, clip, reject) with its stable code (RTS-28)."""

    __tablename__ = "risk_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    strategy_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(32))
    control: Mapped[str | None] = mapped_column(String(16))
    limit_id: Mapped[str | None] = mapped_column(String(160))
    requested_qty: Mapped[float] = mapped_column(Float)
    approved_qty: Mapped[float] = mapped_column(Float)
    observed: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]


class OrderEvent(Base):
    """An order's life, one row per event: submitted, acked, filled, cancelled, …"""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    order_id: Mapped[str | None] = mapped_column(String(64))
    strategy_id: Mapped[str] = mapped_column(String(64))
    strategy_ref: Mapped[str] = mapped_column(String(128))  # type@version (RTS-12)
    operator: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    event: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    qty: Mapped[float] = mapped_column(Float)
    filled_qty: Mapped[float] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    code: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[datetime]


class FillRow(Base):
    """One execution (``hypothetical`` in shadow mode) with its cost breakdown."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    fill_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    strategy_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    arrival_mid: Mapped[float | None] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float)
    spread_cost: Mapped[float] = mapped_column(Float)
    impact_cost: Mapped[float] = mapped_column(Float)
    hypothetical: Mapped[bool]
    ts: Mapped[datetime]


class PullRequest(Base):
    """A proposed change to the GitOps repo: a branch at a head commit (local or GitHub)."""

    __tablename__ = "pull_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # promotion | identity | rollback
    candidate_id: Mapped[str | None] = mapped_column(ForeignKey("candidates.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("promotion_decisions.id"))
    target: Mapped[str | None] = mapped_column(String(16))
    branch: Mapped[str] = mapped_column(String(255), unique=True)
    base_sha: Mapped[str] = mapped_column(String(40))
    head_sha: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(Hash)
    evidence_sha256: Mapped[str | None] = mapped_column(Hash)
    proposer: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PullRequestEvent(Base):
    """approved / rejected (bound to ``head_sha``), merged (``merge_sha``) or closed."""

    __tablename__ = "pull_request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    head_sha: Mapped[str] = mapped_column(String(40))
    merge_sha: Mapped[str | None] = mapped_column(String(40))
    reasons: Mapped[list[Any]]
    signature: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEventRow(Base):
    """A link of the audit chain (see :mod:`torghut.ledger.audit`).

    ``payload`` is stored as its RFC 8785 canonical text, so its hash is recomputed from
    the exact bytes that were hashed. ``prev_hash`` is UNIQUE: two events can never claim
    the same predecessor, so the database itself refuses a fork.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    payload: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(Hash)
    prev_hash: Mapped[str] = mapped_column(Hash, unique=True)
    hash: Mapped[str] = mapped_column(Hash, unique=True)
    ref_table: Mapped[str | None] = mapped_column(String(64))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    artifact_refs: Mapped[list[Any]]


HISTORY_TABLES: tuple[str, ...] = tuple(Base.metadata.tables)
