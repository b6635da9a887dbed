"""The incident record: what happened, to what, when, why, and what stops it recurring.

The governance plan ("Runbook Requirements") asks every incident to capture a root-cause
classification, the impacted symbols and strategies, the rollback and recovery timeline,
and a preventive action linked to a code/config PR. plan-details "Incidents and kill switch"
names the classes. An incident's history is append-only in the ledger; each change stores
one whole :class:`IncidentRecord`, so the newest is the current state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from torghut.contracts.base import Contract

INCIDENT_ID_PATTERN = r"^INC-\d{8}-\d{3,}$"


class IncidentClass(StrEnum):
    """plan-details "Incidents and kill switch": the four incident classes."""

    DATA = "A"  # data integrity
    EXECUTION = "B"  # execution / risk control
    INFRASTRUCTURE = "C"  # infrastructure / runtime
    DRIFT = "D"  # model / strategy drift


CLASS_TITLES: dict[IncidentClass, str] = {
    IncidentClass.DATA: "data integrity",
    IncidentClass.EXECUTION: "execution / risk control",
    IncidentClass.INFRASTRUCTURE: "infrastructure / runtime",
    IncidentClass.DRIFT: "model / strategy drift",
}


class IncidentSeverity(StrEnum):
    """``high`` and ``critical`` on a class-B incident are a promotion hard stop."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RootCause(StrEnum):
    """Root-cause classification (one per incident, set by the time it closes)."""

    DATA_QUALITY = "data_quality"
    CODE_DEFECT = "code_defect"
    CONFIG_CHANGE = "config_change"
    INFRASTRUCTURE = "infrastructure"
    THIRD_PARTY = "third_party"
    MARKET_EVENT = "market_event"
    MODEL_DRIFT = "model_drift"
    HUMAN_ERROR = "human_error"


class IncidentTimeline(Contract):
    """The recovery steps' moments; each set one is no earlier than the one before it
    (detection ≤ containment ≤ rollback ≤ recovery)."""

    schema_version: Literal["1.0"] = "1.0"
    detected_at: datetime
    contained_at: datetime | None = None
    rolled_back_at: datetime | None = None
    recovered_at: datetime | None = None


TIMELINE_STEPS: tuple[str, ...] = ("detected_at", "contained_at", "rolled_back_at",
                                   "recovered_at")


class IncidentNote(Contract):
    """One change to the incident, as the operator described it."""

    schema_version: Literal["1.0"] = "1.0"
    at: datetime
    actor: str
    status: IncidentStatus
    text: str


class IncidentRecord(Contract):
    """An incident's whole state after one change (the ledger keeps every version)."""

    schema_version: Literal["1.0"] = "1.0"
    incident_id: str = Field(min_length=1, max_length=64,
                             description="INC-YYYYMMDD-NNN for incidents opened here")
    incident_class: IncidentClass
    severity: IncidentSeverity
    status: IncidentStatus
    summary: str = Field(min_length=1)
    symbols: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    timeline: IncidentTimeline
    root_cause: RootCause | None = None
    root_cause_detail: str | None = None
    preventive_action: str | None = None
    preventive_pr: str | None = Field(
        default=None, description="A pull request id in the ledger (e.g. PR-3) or a URL")
    evidence_refs: tuple[str, ...] = Field(default=(), description="Artifact digests or ids")
    opened_by: str
    opened_at: datetime
    notes: tuple[IncidentNote, ...] = ()
