"""The hash-chained audit log.

Each event is ``{seq, ts, actor, action, subject, payload_hash, prev_hash, hash}`` where
``payload_hash`` = sha256 of the payload's RFC 8785 canonical JSON and ``hash`` = sha256 of
the RFC 8785 canonical JSON of the other seven fields — so each event commits to its
predecessor and any edit anywhere breaks every later link (a Merkle-style hash chain,
Haber & Stornetta, "How to time-stamp a digital document", J. Cryptology 1991).

An event may reference one ledger row (``ref_table``/``ref_id``): its payload is then the
row's canonical content, so :func:`verify` also detects a row edited behind the ledger's
back. Appends must run inside :meth:`Ledger.write` (the writer lock), and the database
backs that up: ``seq`` is the primary key and ``prev_hash`` is UNIQUE, so a fork is refused
even by a caller that forgot the lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256 as _sha256
from json.encoder import encode_basestring as _encode_str  # C-accelerated
from typing import Any

import rfc8785
from sqlalchemy import Table, Text, cast, insert, select
from sqlalchemy.orm import DeclarativeBase, Session

from torghut.ledger.artifacts import ArtifactStore
from torghut.ledger.db import lock_chain
from torghut.ledger.models import AuditEventRow, Base

GENESIS_HASH = "0" * 64
_HEADER_FIELDS = ("seq", "ts", "actor", "action", "subject", "payload_hash", "prev_hash")
# Integers beyond ±2**53 are not interoperable JSON numbers (RFC 8785 §3.2.2.3).
_MAX_SAFE_INT = 2**53 - 1


def sha256_hex(data: bytes) -> str:
    return _sha256(data).hexdigest()


def canonical_payload(payload: Mapping[str, Any]) -> str:
    """RFC 8785 canonical JSON of a payload (rfc8785 handles floats and key order)."""
    return rfc8785.dumps(dict(payload)).decode("utf-8")


def canonical_header(header: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of an event header, on the fast path.

    A header holds only ASCII keys, strings and one small integer. For that shape, writing
    the keys in sorted order around ``json``'s C string encoder gives exactly the RFC 8785
    bytes (same key order, same string escapes, same integer form) at a tenth of
    ``rfc8785.dumps``'s cost — which is what lets ``audit verify`` pass 100k events/s.
    ``test_ledger_audit.py`` checks the equality against ``rfc8785.dumps`` property-wise.
    """
    seq = header["seq"]
    if not isinstance(seq, int) or not 0 < seq <= _MAX_SAFE_INT:
        raise ValueError(f"audit seq out of range: {seq!r}")
    fields = [header[k] for k in _HEADER_FIELDS[1:]]
    if any(not isinstance(v, str) for v in fields):
        raise TypeError("audit header fields other than seq must be strings")
    return _encode_header(seq, *fields)


def _encode_header(seq: int, ts: str, actor: str, action: str, subject: str,
                   payload_hash: str, prev_hash: str) -> bytes:
    e = _encode_str
    return (f'{{"action":{e(action)},"actor":{e(actor)},"payload_hash":{e(payload_hash)},'
            f'"prev_hash":{e(prev_hash)},"seq":{seq},"subject":{e(subject)},"ts":{e(ts)}}}'
            ).encode()


def event_hash(header: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_header(header))


def format_ts(moment: datetime) -> str:
    """UTC, microseconds, ``Z`` — a fixed-width string that hashes the same everywhere."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class NewEvent:
    """An event to append; ``seq``, ``ts``, ``prev_hash`` and ``hash`` are assigned."""

    actor: str
    action: str
    subject: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    ref_table: str | None = None
    ref_id: str | None = None
    artifact_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    payload_hash: str
    prev_hash: str
    hash: str
    ref_table: str | None
    ref_id: str | None
    artifact_refs: tuple[str, ...]
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (*_HEADER_FIELDS, "hash", "ref_table", "ref_id")}
        return {**out, "artifact_refs": list(self.artifact_refs), "payload": self.payload}


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditEventRow.seq, AuditEventRow.hash).order_by(AuditEventRow.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def append_many(session: Session, events: Sequence[NewEvent], *,
                now: datetime | None = None) -> list[AuditEvent]:
    """Append ``events`` in order, in the session's transaction, with one INSERT batch."""
    if not events:
        return []
    lock_chain(session)
    seq, prev = _head(session)
    ts = format_ts(now or datetime.now(UTC))
    rows: list[dict[str, Any]] = []
    for ev in events:
        seq += 1
        payload = canonical_payload(ev.payload)
        header = {"seq": seq, "ts": ts, "actor": ev.actor, "action": ev.action,
                  "subject": ev.subject, "payload_hash": sha256_hex(payload.encode("utf-8")),
                  "prev_hash": prev}
        prev = event_hash(header)
        rows.append({**header, "hash": prev, "payload": payload, "ref_table": ev.ref_table,
                     "ref_id": ev.ref_id, "artifact_refs": list(ev.artifact_refs)})
    # Core executemany: the ORM bulk path costs more than hashing at 10k events/s.
    session.connection().execute(insert(AuditEventRow.__table__), rows)
    return [_to_event(r) for r in rows]


def append(session: Session, actor: str, action: str, subject: str,
           payload: Mapping[str, Any] | None = None, *,
           artifact_refs: Iterable[str] = ()) -> AuditEvent:
    """Append one event (inside :meth:`Ledger.write`)."""
    event = NewEvent(actor, action, subject, payload or {}, artifact_refs=tuple(artifact_refs))
    return append_many(session, [event])[0]


def row_payload(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """A history row as plain JSON data: the payload of the event that records it."""
    return {col.name: _jsonable(values[col.name]) for col in table.columns}


def _jsonable(value: Any) -> Any:
    return format_ts(value) if isinstance(value, datetime) else value


def record(session: Session, row: DeclarativeBase, *, actor: str, action: str, subject: str,
           artifact_refs: Iterable[str] = ()) -> AuditEvent:
    """Insert a history row and the audit event that vouches for its content."""
    session.add(row)
    session.flush()
    table: Table = type(row).__table__  # type: ignore[attr-defined]
    values = {col.name: getattr(row, col.name) for col in table.columns}
    event = NewEvent(actor, action, subject, row_payload(table, values), ref_table=table.name,
                     ref_id=_pk(table, values), artifact_refs=tuple(artifact_refs))
    return append_many(session, [event])[0]


def record_many(session: Session, rows: Sequence[DeclarativeBase], *, actor: str,
                action: str, subject: str) -> list[AuditEvent]:
    """:func:`record` for many rows of one kind: one flush, one audit INSERT batch."""
    if not rows:
        return []
    session.add_all(rows)
    session.flush()
    events = []
    for row in rows:
        table: Table = type(row).__table__  # type: ignore[attr-defined]
        values = {col.name: getattr(row, col.name) for col in table.columns}
        events.append(NewEvent(actor, action, subject, row_payload(table, values),
                               ref_table=table.name, ref_id=_pk(table, values)))
    return append_many(session, events)


def row_check(session: Session, model: type[DeclarativeBase], row_id: str) -> str | None:
    """``None`` if the row's stored content is what its audit event hashed, else a code
    (``row_missing``, ``row_unvouched``, ``row_modified``) — one row's ``verify``."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    (key,) = table.primary_key.columns
    found = session.connection().execute(select(table).where(key == row_id)).first()
    if found is None:
        return "row_missing"
    vouched = session.execute(
        select(AuditEventRow.payload_hash)
        .where(AuditEventRow.ref_table == table.name, AuditEventRow.ref_id == str(row_id))
        .order_by(AuditEventRow.seq.desc()).limit(1)).scalar_one_or_none()
    if vouched is None:
        return "row_unvouched"
    text = canonical_payload(row_payload(table, found._mapping))
    return None if sha256_hex(text.encode("utf-8")) == vouched else "row_modified"


def _pk(table: Table, values: Mapping[str, Any]) -> str:
    (key,) = table.primary_key.columns  # every ledger table has a one-column key
    return str(values[key.name])


def _to_event(row: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        seq=row["seq"], ts=row["ts"], actor=row["actor"], action=row["action"],
        subject=row["subject"], payload_hash=row["payload_hash"], prev_hash=row["prev_hash"],
        hash=row["hash"], ref_table=row["ref_table"], ref_id=row["ref_id"],
        artifact_refs=tuple(row["artifact_refs"] or ()), payload=json.loads(row["payload"]))


def log(session: Session, subject: str | None = None) -> list[AuditEvent]:
    """Events in chain order, optionally only those about ``subject``."""
    query = select(AuditEventRow.__table__).order_by(AuditEventRow.seq)
    if subject is not None:
        query = query.where(AuditEventRow.subject == subject)
    return [_to_event(r._mapping) for r in session.execute(query)]


# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain stops vouching for the ledger."""

    seq: int
    table: str
    row_id: str
    code: str
    message: str


@dataclass(frozen=True)
class VerifyReport:
    events: int
    head_hash: str
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_json(self) -> dict[str, Any]:
        broken = None if self.broken is None else self.broken.__dict__
        return {"ok": self.ok, "events": self.events, "head_hash": self.head_hash,
                "broken": broken}


_T = AuditEventRow.__table__.c
# artifact_refs read as raw text: most events have none, and JSON-decoding "[]" 100k times
# is a third of verify's time.
_VERIFY_COLUMNS = (_T.seq, _T.ts, _T.actor, _T.action, _T.subject, _T.payload_hash,
                   _T.prev_hash, _T.hash, _T.payload, _T.ref_table, _T.ref_id,
                   cast(_T.artifact_refs, Text))


def verify(session: Session, artifacts: ArtifactStore | None = None, *,
           batch: int = 20_000) -> VerifyReport:
    """Recompute every link, every referenced row and artifact; stop at the first break."""
    expected_seq, prev = 1, GENESIS_HASH
    rows = _RowIndex(session)
    checked: set[str] = set()
    result = session.connection().execute(
        select(*_VERIFY_COLUMNS).order_by(_T.seq).execution_options(yield_per=batch))
    for ev in result:
        broken = _check_link(ev, expected_seq, prev)
        if broken is None and ev[9] is not None:
            broken = rows.check(ev[0], ev[9], ev[10], ev[5])
        if broken is None and artifacts is not None and ev[11] not in (None, "[]"):
            broken = _check_artifacts(ev[0], json.loads(ev[11]), artifacts, checked)
        if broken is not None:
            result.close()
            return VerifyReport(events=expected_seq - 1, head_hash=prev, broken=broken)
        expected_seq, prev = expected_seq + 1, ev[7]
    return VerifyReport(events=expected_seq - 1, head_hash=prev, broken=None)


def _audit_break(seq: int, code: str, message: str) -> BrokenLink:
    return BrokenLink(seq=seq, table="audit_events", row_id=str(seq), code=code, message=message)


def _check_link(ev: Any, expected_seq: int, prev: str) -> BrokenLink | None:
    seq, ts, actor, action, subject, payload_hash, prev_hash, digest, payload = ev[:9]
    if seq != expected_seq:
        return _audit_break(expected_seq, "seq_gap", f"expected seq {expected_seq}, "
                            f"found {seq}")
    if prev_hash != prev:
        return _audit_break(seq, "prev_hash_mismatch", "prev_hash does not match the "
                            "previous event's hash")
    if _sha256(payload.encode("utf-8")).hexdigest() != payload_hash:
        return _audit_break(seq, "payload_hash_mismatch", "payload does not match "
                            "payload_hash")
    header = _encode_header(seq, ts, actor, action, subject, payload_hash, prev_hash)
    if _sha256(header).hexdigest() != digest:
        return _audit_break(seq, "hash_mismatch", "event hash does not match its content")
    return None


def _check_artifacts(seq: int, refs: list[str], store: ArtifactStore,
                     checked: set[str]) -> BrokenLink | None:
    for digest in refs:
        if digest in checked:
            continue
        reason = store.check(digest)
        if reason is not None:
            return BrokenLink(seq=seq, table="artifacts", row_id=digest, code=reason,
                              message=f"artifact {digest[:12]}… is "
                              f"{reason.removeprefix('artifact_')}")
        checked.add(digest)
    return None


class _RowIndex:
    """Loads each referenced table once and compares rows with their events' payloads."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._tables: dict[str, dict[str, str]] = {}
        self._models = dict(Base.metadata.tables)

    def check(self, seq: int, table: str, row_id: str, payload_hash: str) -> BrokenLink | None:
        if table not in self._models:
            return _audit_break(seq, "unknown_table", f"event references table {table!r}")
        hashes = self._tables.get(table)
        if hashes is None:
            hashes = self._tables[table] = self._load(table)
        found = hashes.get(str(row_id))
        if found is None:
            return BrokenLink(seq, table, str(row_id), "row_missing",
                              f"{table} row {row_id} is gone")
        if found != payload_hash:
            return BrokenLink(seq, table, str(row_id), "row_modified",
                              f"{table} row {row_id} differs from what was recorded")
        return None

    def _load(self, table: str) -> dict[str, str]:
        # Core rows straight from the database, never objects cached in the session.
        model = self._models[table]
        out: dict[str, str] = {}
        for row in self._session.connection().execute(select(model)):
            values = row._mapping
            text = canonical_payload(row_payload(model, values))
            out[_pk(model, values)] = sha256_hex(text.encode("utf-8"))
        return out
