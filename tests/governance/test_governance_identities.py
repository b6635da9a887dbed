"""Demo identities from init; `torghut identity create` proposes a minimal-diff branch."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

import pytest

from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.contracts.governance import IdentityKind, Role
from torghut.errors import TorghutError
from torghut.gitops.repo import git, rev_parse, show, update_ref
from torghut.governance.identities import (
    IDENTITIES_PATH,
    add_identity,
    load_identities,
    lookup,
    parse_identities,
)
from torghut.governance.keys import key_path, load_key
from torghut.governance.proposals import identity_branch, propose_identity
from torghut.governance.signing import sign, verify
from torghut.ledger import audit, open_ledger
from torghut.workspace import Workspace

DEMO = {"research-agent": ("agent", ["research"]), "validation-agent": ("agent", ["validation"]),
        "promotion-agent": ("agent", ["promotion"]), "alice": ("human", ["approver"]),
        "oscar": ("human", ["operations"])}
NOW = datetime(2025, 7, 8, 9, 10, tzinfo=UTC)


def test_init_bootstraps_demo_identities_whose_keys_verify(ws: Workspace) -> None:
    identities = load_identities(ws.gitops_dir)
    assert {i.name: (i.kind.value, [r.value for r in i.roles])
            for i in identities.identities} == DEMO
    for identity in identities.identities:
        path = key_path(ws.keys_dir, identity.name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        signed = sign(load_key(ws.keys_dir, identity.name), identity.name, "ops.incident",
                      "incident:1", {"n": 1}, NOW)
        verify(signed, identity)


def test_unknown_identity_names_the_file(ws: Workspace) -> None:
    with pytest.raises(TorghutError) as info:
        lookup(ws.gitops_dir, "mallory")
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"main:{IDENTITIES_PATH}: identities: unknown identity")


def test_invalid_identities_file_names_file_and_line() -> None:
    text = ("schema_version: '1.0'\nidentities:\n- name: a\n  kind: robot\n  roles: [research]\n"
            "  public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    with pytest.raises(TorghutError) as info:
        parse_identities(text, file="main:x.yaml")
    assert info.value.file == "main:x.yaml:4" and info.value.field == "identities[0].kind"


def test_add_identity_keeps_comments_and_fills_an_empty_list(ws: Workspace) -> None:
    bob = lookup(ws.gitops_dir, "alice").model_copy(update={"name": "bob"})
    on_main = show(ws.gitops_dir, IDENTITIES_PATH) or ""
    with pytest.raises(TorghutError, match="share a public key"):
        add_identity(on_main, bob, file="f")  # alice's key, reused: refused on re-validation
    empty = "# who may act\nschema_version: '1.0'  # keep me\nidentities: []\n"
    fresh = bob.model_copy(update={"public_key": lookup(ws.gitops_dir, "oscar").public_key})
    out = add_identity(empty, fresh, file="f")
    assert out.startswith("# who may act\nschema_version: '1.0'  # keep me\nidentities:\n- ")
    assert parse_identities(out, file="f").identities == (fresh,)


def test_identity_create_proposes_a_minimal_diff_branch(ws: Workspace,
                                                        torghut: CliRunner) -> None:
    repo = ws.gitops_dir
    main_before = rev_parse(repo, "main")
    checkout = tree_snapshot(repo / "apps")
    proc = torghut("-w", str(ws.root), "identity", "create", "bob", "--kind", "human",
                   "--roles", "approver,operations", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["branch"].startswith("codex/identity-bob-") and len(out["branch"]) == \
        len("codex/identity-bob-") + 12
    assert rev_parse(repo, out["branch"]) == out["commit"]
    # main, the checkout and the index are untouched.
    assert rev_parse(repo, "main") == main_before
    assert tree_snapshot(repo / "apps") == checkout
    assert git(repo, "status", "--porcelain").strip() == ""
    # The branch adds the entry's four lines and nothing else, on top of main.
    assert git(repo, "rev-parse", f"{out['branch']}^").strip() == main_before
    assert git(repo, "diff", "--name-only", "main", out["branch"]).split() == [IDENTITIES_PATH]
    diff = git(repo, "diff", "-U0", "main", out["branch"]).splitlines()
    changed = [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    key = load_key(ws.keys_dir, "bob")
    bob = parse_identities(show(repo, IDENTITIES_PATH, out["branch"]) or "", file="b").get("bob")
    assert bob is not None
    assert changed == ["+- name: bob", "+  kind: human", "+  roles: [approver, operations]",
                       f"+  public_key: {bob.public_key}"]
    verify(sign(key, "bob", "promotion.approve", "pr:1", {}, NOW), bob)
    assert stat.S_IMODE(key_path(ws.keys_dir, "bob").stat().st_mode) == 0o600
    # bob cannot act before the branch is merged: main does not know him.
    with pytest.raises(TorghutError, match="unknown identity"):
        lookup(repo, "bob")


def test_identity_create_refuses_a_registered_name_and_changes_nothing(
        ws: Workspace, torghut: CliRunner) -> None:
    before = tree_snapshot(ws.root)
    branches = git(ws.gitops_dir, "branch", "--list")
    proc = torghut("-w", str(ws.root), "identity", "create", "alice", "--kind", "human",
                   "--roles", "approver")
    assert_one_line_error(proc, "identities.yaml", "already registered on main")
    assert tree_snapshot(ws.root) == before
    assert git(ws.gitops_dir, "branch", "--list") == branches


def test_propose_refuses_an_existing_branch_or_key(ws: Workspace) -> None:
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    update_ref(repo, identity_branch("carol", NOW), main, None)
    with pytest.raises(TorghutError, match="already exists"):
        propose_identity(ws, "carol", IdentityKind.HUMAN, [Role.APPROVER], now=NOW)
    assert not key_path(ws.keys_dir, "carol").exists()
    key_path(ws.keys_dir, "dave").write_text("someone's key")
    with pytest.raises(TorghutError, match="never overwritten"):
        propose_identity(ws, "dave", IdentityKind.HUMAN, [Role.APPROVER], now=NOW)
    assert key_path(ws.keys_dir, "dave").read_text() == "someone's key"
    assert rev_parse(repo, identity_branch("dave", NOW)) is None
    change = propose_identity(ws, "erin", IdentityKind.AGENT, [Role.RESEARCH], now=NOW,
                              proposer="oscar")
    assert change.branch == "codex/identity-erin-202507080910"
    assert git(repo, "log", "-1", "--format=%an|%(trailers:key=Torghut-Identity,valueonly)",
               change.commit_sha).strip() == "oscar|erin"


def test_identity_create_as_signs_and_audits_or_refuses(ws: Workspace,
                                                        torghut: CliRunner) -> None:
    refused = torghut("-w", str(ws.root), "identity", "create", "frank", "--kind", "agent",
                      "--roles", "research", "--as", "research-agent")
    assert refused.returncode == 1, refused.stderr
    assert "ROLE_NOT_PERMITTED" in refused.stderr and "Traceback" not in refused.stderr
    assert not key_path(ws.keys_dir, "frank").exists()
    assert "identity-frank" not in git(ws.gitops_dir, "branch", "--list")
    ok = torghut("-w", str(ws.root), "identity", "create", "frank", "--kind", "agent",
                 "--roles", "research", "--as", "oscar", "--json")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    ledger = open_ledger(ws)
    try:
        with ledger.read() as session:
            events = audit.log(session)
            assert audit.verify(session).ok
    finally:
        ledger.close()
    assert [(e.actor, e.action) for e in events] == [("research-agent", "governance.refused"),
                                                     ("oscar", "identity.pr.open"),
                                                     ("oscar", "identity.propose")]
    assert events[1].payload["branch"] == out["branch"]  # registered as pull request
    assert events[1].payload["id"] == out["pull_request"]
    assert events[2].payload["outcome"] == {"branch": out["branch"],
                                            "commit_sha": out["commit"]}


def test_identity_list(ws: Workspace, torghut: CliRunner) -> None:
    key_path(ws.keys_dir, "oscar").unlink()
    proc = torghut("-w", str(ws.root), "identity", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == set(DEMO)
    assert rows["alice"]["roles"] == ["approver"] and rows["alice"]["local_key"] is True
    assert rows["oscar"]["local_key"] is False
    assert rows["alice"]["public_key_sha256"] == lookup(ws.gitops_dir, "alice").fingerprint
