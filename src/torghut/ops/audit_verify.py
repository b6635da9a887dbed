"""``torghut audit pack verify DIR``: check an audit pack offline, from its files alone.

No workspace, ledger or network is read. Each check returns the problems it found:

* the manifest's own hash (``manifest.sha256``) and every listed file's sha256; a file that
  is missing or not listed is a problem too;
* every artifact's content against its sha256 name, and every artifact a row or event cites
  being present;
* every audit event: payload text → ``payload_hash``, header → ``hash``
  (:func:`torghut.ledger.audit.event_hash`), and the chain spine ``audit/chain.jsonl`` linking
  each included event to the recorded head;
* every ledger row against the payload hash of the event that vouches for it;
* every Ed25519 signed action against the public keys in ``gitops/identities.yaml``, and every
  row signature being one of those verified signatures;
* every gate decision re-evaluated from its packed inputs and policy to the same report hash
  (when the pack was made by this code version), and every gate result's hash;
* the control mapping recomputed from the pack's files.

An attacker who rewrites *every* file consistently can forge a pack; what anchors it is the
chain head hash in the manifest, which anyone can compare with the live ledger
(``torghut audit verify``) or a head published elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import torghut
from torghut.contracts.gates import GateInputs, GatePolicy, GateResult, Target
from torghut.contracts.governance import Identity, SignedAction
from torghut.errors import TorghutError
from torghut.gates.engine import evaluate
from torghut.governance.identities import parse_identities
from torghut.governance.refusal import Refusal
from torghut.governance.signing import verify as verify_signature
from torghut.lanes.validation import INPUT_MODELS
from torghut.ledger.audit import GENESIS_HASH, canonical_payload, event_hash, sha256_hex
from torghut.ledger.models import Base
from torghut.ops import controls
from torghut.ops import pack_layout as L
from torghut.ops.rollback import SUBJECT as ROLLBACK_SUBJECT

Event = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack: a stable code, the pack file, a one-line message."""

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.path}: {self.message}"


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.__dict__ for p in self.problems],
                "checked": self.checked, "notes": self.notes}


class _Pack:
    """Read-only access to a pack's files; a malformed file becomes a problem, not a crash."""

    def __init__(self, root: Path, out: Verification) -> None:
        self.root, self.out = root, out

    def problem(self, code: str, path: str, message: str) -> None:
        self.out.problems.append(Problem(code, path, message))

    def count(self, what: str, n: int = 1) -> None:
        self.out.checked[what] = self.out.checked.get(what, 0) + n

    def text(self, rel: str) -> str | None:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem("FILE_UNREADABLE", rel, str(exc))
            return None

    def json(self, rel: str, default: Any) -> Any:
        text = self.text(rel)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError as exc:
            self.problem("FILE_UNREADABLE", rel, f"not JSON: {exc}")
            return default

    def lines(self, rel: str) -> list[dict[str, Any]]:
        out = []
        for n, line in enumerate((self.text(rel) or "").splitlines(), 1):
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            if isinstance(value, dict):
                out.append(value)
            else:
                self.problem("FILE_UNREADABLE", rel, f"line {n} is not a JSON object")
        return out

    def artifact(self, digest: str) -> bytes | None:
        path = self.root / L.artifact_file(digest)
        return path.read_bytes() if path.is_file() else None


# ----------------------------------------------------------------------------- public


def verify_pack(path: Path) -> list[Problem]:
    """Every problem found in the pack at ``path`` (empty: it verifies)."""
    return check_pack(path).problems


def check_pack(path: Path) -> Verification:
    """:func:`verify_pack` with what was checked and any notes; bad input raises
    :class:`TorghutError` (not a folder, or no manifest at all: not an audit pack)."""
    if not path.is_dir():
        raise TorghutError("not a folder", file=path, field="DIR")
    if not (path / L.MANIFEST).is_file() and not (path / L.MANIFEST_HASH).is_file():
        raise TorghutError(f"not an audit pack (no {L.MANIFEST})", file=path, field="DIR")
    out = Verification()
    pack = _Pack(path, out)
    manifest = _check_manifest(pack)
    events = pack.lines(L.EVENTS)
    for step in (_check_events, _check_rows, _check_signatures, _check_artifact_refs,
                 _check_gates, _check_rollbacks, _check_controls):
        try:
            step(pack, manifest, events)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A file of the wrong shape (hand-edited JSON): a finding, never a traceback.
            pack.problem("PACK_MALFORMED", step.__name__.removeprefix("_check_"),
                         f"{type(exc).__name__}: {exc}")
    return out


# ----------------------------------------------------------------------------- files


def _check_manifest(pack: _Pack) -> dict[str, Any]:
    raw = (pack.root / L.MANIFEST).read_bytes() if (pack.root / L.MANIFEST).is_file() else None
    recorded = (pack.text(L.MANIFEST_HASH) or "").split()
    if raw is None:
        pack.problem("FILE_MISSING", L.MANIFEST, "the manifest is missing")
        return {}
    if not recorded or recorded[0] != hashlib.sha256(raw).hexdigest():
        pack.problem("MANIFEST_HASH_MISMATCH", L.MANIFEST,
                     f"sha256 differs from {L.MANIFEST_HASH}")
    manifest = pack.json(L.MANIFEST, {})
    if not isinstance(manifest, dict) or manifest.get("pack_format") != L.PACK_FORMAT:
        pack.problem("MANIFEST_UNREADABLE", L.MANIFEST, f"not a {L.PACK_FORMAT} manifest")
        return {}
    _check_files(pack, manifest.get("files") or [])
    return manifest


def _check_files(pack: _Pack, files: list[dict[str, Any]]) -> None:
    listed = {f["path"]: f["sha256"] for f in files}
    for rel, digest in sorted(listed.items()):
        path = pack.root / rel
        pack.count("files")
        if not path.is_file():
            pack.problem("FILE_MISSING", rel, "listed in the manifest but absent")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            pack.problem("FILE_MODIFIED", rel, "sha256 differs from the manifest")
    present = {p.relative_to(pack.root).as_posix() for p in pack.root.rglob("*") if p.is_file()}
    for rel in sorted(present - set(listed) - {L.MANIFEST, L.MANIFEST_HASH}):
        pack.problem("FILE_UNLISTED", rel, "not in the manifest")
    for rel in sorted(r for r in present if r.startswith(f"{L.ARTIFACTS_DIR}/")):
        name = rel.removeprefix(f"{L.ARTIFACTS_DIR}/")
        if hashlib.sha256((pack.root / rel).read_bytes()).hexdigest() != name:
            pack.problem("ARTIFACT_CORRUPTED", rel, "content does not match its sha256 name")


# ----------------------------------------------------------------------------- audit chain


def _header_hash(ev: Event) -> str | None:
    try:
        return event_hash({k: ev[k] for k in L.HEADER_FIELDS})
    except (KeyError, TypeError, ValueError):
        return None


def _check_events(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    for ev in events:
        pack.count("events")
        where = f"{L.EVENTS} seq {ev.get('seq')}"
        payload = ev.get("payload")
        if not isinstance(payload, str) or \
                sha256_hex(payload.encode("utf-8")) != ev.get("payload_hash"):
            pack.problem("EVENT_PAYLOAD_MISMATCH", where, "payload does not hash to "
                         "payload_hash")
        if _header_hash(ev) != ev.get("hash"):
            pack.problem("EVENT_HASH_MISMATCH", where, "hash does not match the header")
    _check_chain(pack, manifest, events)


def _check_chain(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    """The spine: contiguous headers, each hashing right and linking to the previous one,
    ending at the recorded head; every included event is on it, header for header."""
    chain = pack.lines(L.CHAIN)
    head = manifest.get("chain_head") or {}
    prev: dict[str, Any] | None = None
    for link in chain:
        pack.count("chain links")
        where = f"{L.CHAIN} seq {link.get('seq')}"
        if _header_hash(link) != link.get("hash"):
            pack.problem("CHAIN_HASH_MISMATCH", where, "hash does not match the header")
        if prev is not None and (link.get("seq") != prev.get("seq", 0) + 1
                                 or link.get("prev_hash") != prev.get("hash")):
            pack.problem("CHAIN_LINK_BROKEN", where, "does not follow the previous link")
        if prev is None and link.get("seq") == 1 and link.get("prev_hash") != GENESIS_HASH:
            pack.problem("CHAIN_LINK_BROKEN", where, "the first event must follow genesis")
        prev = link
    if events and (prev is None or prev.get("seq") != head.get("seq")
                   or prev.get("hash") != head.get("hash")):
        pack.problem("CHAIN_HEAD_MISMATCH", L.CHAIN, "the chain does not end at the "
                     "manifest's chain_head")
    spine = {link.get("seq"): link for link in chain}
    for ev in events:
        on = spine.get(ev.get("seq"))
        if on is None or any(on.get(k) != ev.get(k) for k in (*L.HEADER_FIELDS, "hash")):
            pack.problem("EVENT_NOT_ON_CHAIN", f"{L.EVENTS} seq {ev.get('seq')}",
                         "differs from the chain's header at that seq")


# ----------------------------------------------------------------------------- rows


def _table_files(manifest: dict[str, Any]) -> list[str]:
    prefix = f"{L.LEDGER_DIR}/"
    return sorted(f["path"] for f in manifest.get("files") or []
                  if f["path"].startswith(prefix) and f["path"].endswith(".json"))


def _rows(pack: _Pack, table: str) -> list[dict[str, Any]]:
    rows = pack.json(L.table_file(table), [])
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _check_rows(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    """Each row hashes to the payload of the latest event that vouches for it."""
    vouched: dict[tuple[str, str], str] = {}
    for ev in sorted(events, key=lambda e: e.get("seq", 0)):
        if ev.get("ref_table"):
            vouched[(ev["ref_table"], str(ev.get("ref_id")))] = ev.get("payload_hash", "")
    for rel in _table_files(manifest):
        table = rel.removeprefix(f"{L.LEDGER_DIR}/").removesuffix(".json")
        model = Base.metadata.tables.get(table)
        if model is None:
            pack.problem("UNKNOWN_TABLE", rel, f"no ledger table {table!r}")
            continue
        (key,) = model.primary_key.columns
        for row in _rows(pack, table):
            pack.count("rows")
            rid = str(row.get(key.name))
            digest = vouched.get((table, rid))
            where = f"{rel} {key.name}={rid}"
            if digest is None:
                pack.problem("ROW_UNVOUCHED", where, "no audit event in the pack vouches "
                             "for this row")
            elif sha256_hex(canonical_payload(row).encode("utf-8")) != digest:
                pack.problem("ROW_MODIFIED", where, "differs from what its audit event hashed")


# ----------------------------------------------------------------------------- signatures


class _Keys:
    """Registered public keys: main's at pack time, then main's earlier versions."""

    def __init__(self, pack: _Pack, manifest: dict[str, Any]) -> None:
        history = sorted(f["path"] for f in manifest.get("files") or []
                         if f["path"].startswith("gitops/identities@"))
        self.versions = [v for rel in (L.IDENTITIES, *history) if (v := self._read(pack, rel))]

    @staticmethod
    def _read(pack: _Pack, rel: str) -> dict[str, Identity]:
        text = pack.text(rel)
        if text is None:
            return {}
        try:
            return {i.name: i for i in parse_identities(text, file=rel).identities}
        except TorghutError as exc:
            pack.problem("FILE_UNREADABLE", rel, str(exc))
            return {}

    def identity(self, signed: SignedAction) -> Identity | None:
        """The version whose key signed it, else the current one (to refuse against)."""
        found = [v[signed.actor] for v in self.versions if signed.actor in v]
        match = [i for i in found if i.fingerprint == signed.public_key_sha256]
        best = match or found
        return best[0] if best else None


def _signed_actions(events: list[Event]) -> Iterator[tuple[Event, Any]]:
    for ev in events:
        try:
            payload = json.loads(ev.get("payload") or "{}")
        except ValueError:
            continue
        if isinstance(payload, dict) and "signed_action" in payload:
            yield ev, payload["signed_action"]


def _check_signatures(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    keys = _Keys(pack, manifest)
    good: set[str] = set()
    for ev, raw in _signed_actions(events):
        pack.count("signatures")
        where = f"{L.EVENTS} seq {ev.get('seq')}"
        try:
            signed = SignedAction.model_validate(raw)
        except ValidationError:
            pack.problem("SIGNATURE_UNREADABLE", where, "the signed action does not parse")
            continue
        if (signed.actor, signed.action, signed.subject) != \
                (ev.get("actor"), ev.get("action"), ev.get("subject")):
            pack.problem("SIGNED_ACTION_MISMATCH", where, "the signed action is not this "
                         "event's actor/action/subject")
        identity = keys.identity(signed)
        if identity is None:
            pack.problem("SIGNER_UNKNOWN", where, f"no public key for {signed.actor!r} in "
                         f"{L.IDENTITIES}")
            continue
        try:
            verify_signature(signed, identity)
        except Refusal as refusal:
            pack.problem(str(refusal.code), where, refusal.message)
            continue
        good.add(signed.signature)
    _check_row_signatures(pack, good)


def _check_row_signatures(pack: _Pack, good: set[str]) -> None:
    """A signature stored on a row must be one the pack verified."""
    for table in ("approvals", "pull_request_events", "kill_switch_events"):
        for row in _rows(pack, table):
            sig = row.get("signature")
            if sig and sig not in good:
                pack.problem("SIGNATURE_UNVERIFIED", f"{L.table_file(table)} id={row.get('id')}",
                             "no verified signed action in the pack carries this signature")


# ----------------------------------------------------------------------------- artifacts


def _cited(pack: _Pack, events: list[Event]) -> dict[str, str]:
    """Every artifact digest a row or event cites → where it is cited."""
    out: dict[str, str] = {}
    for ev in events:
        for ref in ev.get("artifact_refs") or []:
            out.setdefault(ref, f"{L.EVENTS} seq {ev.get('seq')}")
    for d in _rows(pack, "promotion_decisions"):
        where = f"{L.table_file('promotion_decisions')} id={d.get('id')}"
        for k, v in (d.get("input_hashes") or {}).items():
            if k not in ("absent", "reproduces") and isinstance(v, str):
                out.setdefault(v, where)
        if d.get("report_hash"):
            out.setdefault(d["report_hash"], where)
    for run in _rows(pack, "research_runs"):
        if run.get("bundle_hash"):
            out.setdefault(run["bundle_hash"], L.table_file("research_runs"))
    for pr in _rows(pack, "pull_requests"):
        for k in ("body_sha256", "evidence_sha256"):
            if pr.get(k):
                out.setdefault(pr[k], L.table_file("pull_requests"))
    return out


def _check_artifact_refs(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    for digest, where in sorted(_cited(pack, events).items()):
        pack.count("artifact refs")
        if not (pack.root / L.artifact_file(digest)).is_file():
            pack.problem("ARTIFACT_MISSING", where, f"cites artifact {digest} that the pack "
                         "does not hold")


# ----------------------------------------------------------------------------- gates


def _model(pack: _Pack, digest: Any, parse: Callable[[bytes], Any]) -> Any:
    data = pack.artifact(str(digest)) if digest else None
    return None if data is None else parse(data)


def _check_gates(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    for g in _rows(pack, "gate_results"):
        pack.count("gate results")
        try:
            same = GateResult.model_validate(g.get("result")).content_hash() == g.get(
                "result_hash")
        except ValidationError:
            same = False
        if not same:
            pack.problem("GATE_RESULT_MISMATCH", f"{L.table_file('gate_results')} "
                         f"id={g.get('id')}", "result does not hash to result_hash")
    for d in _rows(pack, "promotion_decisions"):
        if d.get("report_hash"):
            _recompute(pack, d)


def _recompute(pack: _Pack, d: dict[str, Any]) -> None:
    """Evaluate the packed inputs under the packed policy at the recorded time."""
    where = f"{L.table_file('promotion_decisions')} id={d.get('id')}"
    if d.get("code_version") != torghut.__version__:
        pack.out.notes.append(f"decision {str(d.get('id'))[:12]}… was made by torghut "
                              f"{d.get('code_version')}; not re-evaluated by "
                              f"{torghut.__version__}")
        return
    hashes = d.get("input_hashes") or {}
    try:
        values = {name: _model(pack, hashes.get(name), model.model_validate_json)
                  for name, model in INPUT_MODELS.items()}
        policy = _model(pack, hashes.get("policy"), GatePolicy.model_validate_json)
        inputs = GateInputs(candidate_id=d["candidate_id"], absent=hashes.get("absent") or {},
                            **{k: v for k, v in values.items() if v is not None})
        again = evaluate(inputs, Target(d["target"]), policy,
                         evaluated_at=datetime.fromisoformat(d["decided_at"]))
    except (ValidationError, TorghutError, KeyError, ValueError, TypeError) as exc:
        pack.problem("GATE_RECOMPUTE_FAILED", where, f"cannot re-evaluate: "
                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return
    pack.count("decisions re-evaluated")
    if again.content_hash() != d["report_hash"]:
        pack.problem("GATE_RECOMPUTE_MISMATCH", where, "re-evaluating the packed inputs "
                     "gives another report")


# ----------------------------------------------------------------------------- rollbacks


def _check_rollbacks(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    """``audit/rollbacks.json`` lists exactly the packed rollback events (GitOps main)."""
    listed = pack.json(L.ROLLBACKS, [])
    actual = sorted(ev["seq"] for ev in events if ev.get("subject") == ROLLBACK_SUBJECT)
    if listed != actual:
        pack.problem("ROLLBACKS_MISMATCH", L.ROLLBACKS, f"lists {listed}, the packed "
                     f"rollback events are {actual}")


# ----------------------------------------------------------------------------- controls


def _check_controls(pack: _Pack, manifest: dict[str, Any], events: list[Event]) -> None:
    recorded = pack.json(L.CONTROLS, None)
    if recorded is None:
        return
    before = {f["path"] for f in manifest.get("files") or []} - {L.CONTROLS, L.REPORT}
    counts = {rel: _record_count(pack.root / rel) for rel in sorted(before)
              if (pack.root / rel).is_file()}
    again = controls.mapping(counts, controls.risk_counts(_rows(pack, "risk_decisions")))
    for cid in sorted(set(recorded) | set(again)):
        pack.count("controls")
        if recorded.get(cid) != again.get(cid):
            pack.problem("CONTROL_MAPPING_MISMATCH", f"{L.CONTROLS} {cid}",
                         "does not match the evidence the pack's files hold")


def _record_count(path: Path) -> int:
    try:
        return controls.record_count(path)
    except (ValueError, UnicodeDecodeError):
        return 0  # unreadable: already a problem of its own, and it evidences nothing
