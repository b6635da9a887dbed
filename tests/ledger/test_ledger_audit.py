"""The audit chain: links, tamper detection, concurrent writers, crashes."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.ledger.helpers import T0, count, drop_guards, one_of_each, record_all
from torghut.ledger import Ledger, audit
from torghut.ledger.audit import GENESIS_HASH, NewEvent
from torghut.workspace import Workspace

APPENDER = Path(__file__).with_name("appender.py")


def _append(ledger: Ledger, n: int, subject: str = "s", **refs: list[str]) -> None:
    with ledger.write() as session:
        for i in range(n):
            audit.append(session, "tester", "test.append", subject, {"i": i, "x": i / 3},
                         artifact_refs=refs.get("artifact_refs", []))


def _verify(ledger: Ledger) -> audit.VerifyReport:
    with ledger.read() as session:
        return audit.verify(session, ledger.artifacts)


@given(seq=st.integers(1, 2**53 - 1), fields=st.lists(st.text(), min_size=6, max_size=6))
def test_fast_header_encoding_is_rfc8785(seq: int, fields: list[str]) -> None:
    header = dict(zip(("ts", "actor", "action", "subject", "payload_hash", "prev_hash"),
                      fields, strict=True), seq=seq)
    assert audit.canonical_header(header) == rfc8785.dumps(header)


def test_chain_links_match_the_specification(ledger: Ledger) -> None:
    _append(ledger, 3)
    with ledger.read() as session:
        events = audit.log(session)
    assert [e.seq for e in events] == [1, 2, 3]
    prev = GENESIS_HASH
    for e in events:
        payload_hash = hashlib.sha256(rfc8785.dumps(e.payload)).hexdigest()
        header = {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action,
                  "subject": e.subject, "payload_hash": payload_hash, "prev_hash": prev}
        assert e.prev_hash == prev and e.payload_hash == payload_hash
        assert e.hash == hashlib.sha256(rfc8785.dumps(header)).hexdigest()
        prev = e.hash
    report = _verify(ledger)
    assert report.ok and report.events == 3 and report.head_hash == events[-1].hash


def test_recorded_rows_round_trip_through_the_database(ledger: Ledger) -> None:
    record_all(ledger)
    report = _verify(ledger)
    assert report.ok and report.events == len(one_of_each())
    with ledger.read() as session:
        (run_event,) = [e for e in audit.log(session) if e.ref_table == "research_runs"]
    assert run_event.payload["started_at"] == "2024-01-02T14:30:00.123456Z"
    assert run_event.ref_id == "run-1"


def test_log_filters_by_subject(ledger: Ledger) -> None:
    _append(ledger, 2, subject="cand-1")
    _append(ledger, 3, subject="cand-2")
    with ledger.read() as session:
        assert [e.seq for e in audit.log(session, "cand-2")] == [3, 4, 5]
        assert audit.log(session, "nobody") == []


def test_edited_event_is_reported_at_its_seq(ledger: Ledger) -> None:
    _append(ledger, 5)
    drop_guards(ledger.engine, "audit_events")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    broken = _verify(ledger).broken
    assert broken is not None and (broken.seq, broken.table, broken.row_id) == (
        3, "audit_events", "3")
    assert broken.code == "hash_mismatch"


def test_rewritten_payload_is_reported(ledger: Ledger) -> None:
    _append(ledger, 4)
    drop_guards(ledger.engine, "audit_events")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET payload = :p WHERE seq = 2"), {"p": '{"i":9}'})
    broken = _verify(ledger).broken
    assert broken is not None and (broken.seq, broken.code) == (2, "payload_hash_mismatch")


def test_deleted_event_is_reported_as_a_gap(ledger: Ledger) -> None:
    _append(ledger, 4)
    drop_guards(ledger.engine, "audit_events")
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    broken = _verify(ledger).broken
    assert broken is not None and (broken.seq, broken.code) == (2, "seq_gap")


def test_edited_history_row_is_reported_with_table_and_row_id(ledger: Ledger) -> None:
    record_all(ledger)
    drop_guards(ledger.engine, "trials")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE trials SET sharpe = 2.5 WHERE id = 1"))
    broken = _verify(ledger).broken
    assert broken is not None
    assert (broken.seq, broken.table, broken.row_id, broken.code) == (
        2, "trials", "1", "row_modified")


def test_corrupted_and_missing_artifacts_are_reported(ledger: Ledger) -> None:
    good = ledger.artifacts.put(b"evidence")
    bad = ledger.artifacts.put(b"report")
    _append(ledger, 1, artifact_refs=[good])
    _append(ledger, 1, artifact_refs=[bad])
    assert _verify(ledger).ok
    path = ledger.artifacts.path(bad)
    path.chmod(0o644)
    path.write_bytes(b"forged report")
    broken = _verify(ledger).broken
    assert broken is not None
    assert (broken.seq, broken.table, broken.row_id, broken.code) == (
        2, "artifacts", bad, "artifact_corrupted")
    path.unlink()
    broken = _verify(ledger).broken
    assert broken is not None and broken.code == "artifact_missing"


def test_fork_refused_by_the_database(ledger: Ledger) -> None:
    _append(ledger, 2)
    with ledger.read() as session:
        first = audit.log(session)[0]
    forged = {**first.to_json(), "seq": 3, "hash": "f" * 64, "payload": "{}",
              "artifact_refs": "[]"}  # claims seq 1's predecessor a second time
    columns = ", ".join(forged)
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO audit_events ({columns}) VALUES "
                          f"({', '.join(':' + k for k in forged)})"), forged)


def test_batch_append_is_one_chain(ledger: Ledger) -> None:
    with ledger.write() as session:
        events = audit.append_many(session, [NewEvent("a", "b", f"s{i}", {"i": i})
                                             for i in range(50)], now=T0)
    assert [e.seq for e in events] == list(range(1, 51))
    assert all(e.ts == "2024-01-02T14:30:00.123456Z" for e in events)
    assert _verify(ledger).events == 50


def _spawn(ws: Workspace, mode: str, n: int, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(APPENDER), str(ws.root), mode, str(n), tag],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_appending_concurrently_never_fork(ledger: Ledger,
                                                         ledger_ws: Workspace) -> None:
    procs = [_spawn(ledger_ws, "single", 200, tag) for tag in ("alpha", "beta")]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    report = _verify(ledger)
    assert report.ok and report.events == 400
    with ledger.read() as session:
        events = audit.log(session)
    assert [e.seq for e in events] == list(range(1, 401))
    assert len({e.prev_hash for e in events}) == 400  # no two events share a parent
    for tag in ("alpha", "beta"):  # each writer's own events stay in its order
        mine = [e.payload["i"] for e in events if e.actor == tag]
        assert mine == list(range(200))


def test_sigkill_mid_batch_leaves_a_verifiable_chain(ledger: Ledger,
                                                     ledger_ws: Workspace) -> None:
    batch = 40
    proc = _spawn(ledger_ws, "batches", batch, "victim")
    assert proc.stdout is not None
    for _ in range(5):  # let several batches commit, then kill it mid-flight
        assert proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    report = _verify(ledger)
    assert report.ok, report.broken
    with ledger.read() as session:
        committed = count(session, "kill_switch_events")
        assert committed >= 5
        # Every committed batch is whole: one row event plus `batch` events, nothing partial.
        assert report.events == committed * (batch + 1)
        _append(ledger, 1)  # and the chain carries on from the surviving head
    assert _verify(ledger).events == report.events + 1


def test_canonical_payload_rejects_non_json(ledger: Ledger) -> None:
    with pytest.raises(rfc8785.FloatDomainError), ledger.write() as session:
        audit.append(session, "a", "b", "c", {"x": float("nan")})
    assert _verify(ledger).events == 0
    assert json.loads(audit.canonical_payload({"b": 1.0, "a": [1e21]})) == {"a": [1e21], "b": 1}
