"""Audit packs end to end: a candidate taken through research → gates → sign-off → propose →
approve → merge → a paper session, packed, verified offline after the workspace is gone, then
tampered with in every way the issue names (edit a file, edit an event payload, swap a
signature, drop a file) — each detected.

Building runs on SQLite and on PostgreSQL (``$TORGHUT_TEST_POSTGRES_URL``); the tamper tests
share one SQLite-built pack (copied per test) because verifying never touches a database.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.lanes.lane_helpers import edge_workspace
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.runtime.test_runtime_config import commit_main
from tests.support import assert_one_line_error, run_torghut, tree_snapshot
from torghut.contracts.gates import Target
from torghut.gates import default_policy
from torghut.gitops.repo import show
from torghut.governance.identities import IDENTITIES_PATH, lookup
from torghut.governance.keys import public_key_b64
from torghut.lanes import promotion
from torghut.lanes.research import record_run
from torghut.lanes.validation import evaluate_candidate
from torghut.ledger import audit, open_ledger
from torghut.ledger.audit import event_hash, sha256_hex
from torghut.ops import pack_layout as L
from torghut.ops.audit_pack import PackResult, build_pack
from torghut.ops.audit_verify import check_pack, verify_pack
from torghut.ops.rollback import rollback
from torghut.research.run import ResearchRun as FinishedRun
from torghut.runtime.session import SessionRequest, run_session
from torghut.workspace import Workspace, init_workspace

STRATEGY = "tsmom-pack"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FinishedRun]:
    return edge_workspace(tmp_path_factory.mktemp("packsrc") / "ws", STRATEGY)


def promote(ws: Workspace, run: FinishedRun, *, paper: bool = False) -> str:
    """research → gates → sign-off → propose → approve → merge (→ a paper session, then a
    rollback of the promotion)."""
    with open_ledger(ws) as book:
        record_run(book, run, actor="research-agent")
        cid = _only_candidate(book)
        evaluate_candidate(ws, book, cid, Target.PAPER, default_policy(),
                           now=datetime.now(UTC), actor="validation-agent", sign=True)
        promotion.signoff(ws, book, cid, as_identity="validation-agent")
        pr = promotion.propose(ws, book, cid, as_identity="promotion-agent")
        promotion.approve(ws, book, pr.pr_id, as_identity="alice", reason="limits reviewed")
        promotion.merge(ws, book, pr.pr_id, as_identity="promotion-agent")
        if paper:
            run_session(ws, book, SessionRequest(dataset="synth-edge",
                                                 as_identity="validation-agent"))
            rollback(ws, book, last_approved=True, as_identity="oscar")
    return cid


def _only_candidate(book: Any) -> str:
    from sqlalchemy import text

    with book.read() as s:
        return str(s.execute(text("SELECT id FROM candidates")).scalar_one())


def rotate_key(ws: Workspace, name: str) -> None:
    """Register a new public key for ``name`` on main (the old one stays in main's history)."""
    old = lookup(ws.gitops_dir, name).public_key
    text = show(ws.gitops_dir, IDENTITIES_PATH)
    assert text is not None and old in text
    new = public_key_b64(Ed25519PrivateKey.generate())
    commit_main(ws, {IDENTITIES_PATH: text.replace(old, new)})


def _fresh(ws: Workspace, source: tuple[Workspace, FinishedRun]) -> Workspace:
    shutil.copytree(source[0].datasets_dir, ws.datasets_dir, dirs_exist_ok=True)
    return ws


def pack_of(ws: Workspace, cid: str, out: Path) -> PackResult:
    with open_ledger(ws) as book:
        return build_pack(ws, book, candidate=cid[:12], incident=None, out=out)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory,
          source: tuple[Workspace, FinishedRun]) -> tuple[Path, str]:
    """One SQLite-built pack (with a paper session); its workspace is deleted afterwards."""
    root = tmp_path_factory.mktemp("built")
    ws = _fresh(init_workspace(root / "ws"), source)
    cid = promote(ws, source[1], paper=True)
    result = pack_of(ws, cid, root / "pack")
    secrets = [p.read_text().strip() for p in ws.keys_dir.glob("*.key")]
    assert secrets
    for path in result.path.rglob("*"):  # never a private key, in any form
        if path.is_file():
            assert not any(s in path.read_text(errors="replace") for s in secrets), path
    shutil.rmtree(ws.root)
    return result.path, cid


@pytest.fixture
def pack(built: tuple[Path, str], tmp_path: Path) -> Path:
    """A writable copy of the built pack, to tamper with."""
    return writable_copy(built[0], tmp_path / "pack")


def writable_copy(source: Path, target: Path) -> Path:
    """Packs are written read-only; a forger's copy is not."""
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def codes(pack_dir: Path) -> set[str]:
    return {p.code for p in verify_pack(pack_dir)}


# ----------------------------------------------------------------------------- building


def test_pack_builds_on_both_backends_and_verifies_without_the_workspace(
        ledger_ws: Workspace, source: tuple[Workspace, FinishedRun],  # noqa: F811
        tmp_path: Path) -> None:
    ws = _fresh(ledger_ws, source)
    cid = promote(ws, source[1])
    rotate_key(ws, "alice")  # her approval was signed with the key main no longer holds
    result = pack_of(ws, cid, tmp_path / "pack")
    with open_ledger(ws) as book, book.read() as s:
        head = audit.verify(s).head_hash
    moved = shutil.move(str(ws.root), str(tmp_path / "gone"))
    shutil.rmtree(moved)
    assert result.subject == cid and result.chain_head["hash"] == head
    assert result.missing_artifacts == ()
    assert verify_pack(result.path) == []
    history = list(result.path.glob("gitops/identities@*.yaml"))
    assert history and any("alice" in p.read_text() for p in history)
    without = writable_copy(result.path, tmp_path / "without-history")
    for path in without.glob("gitops/identities@*.yaml"):
        path.unlink()
    reseal(without)
    assert codes(without) == {"KEY_MISMATCH", "SIGNATURE_UNVERIFIED"}
    # sha256sum can check the manifest too
    assert subprocess.run(["sha256sum", "-c", L.MANIFEST_HASH], cwd=result.path,
                          capture_output=True).returncode == 0


def test_pack_holds_the_evidence_package(built: tuple[Path, str]) -> None:
    # control: SEC-10 (the pack is the dated review record with the control mapping)
    root, cid = built
    manifest = json.loads((root / L.MANIFEST).read_text())
    paths = {f["path"] for f in manifest["files"]}
    for table in ("candidates", "research_runs", "trials", "fold_metrics", "stress_metrics",
                  "promotion_decisions", "gate_results", "promotions", "approvals",
                  "pull_requests", "pull_request_events", "runtime_sessions",
                  "risk_decisions", "order_events", "fills"):
        assert L.table_file(table) in paths, table
    rows = {t: json.loads((root / L.table_file(t)).read_text())
            for t in ("approvals", "pull_requests", "runtime_sessions", "promotion_decisions",
                      "research_runs", "fills")}
    assert [a["approver"] for a in rows["approvals"]] == ["alice"]
    assert rows["approvals"][0]["signature"]
    assert rows["fills"], "the paper session traded the promoted strategy"
    diff = (root / L.pr_diff_file(rows["pull_requests"][0]["id"])).read_text()
    assert "apps/torghut/strategy-catalog.yaml" in diff and STRATEGY in diff
    cited = {rows["research_runs"][0]["bundle_hash"],
             rows["promotion_decisions"][0]["report_hash"],
             *rows["runtime_sessions"][0]["artifact_refs"]}
    assert {L.artifact_file(d) for d in cited} <= paths
    assert any(p.startswith("datasets/") and p.endswith("manifest.json") for p in paths)
    identities = (root / L.IDENTITIES).read_text()
    assert "alice" in identities
    assert not any(p.startswith("keys/") or p.endswith(".key") for p in paths)
    events = [json.loads(x) for x in (root / L.EVENTS).read_text().splitlines()]
    actions = {e["action"] for e in events}
    assert {"research.candidate.record", "gates.decision.record", "validation.signoff",
            "promotion.propose", "promotion.approve", "promotion.merge",
            "runtime.session.recorded"} <= actions
    assert manifest["chain_head"]["seq"] >= max(e["seq"] for e in events)
    mapping = json.loads((root / L.CONTROLS).read_text())
    assert json.loads((root / L.ROLLBACKS).read_text()), "the rollback that undid it"
    assert json.loads((root / L.table_file("promotions")).read_text())[-1]["state"] == \
        "rolled_back"
    for control in ("RTS-5", "SEC-9", "RTS-28", "RTS-11", "FIA-6", "SEC-10"):
        assert mapping[control]["status"] == "evidenced", control
    assert mapping["AI-S1"]["status"] == "not_evidenced_in_pack"
    report = (root / L.REPORT).read_text()
    assert cid in report and "| RTS-5 |" in report and "alice" in report
    check = check_pack(root)
    assert check.checked["signatures"] >= 5 and check.checked["decisions re-evaluated"] >= 1


# ----------------------------------------------------------------------------- tampering


def _writable_text(path: Path, text: str) -> None:
    path.chmod(0o644)
    path.write_text(text)


def reseal(root: Path) -> None:
    """What a smarter forger does after an edit: rewrite the manifest and its hash."""
    manifest = json.loads((root / L.MANIFEST).read_text())
    files = []
    for entry in manifest["files"]:
        p = root / entry["path"]
        if p.is_file():
            data = p.read_bytes()
            files.append({**entry, "sha256": hashlib.sha256(data).hexdigest(),
                          "bytes": len(data)})
    manifest["files"] = files
    _writable_text(root / L.MANIFEST, L.dumps(manifest))
    digest = hashlib.sha256((root / L.MANIFEST).read_bytes()).hexdigest()
    _writable_text(root / L.MANIFEST_HASH, L.manifest_hash_line(digest))


def _edit_events(root: Path, action: str, change: Callable[[dict[str, Any]], None], *,
                 rehash: bool) -> None:
    lines = (root / L.EVENTS).read_text().splitlines()
    out = []
    for line in lines:
        ev = json.loads(line)
        if ev["action"] == action:
            payload = json.loads(ev["payload"])
            change(payload)
            ev["payload"] = audit.canonical_payload(payload)
            if rehash:
                ev["payload_hash"] = sha256_hex(ev["payload"].encode())
                ev["hash"] = event_hash({k: ev[k] for k in L.HEADER_FIELDS})
        out.append(ev)
    _writable_text(root / L.EVENTS, L.dumps_lines(out))


def test_an_edited_file_is_detected(pack: Path) -> None:
    _writable_text(pack / L.REPORT, (pack / L.REPORT).read_text() + "\nAll good.\n")
    assert codes(pack) == {"FILE_MODIFIED"}


def test_an_edited_manifest_is_detected(pack: Path) -> None:
    manifest = json.loads((pack / L.MANIFEST).read_text())
    manifest["chain_head"]["seq"] += 1
    _writable_text(pack / L.MANIFEST, L.dumps(manifest))
    assert "MANIFEST_HASH_MISMATCH" in codes(pack)


def _soften(payload: dict[str, Any]) -> None:
    """Rewrite what the approver said."""
    payload["signed_action"]["payload"]["reason"] = "rubber-stamped"


def test_an_edited_event_payload_is_detected_even_after_resealing(pack: Path) -> None:
    _edit_events(pack, "promotion.approve", _soften, rehash=False)
    reseal(pack)
    assert "EVENT_PAYLOAD_MISMATCH" in codes(pack)


def test_a_rehashed_event_payload_falls_off_the_chain_and_its_signature(pack: Path) -> None:
    _edit_events(pack, "promotion.approve", _soften, rehash=True)
    reseal(pack)
    found = codes(pack)
    assert {"EVENT_NOT_ON_CHAIN", "SIGNATURE_INVALID"} <= found
    assert "EVENT_PAYLOAD_MISMATCH" not in found  # the forger fixed the hashes


def test_a_swapped_signature_is_detected(pack: Path) -> None:
    events = [json.loads(x) for x in (pack / L.EVENTS).read_text().splitlines()]
    other = next(json.loads(e["payload"])["signed_action"]["signature"] for e in events
                 if e["action"] == "promotion.merge")

    def swap(payload: dict[str, Any]) -> None:
        payload["signed_action"]["signature"] = other

    _edit_events(pack, "promotion.approve", swap, rehash=True)
    approvals = json.loads((pack / L.table_file("approvals")).read_text())
    approvals[0]["signature"] = other
    _writable_text(pack / L.table_file("approvals"), L.dumps(approvals))
    reseal(pack)
    assert {"SIGNATURE_INVALID", "ROW_MODIFIED"} <= codes(pack)


def test_a_dropped_file_is_detected(pack: Path) -> None:
    decision = json.loads((pack / L.table_file("promotion_decisions")).read_text())[0]
    (pack / L.artifact_file(decision["report_hash"])).unlink()
    assert codes(pack) == {"FILE_MISSING", "ARTIFACT_MISSING"}
    reseal(pack)  # dropped from the manifest too: still cited by the decision
    assert "ARTIFACT_MISSING" in codes(pack)


def test_an_edited_row_is_detected(pack: Path) -> None:
    decisions = json.loads((pack / L.table_file("promotion_decisions")).read_text())
    decisions[0]["allowed"] = not decisions[0]["allowed"]
    _writable_text(pack / L.table_file("promotion_decisions"), L.dumps(decisions))
    reseal(pack)
    assert codes(pack) == {"ROW_MODIFIED"}


def test_a_doctored_gate_input_is_detected(pack: Path) -> None:
    """Swap the decision's policy for a laxer one, with every hash made consistent: the
    decision no longer re-evaluates to its report, and the row no longer matches its event."""
    decisions = json.loads((pack / L.table_file("promotion_decisions")).read_text())
    policy = json.loads((pack / L.artifact_file(decisions[0]["input_hashes"]["policy"]))
                        .read_text())
    policy["gate1"]["min_dsr"] = 0.0
    data = json.dumps(policy, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    (pack / L.artifact_file(digest)).write_bytes(data)
    decisions[0]["input_hashes"]["policy"] = digest
    _writable_text(pack / L.table_file("promotion_decisions"), L.dumps(decisions))
    manifest = json.loads((pack / L.MANIFEST).read_text())
    manifest["files"].append({"path": L.artifact_file(digest), "sha256": digest,
                              "bytes": len(data)})
    _writable_text(pack / L.MANIFEST, L.dumps(manifest))
    reseal(pack)
    assert {"ROW_MODIFIED", "GATE_RECOMPUTE_MISMATCH"} <= codes(pack)


def test_an_inflated_control_mapping_is_detected(pack: Path) -> None:
    mapping = json.loads((pack / L.CONTROLS).read_text())
    mapping["RTS-10"]["status"] = "evidenced"
    _writable_text(pack / L.CONTROLS, L.dumps(mapping))
    reseal(pack)
    assert codes(pack) == {"CONTROL_MAPPING_MISMATCH"}


# ----------------------------------------------------------------------------- the CLI


def test_cli_verify_exit_codes(built: tuple[Path, str], pack: Path, tmp_path: Path) -> None:
    ok = run_torghut("audit", "pack", "verify", str(built[0]))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout
    as_json = json.loads(run_torghut("audit", "pack", "verify", str(built[0]), "--json").stdout)
    assert as_json["ok"] is True and as_json["checked"]["signatures"] >= 5
    (pack / L.EVENTS).unlink()
    (pack / L.REPORT).write_text("edited")
    bad = run_torghut("audit", "pack", "verify", str(pack))
    assert bad.returncode == 1
    problems = [ln for ln in bad.stdout.splitlines() if ln.startswith(("FILE_", "EVENT_"))]
    assert any(ln.startswith(f"FILE_MISSING: {L.EVENTS}") for ln in problems)
    assert any(ln.startswith(f"FILE_MODIFIED: {L.REPORT}") for ln in problems)
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_torghut("audit", "pack", "verify", str(tmp_path / "empty")),
                          "not an audit pack")


def test_cli_bad_input_is_one_line_and_changes_nothing(
        source: tuple[Workspace, FinishedRun], tmp_path: Path) -> None:
    ws = _fresh(init_workspace(tmp_path / "ws"), source)
    cid = promote(ws, source[1])
    before = tree_snapshot(ws.root)
    unknown = run_torghut("-w", str(ws.root), "audit", "pack", "--candidate", "ffffff",
                          "--out", str(tmp_path / "p1"))
    assert_one_line_error(unknown, "candidate")
    assert not (tmp_path / "p1").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    existing = run_torghut("-w", str(ws.root), "audit", "pack", "--candidate", cid,
                           "--out", str(taken))
    assert_one_line_error(existing, "--out", "write-once")
    assert (taken / "x").read_text() == "mine" and len(list(taken.iterdir())) == 1
    neither = run_torghut("-w", str(ws.root), "audit", "pack", "--out", str(tmp_path / "p2"))
    assert_one_line_error(neither, "--candidate/--incident")
    assert tree_snapshot(ws.root) == before
    made = run_torghut("-w", str(ws.root), "audit", "pack", "--candidate", cid, "--out",
                       str(tmp_path / "p3"), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["subject"] == cid
    assert json.loads(made.stdout)["problems"] == []


def test_a_malformed_file_is_a_finding_not_a_crash(pack: Path) -> None:
    _writable_text(pack / L.EVENTS, "[1, 2]\n")
    decisions = json.loads((pack / L.table_file("promotion_decisions")).read_text())
    decisions[0]["input_hashes"] = ["not", "a", "mapping"]
    _writable_text(pack / L.table_file("promotion_decisions"), L.dumps(decisions))
    reseal(pack)
    found = codes(pack)
    assert {"FILE_UNREADABLE", "PACK_MALFORMED", "ROLLBACKS_MISMATCH"} <= found
