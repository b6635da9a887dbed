"""Measure the hard-stop conditions (DESIGN.md "Lifecycle") from where they live.

Each measurement reads the part that owns the fact — never a file someone wrote by hand:

==============  =================================================================
``ledger``      the audit chain, every row it vouches for, every artifact it cites
``config``      the strategy catalog on GitOps ``main``, validated against the registry
``drift``       GitOps ``main`` versus the config the runtime last recorded applying
                (``runtime.config.applied``) or a drift check last found (``ops.drift.checked``)
``risk``        execution/risk-control incidents (class B) still open in the ledger
``llm``         the advisory stage on ``main`` and its recorded calls' reliability
``kill_switch`` the newest kill-switch event of every scope (latched, FIA-1)
==============  =================================================================

A measurement that cannot be taken is left ``None`` with the reason in ``absent``, so its
check fails closed and says why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.advisory import config as advisory_config
from torghut.advisory import records as advisory_records
from torghut.contracts.gates import (
    ChainBreak,
    ConfigValidation,
    DriftReport,
    HardStopInputs,
    KillSwitchState,
    LedgerIntegrity,
    LlmReliability,
    RiskViolation,
    RiskViolations,
    Severity,
)
from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.repo import MAIN, show
from torghut.ledger import Ledger, audit
from torghut.ledger.models import AuditEventRow, Incident
from torghut.ops import kill_switch
from torghut.ops.drift import DRIFT_CHECKED_ACTION, desired_config
from torghut.risk.kill_switch import most_severe
from torghut.strategies.catalog import validate_catalog_text
from torghut.strategies.registry import Registry
from torghut.workspace import Workspace

#: The audit action the runtime records when it applies a config (payload: config_sha256).
RUNTIME_APPLIED_ACTION = "runtime.config.applied"
RISK_INCIDENT_CLASS = "B"  # plan-details "Incidents": execution / risk control


@dataclass
class Measured:
    inputs: HardStopInputs
    absent: dict[str, str] = field(default_factory=dict)


def measure_hard_stops(ws: Workspace, ledger: Ledger, session: Session) -> Measured:
    absent: dict[str, str] = {}
    config = desired = None
    try:
        config, desired = measure_config(ws.gitops_dir)
    except TorghutError as exc:
        absent["hard_stops.config"] = absent["hard_stops.drift"] = str(exc)
    if config is not None and desired is None:
        absent["hard_stops.drift"] = "the desired config on main does not parse: " + "; ".join(
            config.errors)
    inputs = HardStopInputs(
        ledger=measure_ledger(session, ledger), config=config,
        drift=measure_drift(session, desired) if desired is not None else None,
        risk=measure_risk(session), llm=measure_llm(ws, session, absent),
        kill_switch=measure_kill_switch(session))
    return Measured(inputs, absent)


def measure_ledger(session: Session, ledger: Ledger) -> LedgerIntegrity:
    report = audit.verify(session, ledger.artifacts)
    b = report.broken
    broken = None if b is None else ChainBreak(seq=b.seq, table=b.table, row_id=b.row_id,
                                               code=b.code, message=b.message)
    return LedgerIntegrity(events=report.events, head_hash=report.head_hash, broken=broken)


def desired_config_sha256(repo: Path) -> str:
    """The hash of the config on ``main`` as the drift check and the runtime compute it
    (:func:`torghut.contracts.ops.config_sha256` of the parsed catalog + runtime config)."""
    return desired_config(repo).config_sha256


def measure_config(repo: Path) -> tuple[ConfigValidation, str | None]:
    """Validate the catalog on ``main`` (schema and plugin resolution, as `strategy
    validate-catalog` does); returns the validation and the desired-config hash (``None``
    when the catalog or runtime config does not parse, so there is nothing to compare)."""
    text = show(repo, CATALOG_PATH, MAIN)
    if text is None:
        raise TorghutError(f"no {CATALOG_PATH} on {MAIN}", file=repo, field="catalog")
    result = validate_catalog_text(text, f"{MAIN}:{CATALOG_PATH}", Registry.from_entry_points())
    errors = tuple(str(e) for e in result.errors)
    try:
        desired: str | None = desired_config_sha256(repo)
    except TorghutError as exc:
        desired, errors = None, (*errors, str(exc))
    shown = desired or hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ConfigValidation(config_sha256=shown, valid=not errors, errors=errors), desired


def measure_drift(session: Session, desired: str) -> DriftReport:
    """The latest applied-config report (the runtime's own, or a recorded drift check)
    against ``desired``; a drift check's field paths become the differences."""
    latest = session.execute(
        select(AuditEventRow.action, AuditEventRow.payload)
        .where(AuditEventRow.action.in_((RUNTIME_APPLIED_ACTION, DRIFT_CHECKED_ACTION)))
        .order_by(AuditEventRow.seq.desc()).limit(1)).first()
    payload = {} if latest is None else json.loads(latest.payload)
    runtime = payload.get("config_sha256")
    differences: tuple[str, ...] = ()
    if runtime is not None and runtime != desired:
        recorded = tuple(str(d.get("path")) for d in payload.get("differences") or ()
                         if isinstance(d, dict))
        same_main = payload.get("gitops_sha256") == desired
        differences = recorded if same_main and recorded else ("config_sha256",)
    return DriftReport(gitops_sha256=desired, runtime_sha256=runtime, differences=differences)


def measure_risk(session: Session) -> RiskViolations:
    """Each class-B incident's latest state (incident rows are history: newest wins)."""
    latest: dict[str, Incident] = {}
    for row in session.scalars(select(Incident).where(
            Incident.incident_class == RISK_INCIDENT_CLASS).order_by(Incident.id)):
        latest[row.incident_id] = row
    return RiskViolations(violations=tuple(
        RiskViolation(violation_id=i.incident_id, severity=_severity(i.severity),
                      resolved=i.status == "closed")
        for i in sorted(latest.values(), key=lambda r: r.incident_id)))


def _severity(value: str) -> Severity:
    # Incident severities beyond the three risk levels (e.g. "critical") count as high.
    return Severity(value) if value in Severity.__members__.values() else Severity.HIGH


def measure_llm(ws: Workspace, session: Session, absent: dict[str, str]
                ) -> LlmReliability | None:
    """The advisory stage on ``main`` and the reliability of the newest recorded advisory
    calls over the gate policy's window (control AI-R1); ``None`` (fail closed, reason in
    ``absent``) when the advisory config or the policy on ``main`` does not parse."""
    # control: AI-R1
    try:
        return advisory_records.measure(ws, session, advisory_config.load_config(ws))
    except TorghutError as exc:
        absent["hard_stops.llm"] = str(exc)
        return None


def measure_kill_switch(session: Session) -> KillSwitchState:
    """The latched board (FIA-1): ANY engaged scope freezes the promotion pipeline (the
    governance plan's kill actions), reported at its most severe state with every engaged
    scope named; nothing engaged is ``active`` at firm scope."""
    # control: plan (engaging the kill switch freezes the promotion pipeline)
    engaged = kill_switch.board(session).engaged()
    if not engaged:
        return KillSwitchState(state="active", scope="firm")
    state = most_severe(latch.state for latch in engaged)
    scopes = ", ".join(latch.scope for latch in engaged)
    return KillSwitchState(state=state.value, scope=scopes)
