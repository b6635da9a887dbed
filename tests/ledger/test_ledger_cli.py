"""``torghut audit verify/log`` through the real console entry, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from tests.ledger.helpers import drop_guards, one_of_each, record_all, run_cli, use_ledger_url
from tests.support import assert_one_line_error, tree_snapshot
from torghut.ledger import Ledger
from torghut.workspace import Workspace

# Each subprocess pays the full `torghut` import (seconds), so calls are kept few.


def test_verify_intact_then_broken(ledger: Ledger, ledger_ws: Workspace) -> None:
    ws = str(ledger_ws.root)
    empty = run_cli("-w", ws, "audit", "verify")
    assert empty.returncode == 0 and "intact: 0 events" in empty.stdout, empty.stderr
    record_all(ledger)
    ok = run_cli("-w", ws, "audit", "verify", "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["broken"] is None
    assert report["events"] == len(one_of_each())

    drop_guards(ledger.engine, "candidates")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE candidates SET trade_count = 999"))
    bad = run_cli("-w", ws, "audit", "verify", "--json")
    assert bad.returncode == 1, bad.stderr
    broken = json.loads(bad.stdout)["broken"]
    assert (broken["seq"], broken["table"], broken["row_id"], broken["code"]) == (
        3, "candidates", "cand-1", "row_modified")
    human = run_cli("-w", ws, "audit", "verify")
    assert human.returncode == 1 and "BROKEN at seq 3 (candidates row cand-1)" in human.stdout


def test_log_json_and_subject(ledger: Ledger, ledger_ws: Workspace) -> None:
    record_all(ledger)
    ws = str(ledger_ws.root)
    every = run_cli("-w", ws, "audit", "log", "--json")
    assert every.returncode == 0, every.stderr
    events = json.loads(every.stdout)
    assert [e["seq"] for e in events] == list(range(1, len(one_of_each()) + 1))
    assert events[1]["prev_hash"] == events[0]["hash"]
    assert events[1]["ref_table"] == "trials" and events[1]["payload"]["params"] == {
        "lookback": 20}
    human = run_cli("-w", ws, "audit", "log", "--subject", "trials")
    assert human.returncode == 0, human.stderr
    (line,) = human.stdout.splitlines()
    assert "trials.recorded" in line and "trials:1" in line


def test_unsupported_ledger_url_is_one_line_exit_2(ws: Workspace) -> None:
    use_ledger_url(ws, "mysql://root@localhost/ledger")
    before = tree_snapshot(ws.root)
    proc = run_cli("-w", str(ws.root), "audit", "verify")
    assert_one_line_error(proc, "torghut.toml", "ledger.url", "unsupported ledger backend")
    assert tree_snapshot(ws.root) == before


def test_unreachable_postgres_is_one_line_exit_2(ws: Workspace) -> None:
    use_ledger_url(ws, "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    before = tree_snapshot(ws.root)
    proc = run_cli("-w", str(ws.root), "audit", "log")
    assert_one_line_error(proc, "torghut.toml", "ledger.url", "cannot open the ledger")
    assert tree_snapshot(ws.root) == before


def test_no_workspace_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run_cli("-w", str(tmp_path), "audit", "verify")
    assert_one_line_error(proc, "not a Torghut workspace")
