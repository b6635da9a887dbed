"""``torghut incident``: open → update → close along the recovery timeline, signed and
audited; closing needs a root cause and a preventive action linked to a PR; bad input is
exit 2, one line, and leaves the ledger as it was.

Every test runs on SQLite and (with ``$TORGHUT_TEST_POSTGRES_URL``) PostgreSQL; the CLI runs
in a subprocess exactly as a user's shell would.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.support import assert_one_line_error, run_torghut
from torghut.contracts.gates import Severity
from torghut.contracts.incidents import IncidentStatus, RootCause
from torghut.governance.guard import signed_action_of
from torghut.governance.refusal import Refusal
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import AuditEventRow, Incident, IncidentRecordRow, PullRequest
from torghut.ops import incidents
from torghut.ops.conditions import measure_risk
from torghut.ops.incidents import IncidentChange
from torghut.workspace import Workspace

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def inc(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry: ``torghut -w WS incident ARGS``."""
    return run_torghut("-w", str(ws.root), "incident", *args, timeout=120)


@pytest.fixture
def book(ledger_ws: Workspace) -> Iterator[Ledger]:  # noqa: F811
    opened = open_ledger(ledger_ws)
    yield opened
    opened.close()


def _events(book: Ledger) -> int:
    with book.read() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEventRow)) or 0)


def _local_pr(book: Ledger, pr_id: int = 7) -> None:
    with book.write() as s:
        audit.record(s, PullRequest(id=pr_id, provider="local", kind="rollback",
                                    branch=f"codex/fix-{pr_id}", base_sha="0" * 40,
                                    head_sha="1" * 40, title="Tighten the collar",
                                    body_sha256="b" * 64, proposer="oscar"),
                     actor="oscar", action="promotion.pr.open", subject="setup")


def _open(ws: Workspace, book: Ledger, **kw: object) -> str:
    args: dict[str, object] = {"incident_class": "B", "severity": "high",
                               "summary": "reject burst on AAA", "as_identity": "oscar",
                               "symbols": ["AAA"], "strategies": ["tsmom"],
                               "detected_at": T0, "now": T0 + timedelta(minutes=1)}
    args.update(kw)
    return incidents.open_incident(ws, book, **args).incident_id  # type: ignore[arg-type]


def test_lifecycle_through_the_cli(ledger_ws: Workspace, book: Ledger,  # noqa: F811
                                   tmp_path: Path) -> None:
    ws = ledger_ws
    opened = inc(ws, "open", "--class", "B", "--severity", "high", "--summary",
                 "reject burst on AAA", "--symbol", "AAA", "--symbol", "BBB", "--strategy",
                 "tsmom", "--detected", "2024-03-05T09:30:00Z", "--as", "oscar", "--json")
    assert opened.returncode == 0, opened.stderr
    record = json.loads(opened.stdout)
    iid = record["incident_id"]
    assert iid == "INC-20240305-001" and record["status"] == "open"
    assert record["symbols"] == ["AAA", "BBB"] and record["strategies"] == ["tsmom"]
    # An open class-B high incident is an unresolved high risk violation: a hard stop.
    with book.read() as s:
        (violation,) = measure_risk(s).violations
    assert (violation.violation_id, violation.severity, violation.resolved) == (
        iid, Severity.HIGH, False)

    updated = inc(ws, "update", iid, "--note", "kill switch engaged, collar reverted",
                  "--contained", "2024-03-05T09:35:00Z", "--rolled-back",
                  "2024-03-05T09:50:00Z", "--root-cause", "config_change",
                  "--root-cause-detail", "collar widened to 50%", "--as", "oscar")
    assert updated.returncode == 0, updated.stderr
    assert f"{iid} [open] class B" in updated.stdout

    # Closing without the preventive action's PR is a refusal (exit 1), audited; the
    # incident stays open.
    refused = inc(ws, "close", iid, "--note", "recovered", "--preventive-action",
                  "collar bound in the policy schema", "--as", "oscar")
    assert refused.returncode == 1, refused.stderr
    assert "INCIDENT_NO_PREVENTIVE_PR" in refused.stderr
    with book.read() as s:
        still = incidents.get_incident(s, iid)
        last = audit.log(s)[-1]
    assert still.status is IncidentStatus.OPEN and still.preventive_action is None
    assert (last.action, last.payload["code"]) == ("governance.refused",
                                                   "INCIDENT_NO_PREVENTIVE_PR")

    _local_pr(book, 7)
    closed = inc(ws, "close", iid, "--note", "recovered", "--preventive-action",
                 "collar bound in the policy schema", "--pr", "#7",
                 "--recovered", "2024-03-05T10:05:00Z", "--as", "oscar", "--json")
    assert closed.returncode == 0, closed.stderr
    done = json.loads(closed.stdout)
    assert done["status"] == "closed" and done["preventive_pr"] == "PR-7"
    assert done["root_cause"] == "config_change"
    assert done["timeline"] == {"schema_version": "1.0",
                                "detected_at": "2024-03-05T09:30:00Z",
                                "contained_at": "2024-03-05T09:35:00Z",
                                "rolled_back_at": "2024-03-05T09:50:00Z",
                                "recovered_at": "2024-03-05T10:05:00Z"}
    assert [n["status"] for n in done["notes"]] == ["open", "open", "closed"]

    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
        (violation,) = measure_risk(s).violations
        assert violation.resolved
        rows = list(s.scalars(select(Incident).where(Incident.incident_id == iid)))
        records = list(s.scalars(select(IncidentRecordRow)))
        signed = [signed_action_of(e) for e in audit.log(s, incidents.subject(iid))
                  if e.action == "ops.incident"]
    assert [r.status for r in rows] == ["open", "open", "closed"]  # history, never updated
    assert len(records) == 3 and records[-1].record == done
    assert [a.payload["op"] for a in signed] == ["opened", "updated", "closed"]
    assert all(a.actor == "oscar" for a in signed)

    shown = inc(ws, "show", iid, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == done
    listed = inc(ws, "list", "--status", "closed")
    assert listed.returncode == 0 and f"{iid} [closed]" in listed.stdout
    out = tmp_path / "postmortem.md"
    exported = inc(ws, "export", iid, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    page = out.read_text()
    assert page.startswith(f"# {iid}: reject burst on AAA")
    for needle in ("| rolled back | 2024-03-05T09:50:00Z |", "Classification: config_change",
                   "collar bound in the policy schema (pull request: PR-7)", "| AAA, BBB |"):
        assert needle in page, needle


BAD_INPUT: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("open", "--class", "E", "--severity", "high", "--summary", "x"), ("class", "'E'")),
    (("open", "--class", "A", "--severity", "urgent", "--summary", "x"), ("severity",)),
    (("open", "--class", "A", "--severity", "low", "--summary", "x", "--detected",
      "yesterday"), ("--detected",)),
    (("update", "INC-20991231-001", "--note", "x"), ("incident_id", "INC-20991231-001")),
    (("close", "INC-20991231-001", "--note", "x"), ("incident_id",)),
)


def test_bad_input_is_one_line_and_changes_nothing(ledger_ws: Workspace,  # noqa: F811
                                                   book: Ledger) -> None:
    before = _events(book)
    for args, needles in BAD_INPUT:
        assert_one_line_error(inc(ledger_ws, *args, "--as", "oscar"), *needles)
    assert_one_line_error(inc(ledger_ws, "show", "INC-20991231-001"), "incident_id")
    assert _events(book) == before


def test_timeline_out_of_order_names_the_field(ledger_ws: Workspace,  # noqa: F811
                                               book: Ledger) -> None:
    iid = _open(ledger_ws, book)
    before = _events(book)
    proc = inc(ledger_ws, "update", iid, "--note", "x", "--contained",
               "2026-11-24T09:40:00Z", "--rolled-back", "2026-11-24T09:35:00Z", "--as",
               "oscar")
    assert_one_line_error(proc, "timeline.rolled_back_at", "before contained_at")
    early = inc(ledger_ws, "update", iid, "--note", "x", "--contained",
                "2026-11-24T09:00:00Z", "--as", "oscar")
    assert_one_line_error(early, "timeline.contained_at", "before detected_at")
    bad_pr = inc(ledger_ws, "update", iid, "--note", "x", "--pr", "tomorrow", "--as", "oscar")
    assert_one_line_error(bad_pr, "preventive_pr")
    no_pr = inc(ledger_ws, "update", iid, "--note", "x", "--pr", "PR-99", "--as", "oscar")
    assert_one_line_error(no_pr, "preventive_pr", "no pull request 99")
    assert _events(book) == before


def test_close_refusals_and_url_link(ledger_ws: Workspace, book: Ledger) -> None:  # noqa: F811
    ws = ledger_ws
    iid = _open(ws, book)
    later = T0 + timedelta(hours=1)
    with pytest.raises(Refusal) as no_cause:
        incidents.close_incident(ws, book, iid, IncidentChange(
            preventive_action="a", preventive_pr="https://github.com/o/r/pull/1"),
            note="done", as_identity="oscar", now=later)
    assert no_cause.value.code == "INCIDENT_NO_ROOT_CAUSE" and no_cause.value.exit_code == 1
    with pytest.raises(Refusal) as no_action:
        incidents.close_incident(ws, book, iid, IncidentChange(root_cause="code_defect"),
                                 note="done", as_identity="oscar", now=later)
    assert no_action.value.code == "INCIDENT_NO_PREVENTIVE_ACTION"
    closed = incidents.close_incident(ws, book, iid, IncidentChange(
        root_cause="code_defect", preventive_action="regression test for the collar",
        preventive_pr="https://github.com/o/r/pull/1"), note="done", as_identity="oscar",
        now=later)
    # Recovery defaults to the close moment when the timeline does not say otherwise.
    assert closed.timeline.recovered_at == later and closed.root_cause is RootCause.CODE_DEFECT
    with pytest.raises(Refusal) as again:
        incidents.update_incident(ws, book, iid, IncidentChange(), note="more",
                                  as_identity="oscar", now=later)
    assert again.value.code == "INCIDENT_CLOSED"
    # An approver is not operations: opening is refused and audited.
    with pytest.raises(Refusal) as role:
        _open(ws, book, as_identity="alice")
    assert role.value.code == "ROLE_NOT_PERMITTED"
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
        assert [i.incident_id for i in incidents.list_incidents(s)] == [iid]


def test_ids_are_per_detection_day_and_find_incident(ledger_ws: Workspace,  # noqa: F811
                                                     book: Ledger) -> None:
    first = _open(ledger_ws, book)
    second = _open(ledger_ws, book, incident_class="A", severity="low")
    other_day = _open(ledger_ws, book, incident_class="D", severity="medium",
                      detected_at=T0 - timedelta(days=1))
    assert (first, second, other_day) == ("INC-20261124-001", "INC-20261124-002",
                                          "INC-20261123-001")
    with book.read() as s:
        found = incidents.find_incident(s, second)
        assert found is not None and found.incident_class.value == "A"
        assert incidents.find_incident(s, "INC-20261124-009") is None
        assert [r.incident_id for r in incidents.list_incidents(s, IncidentStatus.OPEN)] == [
            "INC-20261123-001", first, second]
        # Only the class-B incident is a risk violation.
        assert [v.violation_id for v in measure_risk(s).violations] == [first]
