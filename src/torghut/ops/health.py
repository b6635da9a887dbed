"""``torghut ops health``: is this installation fit to trade and to promote, right now?

The recovery checklist of plan-details "Incidents and kill switch" ("verify health and
reconciliation: scheduler healthy, data fresh, risk engine up") as findings an operator or a
monitor can read. Each finding is measured where the fact lives — the hard-stop measurements
of :mod:`torghut.ops.conditions` are reused, not re-implemented:

================  ========================================================================
``ledger``        the ledger opens and answers
``chain``         the audit chain verifies (``torghut audit verify``'s check)
``runtime``       the newest runtime heartbeat in the ledger (a session or an applied
                  config), or with ``--runtime URL`` the service's ``/healthz`` and
                  ``/api/status``
``data``          the newest dataset snapshot's last bar against Gate 0's staleness bound
``drift``         GitOps ``main``'s config against what the runtime last applied
``kill_switch``   the latched board (FIA-1): reducing warns, halted is critical
``incidents``     open incidents: high/critical severity is critical, others warn
================  ========================================================================

The worst finding decides the exit code: 0 all ok, 1 a warning, 3 something critical
(2 stays "bad input"). Anything that cannot be measured fails closed as critical.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from torghut.contracts.incidents import IncidentSeverity, IncidentStatus
from torghut.data.snapshots import list_snapshots
from torghut.errors import TorghutError
from torghut.gates.policy import POLICY_PATH, parse_policy
from torghut.gitops.repo import MAIN, show
from torghut.ledger import Ledger, open_ledger
from torghut.ledger.models import AuditEventRow, RuntimeSession
from torghut.ops.conditions import (
    RUNTIME_APPLIED_ACTION,
    measure_config,
    measure_drift,
    measure_kill_switch,
    measure_ledger,
)
from torghut.ops.incidents import list_incidents
from torghut.workspace import Workspace

DEFAULT_HEARTBEAT_AGE = timedelta(hours=24)
RUNTIME_TIMEOUT_S = 5.0


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"


_RANK = {Status.OK: 0, Status.WARN: 1, Status.CRITICAL: 2}
EXIT_CODES = {Status.OK: 0, Status.WARN: 1, Status.CRITICAL: 3}


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True)
class HealthReport:
    findings: tuple[Finding, ...]
    checked_at: datetime

    @property
    def worst(self) -> Status:
        return max((f.status for f in self.findings), key=_RANK.__getitem__,
                   default=Status.OK)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.worst]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.worst.value, "exit_code": self.exit_code,
                "checked_at": self.checked_at.isoformat(),
                "findings": [f.to_json() for f in self.findings]}


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


# ----------------------------------------------------------------------------- ledger facts


def chain_finding(session: Session, ledger: Ledger) -> Finding:
    integrity = measure_ledger(session, ledger)
    if integrity.broken is not None:
        b = integrity.broken
        return Finding("chain", Status.CRITICAL, f"audit chain broken at seq {b.seq}: "
                       f"{b.code} ({b.message})")
    return Finding("chain", Status.OK, f"{integrity.events} events verify")


def heartbeat_finding(session: Session, now: datetime, max_age: timedelta) -> Finding:
    """The newest runtime session or applied config recorded in the ledger."""
    beats = [session.scalar(select(func.max(RuntimeSession.created_at))),
             session.scalar(select(func.max(AuditEventRow.ts)).where(
                 AuditEventRow.action == RUNTIME_APPLIED_ACTION))]
    moments = [_moment(b) for b in beats if b is not None]
    if not moments:
        return Finding("runtime", Status.OK, "no runtime has reported to this ledger yet")
    last = max(moments)
    if now - last > max_age:
        return Finding("runtime", Status.WARN, f"last runtime heartbeat {_age(now, last)} "
                       f"ago (bound {_age(now, now - max_age)})")
    return Finding("runtime", Status.OK, f"last runtime heartbeat {_age(now, last)} ago")


def _moment(value: datetime | str) -> datetime:
    """A ``runtime_sessions`` timestamp, or an audit event's ``ts`` string."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def drift_finding(ws: Workspace, session: Session) -> Finding:
    config, desired = measure_config(ws.gitops_dir)
    if not config.valid or desired is None:
        return Finding("drift", Status.CRITICAL, "config on main does not validate: "
                       + "; ".join(config.errors))
    drift = measure_drift(session, desired)
    if drift.runtime_sha256 is None:
        return Finding("drift", Status.OK, f"main config {desired[:12]}; no runtime has "
                       "applied a config yet")
    if drift.differences:
        return Finding("drift", Status.CRITICAL, f"runtime config {drift.runtime_sha256[:12]}"
                       f" differs from main {desired[:12]}: " + ", ".join(drift.differences))
    return Finding("drift", Status.OK, f"runtime applied main's config {desired[:12]}")


def kill_switch_finding(session: Session) -> Finding:
    state = measure_kill_switch(session)
    if state.state == "active":
        return Finding("kill_switch", Status.OK, "active (nothing engaged)")
    status = Status.WARN if state.state == "reducing" else Status.CRITICAL
    return Finding("kill_switch", status, f"{state.state} at {state.scope}")


def incidents_finding(session: Session) -> Finding:
    open_now = list_incidents(session, IncidentStatus.OPEN)
    if not open_now:
        return Finding("incidents", Status.OK, "no open incidents")
    serious = {IncidentSeverity.HIGH, IncidentSeverity.CRITICAL}
    status = Status.CRITICAL if any(i.severity in serious for i in open_now) else Status.WARN
    listed = ", ".join(f"{i.incident_id} ({i.incident_class.value}, {i.severity.value})"
                       for i in open_now)
    return Finding("incidents", status, f"{len(open_now)} open: {listed}")


# ----------------------------------------------------------------------------- other facts


def data_finding(ws: Workspace, now: datetime) -> Finding:
    """The newest snapshot's last bar against Gate 0's ``max_staleness_seconds``."""
    snapshots = list_snapshots(ws)
    if not snapshots:
        return Finding("data", Status.OK, "no dataset snapshots yet")
    newest = max(snapshots, key=lambda m: (m.end, m.created_at))
    text = show(ws.gitops_dir, POLICY_PATH, MAIN)
    if text is None:
        return Finding("data", Status.WARN, f"no {POLICY_PATH} on {MAIN}: staleness unknown")
    bound = parse_policy(text, file=f"{MAIN}:{POLICY_PATH}").gate0.max_staleness_seconds
    where = f"newest snapshot {newest.name} ends {newest.end.isoformat()}"
    if bound is None:
        return Finding("data", Status.OK, f"{where}; the gate policy sets no staleness "
                       "bound (Gate 0's calendar-aware check decides)")
    if (now - newest.end).total_seconds() > bound:
        return Finding("data", Status.WARN, f"{where}, {_age(now, newest.end)} old "
                       f"(bound {bound:g} s)")
    return Finding("data", Status.OK, f"{where}, within {bound:g} s")


def runtime_url_finding(url: str) -> Finding:
    """``/healthz`` answers ok and ``/api/status`` reports no errors."""
    base = url.rstrip("/")
    try:
        alive = httpx.get(base + "/healthz", timeout=RUNTIME_TIMEOUT_S)
        status = httpx.get(base + "/api/status", timeout=RUNTIME_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return Finding("runtime", Status.CRITICAL, f"{base} unreachable: "
                       f"{type(exc).__name__}: {exc}")
    if alive.status_code != 200 or status.status_code != 200:
        return Finding("runtime", Status.CRITICAL, f"{base} answered HTTP "
                       f"{alive.status_code} (healthz) / {status.status_code} (status)")
    try:
        body = status.json()
    except json.JSONDecodeError:
        return Finding("runtime", Status.CRITICAL, f"{base}/api/status is not JSON")
    problems = [*(body.get("errors") or ()), *([body["last_error"]]
                                                if body.get("last_error") else [])]
    if body.get("config_sha256") is None:
        problems.append("no config applied")
    if problems:
        return Finding("runtime", Status.WARN, f"{base} up; " + "; ".join(map(str, problems)))
    return Finding("runtime", Status.OK, f"{base} up in {body.get('mode')} mode, config "
                   f"{str(body['config_sha256'])[:12]}")


# ----------------------------------------------------------------------------- the report


def _guarded(name: str, measure: Callable[[], Finding]) -> Finding:
    """A measurement that cannot be taken fails closed, saying why."""
    try:
        return measure()
    except TorghutError as exc:
        return Finding(name, Status.CRITICAL, f"not measurable: {exc}")


def check_health(ws: Workspace, *, runtime_url: str | None = None,
                 max_heartbeat_age: timedelta = DEFAULT_HEARTBEAT_AGE,
                 now: datetime | None = None) -> HealthReport:
    """Every finding, in a fixed order (ledger first: the others read it)."""
    now = now or datetime.now(UTC)
    findings: list[Finding] = []
    try:
        ledger = open_ledger(ws)
    except TorghutError as exc:
        ledger = None
        findings.append(Finding("ledger", Status.CRITICAL, f"unreachable: {exc}"))
    if ledger is not None:
        with ledger, ledger.read() as session:
            backend = ws.ledger_url.split(":", 1)[0]
            findings.append(Finding("ledger", Status.OK, f"reachable ({backend})"))
            findings += _ledger_findings(ws, ledger, session, runtime_url,
                                         max_heartbeat_age, now)
    else:
        findings += [Finding(n, Status.CRITICAL, "not measurable: the ledger is unreachable")
                     for n in ("chain", "drift", "kill_switch", "incidents")]
        if runtime_url is not None:
            findings.append(runtime_url_finding(runtime_url))
    findings.append(_guarded("data", lambda: data_finding(ws, now)))
    return HealthReport(tuple(findings), now)


def _ledger_findings(ws: Workspace, ledger: Ledger, session: Session, runtime_url: str | None,
                     max_age: timedelta, now: datetime) -> list[Finding]:
    runtime = (runtime_url_finding(runtime_url) if runtime_url is not None
               else heartbeat_finding(session, now, max_age))
    return [chain_finding(session, ledger), runtime,
            _guarded("drift", lambda: drift_finding(ws, session)),
            kill_switch_finding(session), incidents_finding(session)]
