"""An incident's audit pack: its rows, the kill-switch events around it (signed by the
operator, verified offline), nothing from days before, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ledger.helpers import drop_guards
from tests.support import assert_one_line_error, run_torghut
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import Incident
from torghut.ops import incidents, kill_switch
from torghut.ops import pack_layout as L
from torghut.ops.audit_pack import build_pack
from torghut.ops.audit_verify import check_pack
from torghut.workspace import Workspace


def _incident(ws: Workspace, status: str, at: datetime) -> None:
    with open_ledger(ws) as book, book.write() as session:
        row = Incident(incident_id="INC-7", incident_class="B", severity="high", status=status,
                       summary="reject burst on SYN000", evidence=[], actor="oscar",
                       created_at=at)
        audit.record(session, row, actor="oscar", action=f"incident.{status}",
                     subject="incident:INC-7")


def test_incident_pack_gathers_rows_and_kill_switch_events(ledger_ws: Workspace,  # noqa: F811
                                                           tmp_path: Path) -> None:
    ws, now = ledger_ws, datetime.now(UTC)
    with open_ledger(ws) as book:  # days earlier, unrelated: must stay out
        kill_switch.engage(ws, book, scope="strategy:old", state="halted", reason="drill",
                           as_identity="oscar", now=now - timedelta(days=3))
    _incident(ws, "open", now)
    with open_ledger(ws) as book:
        kill_switch.engage(ws, book, scope="firm", state="halted", reason="reject burst",
                           incident_id="INC-7", as_identity="oscar")
        kill_switch.release(ws, book, scope="firm", reason="venue fixed", incident_id="INC-7",
                            as_identity="oscar")
    _incident(ws, "resolved", datetime.now(UTC))
    with open_ledger(ws) as book:
        result = build_pack(ws, book, candidate=None, incident="INC-7", out=tmp_path / "pack")
    shutil.rmtree(ws.root)
    root = result.path
    incidents = json.loads((root / L.table_file("incidents")).read_text())
    kills = json.loads((root / L.table_file("kill_switch_events")).read_text())
    assert [i["status"] for i in incidents] == ["open", "resolved"]
    assert [(k["action"], k["scope"]) for k in kills] == [("engage", "firm"),
                                                          ("release", "firm")]
    assert all(k["signature"] for k in kills)
    check = check_pack(root)
    assert check.problems == []
    assert check.checked["signatures"] == 2  # both operator actions, verified offline
    mapping = json.loads((root / L.CONTROLS).read_text())
    assert mapping["FIA-3"]["status"] == "evidenced"
    assert "INC-7" in (root / L.REPORT).read_text()


def test_unknown_incident_is_bad_input(ledger_ws: Workspace, tmp_path: Path) -> None:  # noqa: F811
    proc = run_torghut("-w", str(ledger_ws.root), "audit", "pack", "--incident", "INC-404",
                       "--out", str(tmp_path / "pack"))
    assert_one_line_error(proc, "--incident", "INC-404")
    assert not (tmp_path / "pack").exists()


def test_a_row_edited_behind_the_ledgers_back_is_packed_and_flagged(
        ledger_ws: Workspace, tmp_path: Path) -> None:  # noqa: F811
    ws = ledger_ws
    _incident(ws, "open", datetime.now(UTC))
    with open_ledger(ws) as book:
        drop_guards(book.engine, "incidents")
        with book.engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET summary = 'nothing happened'"))
        result = build_pack(ws, book, candidate=None, incident="INC-7", out=tmp_path / "p")
    incidents = json.loads((result.path / L.table_file("incidents")).read_text())
    assert incidents[0]["summary"] == "nothing happened"  # the ledger as it is
    assert [(p.code, p.path) for p in check_pack(result.path).problems] == [
        ("ROW_MODIFIED", f"{L.table_file('incidents')} id={incidents[0]['id']}")]


def test_incident_pack_holds_the_full_incident_records(ledger_ws: Workspace,  # noqa: F811
                                                       tmp_path: Path) -> None:
    ws = ledger_ws
    with open_ledger(ws) as book:
        opened = incidents.open_incident(ws, book, incident_class="B", severity="high",
                                         summary="reject burst", symbols=["SYN000"],
                                         as_identity="oscar")
        contained = incidents.IncidentChange(timeline={"contained_at": datetime.now(UTC)})
        incidents.update_incident(ws, book, opened.incident_id, contained,
                                  note="kill switch engaged", as_identity="oscar")
        result = build_pack(ws, book, candidate=None, incident=opened.incident_id,
                            out=tmp_path / "pack")
    shutil.rmtree(ws.root)
    records = json.loads((result.path / L.table_file("incident_records")).read_text())
    assert [r["record"]["symbols"] for r in records] == [["SYN000"], ["SYN000"]]
    assert records[-1]["record"]["timeline"]["contained_at"] is not None
    assert check_pack(result.path).problems == []
