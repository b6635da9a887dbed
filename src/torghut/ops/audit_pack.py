"""``torghut audit pack``: a self-verifying evidence package for one candidate or incident.

plan-details.md "Evidence package": run metadata, the strategy/config diff, dataset
manifests, gate outputs, the decision with its artifact pointers, shadow/paper metrics, risk
and execution logs, approvals with their signatures, and the sha256 of every artifact and of
the manifest. The pack is everything an auditor needs *without* the workspace:

* ``ledger/<table>.json`` — the ledger rows that concern the subject, as the plain JSON their
  audit events hashed (so each row can be checked against its event);
* ``audit/events.jsonl`` — every audit event about the subject or vouching for an included
  row, with its canonical payload text; ``audit/chain.jsonl`` — the header of every event
  from the first included one to the chain head, so the slice provably links to the head;
* ``artifacts/<sha256>`` — every blob a row or event cites (bundle, gate inputs, reports,
  PR bodies, paper/TCA evidence), ``datasets/<id>/manifest.json``;
* ``gitops/pr-<n>.diff`` (``git diff base..head`` of each pull request) and
  ``gitops/identities.yaml`` (public keys only — never a private key);
* ``metadata.json``, ``controls.json`` (the compliance mapping), ``report.md``;
* ``manifest.json`` (every file's sha256) and ``manifest.sha256``.

This module gathers (the I/O edge); :mod:`torghut.ops.audit_verify` checks a pack offline.
The pack is staged in a temporary folder and renamed into place: it is complete or absent,
and an existing non-empty ``out`` is refused (packs are write-once).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

import torghut
from torghut.contracts.research import MetricsBundle
from torghut.errors import NotFoundError, TorghutError
from torghut.fsutil import atomic_write_text, file_sha256, staging_dir
from torghut.gitops.repo import MAIN, git, show
from torghut.governance.identities import IDENTITIES_PATH
from torghut.lanes.validation import find_candidate
from torghut.ledger import Ledger, audit
from torghut.ledger.models import (
    Approval,
    AuditEventRow,
    Base,
    Candidate,
    FillRow,
    FoldMetric,
    GateResultRow,
    Incident,
    IncidentRecordRow,
    KillSwitchEvent,
    OrderEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
    ResearchRun,
    RiskDecisionRow,
    RuntimeSession,
    StressMetric,
    Trial,
)
from torghut.ops import controls
from torghut.ops import pack_layout as L
from torghut.ops.pack_report import render_report
from torghut.ops.rollback import SUBJECT as ROLLBACK_SUBJECT
from torghut.workspace import Workspace

Rows = dict[str, list[dict[str, Any]]]
_CHUNK = 500
_INCIDENT_MARGIN_S = 3600.0  # kill-switch events and rollbacks this close count as "around"


@dataclass(frozen=True)
class PackResult:
    path: Path
    kind: str  # candidate | incident
    subject: str  # the full candidate or incident id
    files: int
    events: int
    manifest_sha256: str
    chain_head: dict[str, Any]
    missing_artifacts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "subject": self.subject,
                "files": self.files, "events": self.events,
                "manifest_sha256": self.manifest_sha256, "chain_head": self.chain_head,
                "missing_artifacts": list(self.missing_artifacts)}


@dataclass
class _Gathered:
    """Everything read from the ledger in one snapshot, before anything is written."""

    kind: str
    subject: str
    rows: Rows
    events: list[dict[str, Any]]
    chain: list[dict[str, Any]]
    head: dict[str, Any]
    metadata: dict[str, Any]
    artifacts: set[str] = field(default_factory=set)
    dataset_ids: set[str] = field(default_factory=set)


# ----------------------------------------------------------------------------- public


def build_pack(ws: Workspace, ledger: Ledger, *, candidate: str | None,
               incident: str | None, out: Path, now: datetime | None = None) -> PackResult:
    """Gather the evidence for ``candidate`` or ``incident`` and write the pack at ``out``."""
    # control: SEC-10 (a dated review record with control-test evidence, from the ledger)
    if (candidate is None) == (incident is None):
        raise TorghutError("give exactly one of --candidate or --incident",
                           field="--candidate/--incident")
    _refuse_existing(out)
    with ledger.read() as session:
        if candidate is not None:
            got = _gather_candidate(ledger, session, candidate)
        else:
            got = _gather_incident(session, str(incident))
    got.metadata["created_at"] = audit.format_ts(now or datetime.now(UTC))
    got.metadata["torghut_version"] = torghut.__version__
    return _write(ws, ledger, got, out)


def _refuse_existing(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TorghutError("already exists and is not empty; audit packs are write-once",
                           file=out, field="--out")


# ----------------------------------------------------------------------------- reading


def _table(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


def _select(session: Session, model: type[Base], *where: Any) -> list[dict[str, Any]]:
    """Rows straight from the database (every column, whatever migration added it), as the
    plain JSON their audit events hash, in primary-key order."""
    table = _table(model)
    (key,) = table.primary_key.columns
    result = session.connection().execute(select(table).where(*where).order_by(key))
    return [audit.row_payload(table, dict(r._mapping)) for r in result]


def _in(column: Any, values: Iterable[Any]) -> list[Any]:
    """``column IN values`` in chunks (SQLite caps bound parameters)."""
    items = sorted(set(values), key=str)
    return [column.in_(items[i:i + _CHUNK]) for i in range(0, len(items), _CHUNK)] or [False]


def _select_in(session: Session, model: type[Base], column: Any,
               values: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for clause in _in(column, values):
        out += _select(session, model, clause)
    return out


def _bundle(ledger: Ledger, digest: str | None) -> MetricsBundle | None:
    if digest is None or ledger.artifacts.check(digest) is not None:
        return None
    return MetricsBundle.model_validate_json(ledger.artifacts.get(digest))


def _gather_candidate(ledger: Ledger, session: Session, ref: str) -> _Gathered:
    cand = find_candidate(session, ref)
    cid = cand.id
    rows: Rows = {
        "candidates": _select(session, Candidate, Candidate.id == cid),
        "research_runs": _select(session, ResearchRun, ResearchRun.id == cand.run_id),
        "trials": _select(session, Trial, Trial.run_id == cand.run_id),
        "fold_metrics": _select(session, FoldMetric, FoldMetric.candidate_id == cid),
        "stress_metrics": _select(session, StressMetric, StressMetric.candidate_id == cid),
        "promotion_decisions": _select(session, PromotionDecision,
                                       PromotionDecision.candidate_id == cid),
        "gate_results": _select(session, GateResultRow, GateResultRow.candidate_id == cid),
        "promotions": _select(session, Promotion, Promotion.candidate_id == cid),
        "pull_requests": _select(session, PullRequest, PullRequest.candidate_id == cid),
    }
    rows["approvals"] = _select_in(session, Approval, Approval.promotion_id,
                                   [p["id"] for p in rows["promotions"]])
    rows["pull_request_events"] = _select_in(session, PullRequestEvent,
                                             PullRequestEvent.pull_request_id,
                                             [p["id"] for p in rows["pull_requests"]])
    run = rows["research_runs"][0]
    bundle = _bundle(ledger, run["bundle_hash"])
    strategy_id = bundle.candidate.name if bundle is not None else None
    if strategy_id is not None:
        rows.update(_runtime_rows(session, strategy_id))
    subjects = {f"candidate:{cid}", f"research_run:{cand.run_id}",
                *(f"pr:{p['id']}" for p in rows["pull_requests"]),
                *(f"decision:{d['id']}" for d in rows["promotion_decisions"]),
                *(f"kill_switch:{k['scope']}" for k in rows.get("kill_switch_events", []))}
    light = {f"session:{s['id']}" for s in rows.get("runtime_sessions", [])}
    events = _events(session, rows, subjects, light)
    events += [e for e in _subject_events(session, ROLLBACK_SUBJECT)
               if cid in _json_strings(e["payload_obj"]) and e not in events]
    got = _finish_gather(session, "candidate", cid, rows, events)
    got.metadata.update(_candidate_metadata(cand, run, bundle, rows))
    got.artifacts |= _row_artifacts(rows)
    got.dataset_ids.add(run["dataset_id"])
    return got


def _runtime_rows(session: Session, strategy_id: str) -> Rows:
    """Sessions that ran the strategy, its risk decisions, orders and fills, and the kill
    switch events of its scope and the firm's."""
    risk = _select(session, RiskDecisionRow, RiskDecisionRow.strategy_id == strategy_id)
    orders = _select(session, OrderEvent, OrderEvent.strategy_id == strategy_id)
    fills = _select(session, FillRow, FillRow.strategy_id == strategy_id)
    ran = {r["session_id"] for r in (*risk, *orders, *fills) if r["session_id"]}
    sessions = [s for s in _select(session, RuntimeSession)
                if s["id"] in ran or strategy_id in (s["summary"] or {}).get("strategies", {})]
    kills = _select(session, KillSwitchEvent,
                    KillSwitchEvent.scope.in_([f"strategy:{strategy_id}", "firm"]))
    return {"runtime_sessions": sessions, "risk_decisions": risk, "order_events": orders,
            "fills": fills, "kill_switch_events": kills}


def _gather_incident(session: Session, ref: str) -> _Gathered:
    incidents = _select(session, Incident, Incident.incident_id == ref)
    if not incidents:
        raise NotFoundError(f"no incident {ref!r} in the ledger", field="--incident")
    times = [_parse_ts(r["created_at"]) for r in incidents]
    lo, hi = min(times), max(times)
    kills = [k for k in _select(session, KillSwitchEvent)
             if k["incident_id"] == ref or _near(_parse_ts(k["created_at"]), lo, hi)]
    rolled = [p for p in _select(session, Promotion, Promotion.state == "rolled_back")
              if _near(_parse_ts(p["created_at"]), lo, hi)]
    records = _select(session, IncidentRecordRow, IncidentRecordRow.incident_id == ref)
    rows: Rows = {"incidents": incidents, "incident_records": records,
                  "kill_switch_events": kills, "promotions": rolled}
    events = _events(session, rows, {f"incident:{ref}"}, set())
    around = {ROLLBACK_SUBJECT, *(f"kill_switch:{k['scope']}" for k in kills)}
    for subject in sorted(around):  # the signed actions and rollbacks of the same hours
        events += [e for e in _subject_events(session, subject)
                   if _near(_parse_ts(e["ts"]), lo, hi)]
    events += _mentioning(session, ref)
    got = _finish_gather(session, "incident", ref, rows, events)
    got.metadata.update({"incident_id": ref, "first_seen": audit.format_ts(lo),
                         "last_update": audit.format_ts(hi),
                         "latest": {k: incidents[-1][k] for k in incidents[-1]
                                    if k not in ("evidence",)}})
    got.artifacts |= _row_artifacts(rows)
    return got


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _near(moment: datetime, lo: datetime, hi: datetime) -> bool:
    return (lo - moment).total_seconds() <= _INCIDENT_MARGIN_S and \
        (moment - hi).total_seconds() <= _INCIDENT_MARGIN_S


def _unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seq = {e["seq"]: e for e in events}
    return [by_seq[s] for s in sorted(by_seq)]


# ----------------------------------------------------------------------------- events


_E = AuditEventRow.__table__.c


def _event(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event as packed: header, hash, references and the exact canonical payload text
    (``payload_obj`` is a parsed copy for the builder only, never written)."""
    out = {k: row[k] for k in (*L.HEADER_FIELDS, "hash", "ref_table", "ref_id", "payload")}
    out["artifact_refs"] = list(row["artifact_refs"] or [])
    out["payload_obj"] = json.loads(row["payload"])
    return out


def _query_events(session: Session, *where: Any) -> list[dict[str, Any]]:
    result = session.connection().execute(select(AuditEventRow.__table__).where(*where))
    return [_event(dict(r._mapping)) for r in result]


def _subject_events(session: Session, subject: str) -> list[dict[str, Any]]:
    return _query_events(session, _E.subject == subject)


def _events(session: Session, rows: Rows, subjects: set[str],
            light: set[str]) -> list[dict[str, Any]]:
    """Events about ``subjects``; for ``light`` subjects (busy runtime sessions) only those
    without a row (the signed session action, the session record); plus every event that
    vouches for an included row."""
    found: list[dict[str, Any]] = []
    for clause in _in(_E.subject, subjects):
        found += _query_events(session, clause)
    for clause in _in(_E.subject, light):
        found += _query_events(session, clause, _E.ref_table.is_(None))
    for table, items in rows.items():
        key = _pk_name(table)
        for clause in _in(_E.ref_id, [str(r[key]) for r in items]):
            found += _query_events(session, clause, _E.ref_table == table)
    return _unique(found)


def _mentioning(session: Session, value: str) -> list[dict[str, Any]]:
    """Events whose payload holds ``value`` as a string (a LIKE prefilter, then exact)."""
    hits = _query_events(session, _E.payload.contains(value))
    return [e for e in hits if value in _json_strings(e["payload_obj"])]


def _json_strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_json_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_json_strings(v) for v in value)) if value else set()
    return set()


def _pk_name(table: str) -> str:
    (key,) = Base.metadata.tables[table].primary_key.columns
    return str(key.name)


def _chain(session: Session, first_seq: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Headers from ``first_seq`` to the head, and the head itself."""
    cols = [_E[k] for k in (*L.HEADER_FIELDS, "hash")]
    result = session.connection().execute(select(*cols).where(_E.seq >= first_seq)
                                          .order_by(_E.seq))
    chain = [dict(r._mapping) for r in result]
    head_row = session.connection().execute(
        select(_E.seq, _E.hash).order_by(_E.seq.desc()).limit(1)).first()
    head = ({"seq": 0, "hash": audit.GENESIS_HASH} if head_row is None
            else {"seq": head_row.seq, "hash": head_row.hash})
    return chain, head


def _finish_gather(session: Session, kind: str, subject: str, rows: Rows,
                   events: list[dict[str, Any]]) -> _Gathered:
    events = _unique(events)
    first = events[0]["seq"] if events else None
    chain, head = _chain(session, first) if first is not None else ([], _chain(session, 1)[1])
    got = _Gathered(kind=kind, subject=subject, rows=rows, events=events, chain=chain,
                    head=head, metadata={"kind": kind, "subject": subject})
    got.artifacts |= {ref for e in events for ref in e["artifact_refs"]}
    return got


# ----------------------------------------------------------------------------- artifacts


def _row_artifacts(rows: Rows) -> set[str]:
    """Every blob a row cites: bundles, gate inputs and reports, PR bodies, session files."""
    refs: set[str] = set()
    for run in rows.get("research_runs", []):
        refs.add(run["bundle_hash"])
    for d in rows.get("promotion_decisions", []):
        refs |= {v for k, v in (d["input_hashes"] or {}).items()
                 if k not in ("absent", "reproduces") and isinstance(v, str)}
        refs.add(d["report_hash"])
    for pr in rows.get("pull_requests", []):
        refs |= {pr["body_sha256"], pr["evidence_sha256"]}
    for s in rows.get("runtime_sessions", []):
        refs |= set(s["artifact_refs"] or [])
    for i in rows.get("incidents", []):
        refs |= {v for v in (i.get("evidence") or []) if isinstance(v, str)}
    return {r for r in refs if isinstance(r, str) and _is_digest(r)}


def _is_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _candidate_metadata(cand: Candidate, run: Mapping[str, Any], bundle: MetricsBundle | None,
                        rows: Rows) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "candidate_id": cand.id, "run_id": cand.run_id,
        "strategy": f"{cand.strategy_type}@{cand.strategy_version}",
        "params": cand.params, "dataset_id": run["dataset_id"],
        "execution_model_id": run["execution_model_id"], "cost_model_id": run["cost_model_id"],
        "code_version": run["code_version"],
        "feature_schema_version": run["feature_schema_version"], "seed": run["seed"],
        "started_at": run["started_at"], "finished_at": run["finished_at"],
        "policy_versions": sorted({f"{d['policy_version']} {d['policy_checksum']}"
                                   for d in rows["promotion_decisions"]}),
    }
    if bundle is not None:
        meta["strategy_id"] = bundle.candidate.name
        meta["spec_hash"] = bundle.inputs.candidate_hash
    return meta


# ----------------------------------------------------------------------------- writing


def _write(ws: Workspace, ledger: Ledger, got: _Gathered, out: Path) -> PackResult:
    missing: list[str] = []
    with staging_dir(out) as tmp:
        _put(tmp, L.METADATA, L.dumps(got.metadata))
        for table, items in sorted(got.rows.items()):
            _put(tmp, L.table_file(table), L.dumps(items))
        _put(tmp, L.EVENTS, L.dumps_lines([_packed(e) for e in got.events]))
        _put(tmp, L.CHAIN, L.dumps_lines(got.chain))
        _put(tmp, L.ROLLBACKS, L.dumps([e["seq"] for e in got.events
                                        if e["subject"] == ROLLBACK_SUBJECT]))
        for digest in sorted(got.artifacts):
            if ledger.artifacts.check(digest) is None:
                _put_bytes(tmp, L.artifact_file(digest), ledger.artifacts.get(digest))
            else:
                missing.append(digest)
        _copy_datasets(ws, got.dataset_ids, tmp)
        _write_gitops(ws, got.rows.get("pull_requests", []), tmp)
        controls_doc = _controls(tmp, got.rows)
        _put(tmp, L.CONTROLS, L.dumps(controls_doc))
        _put(tmp, L.REPORT, render_report(got.metadata, got.rows, got.head, controls_doc,
                                          _file_table(tmp), missing))
        manifest = _manifest(tmp, got, missing)
        text = L.dumps(manifest)
        _put(tmp, L.MANIFEST, text)
        digest = file_sha256(tmp / L.MANIFEST)
        _put(tmp, L.MANIFEST_HASH, L.manifest_hash_line(digest))
        _make_read_only(tmp)
    return PackResult(path=out, kind=got.kind, subject=got.subject,
                      files=len(manifest["files"]), events=len(got.events),
                      manifest_sha256=digest, chain_head=got.head,
                      missing_artifacts=tuple(missing))


def _packed(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "payload_obj"}


def _put(root: Path, rel: str, text: str) -> None:
    atomic_write_text(root / rel, text)


def _put_bytes(root: Path, rel: str, data: bytes) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _copy_datasets(ws: Workspace, dataset_ids: Iterable[str], root: Path) -> None:
    for dataset_id in sorted(dataset_ids):
        source = ws.datasets_dir / dataset_id / "manifest.json"
        if source.is_file():
            target = root / "datasets" / dataset_id / "manifest.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _write_gitops(ws: Workspace, prs: Sequence[Mapping[str, Any]], root: Path) -> None:
    """Each pull request's diff from the real GitOps repo, and main's public keys."""
    repo = ws.gitops_dir
    for pr in prs:
        try:
            diff = git(repo, "diff", "--no-color", "--full-index", pr["base_sha"],
                       pr["head_sha"])
        except TorghutError as exc:
            diff = f"# diff unavailable: {exc}\n"
        _put(root, L.pr_diff_file(pr["id"]), diff)
    identities = show(repo, IDENTITIES_PATH, MAIN)
    if identities is None:
        return
    _put(root, L.IDENTITIES, identities)
    seen = {identities}
    commits = git(repo, "log", "--format=%H", MAIN, "--", IDENTITIES_PATH).split()
    for commit in commits:  # earlier versions: signatures made before a key was rotated
        text = show(repo, IDENTITIES_PATH, commit)
        if text is not None and text not in seen:
            seen.add(text)
            _put(root, L.identities_history_file(commit), text)


def _controls(root: Path, rows: Rows) -> dict[str, Any]:
    counts = {rel: controls.record_count(root / rel) for rel in _relative_files(root)}
    return controls.mapping(counts, controls.risk_counts(rows.get("risk_decisions", [])))


def _relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _file_table(root: Path) -> list[tuple[str, str]]:
    return [(rel, file_sha256(root / rel)) for rel in _relative_files(root)]


def _manifest(root: Path, got: _Gathered, missing: list[str]) -> dict[str, Any]:
    files = [{"path": rel, "sha256": file_sha256(root / rel),
              "bytes": (root / rel).stat().st_size} for rel in _relative_files(root)]
    seqs = [e["seq"] for e in got.events]
    return {"pack_format": L.PACK_FORMAT, "kind": got.kind, "subject": got.subject,
            "created_at": got.metadata["created_at"],
            "torghut_version": got.metadata["torghut_version"],
            "chain_head": got.head,
            "events": {"count": len(seqs), "first_seq": min(seqs, default=None),
                       "last_seq": max(seqs, default=None)},
            "missing_artifacts": sorted(missing), "files": files}


def _make_read_only(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(0o444)
