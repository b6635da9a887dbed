"""The guard: signed, verified, authorized, audited — or refused, audited, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.support import tree_snapshot
from torghut.errors import TorghutError
from torghut.gitops.repo import git
from torghut.governance import guard
from torghut.governance.identities import IDENTITIES_PATH, lookup
from torghut.governance.keys import generate_key, key_path
from torghut.governance.refusal import Refusal, RefusalCode
from torghut.governance.rights import Action
from torghut.governance.signing import verify
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Base
from torghut.workspace import Workspace

WHEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _events(ledger: Ledger) -> list[audit.AuditEvent]:
    with ledger.read() as session:
        return audit.log(session)


def _row_counts(ledger: Ledger) -> dict[str, int]:
    with ledger.read() as session:
        return {name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in Base.metadata.tables.items()}


def _verified(ledger: Ledger) -> audit.VerifyReport:
    with ledger.read() as session:
        return audit.verify(session, ledger.artifacts)


def test_act_writes_a_verifiable_signed_audit_event(ws: Workspace, ledger: Ledger) -> None:
    evidence = ledger.artifacts.put(b'{"gate": "pass"}')
    signed = guard.act(ws, ledger, "alice", Action.PROMOTION_APPROVE, "pr:1",
                       {"head_sha": "c0ffee" * 6 + "abcd"}, evidence_refs=(evidence,),
                       proposer="promotion-agent", author="research-agent", signed_at=WHEN)
    (event,) = _events(ledger)
    assert (event.actor, event.action, event.subject) == ("alice", "promotion.approve", "pr:1")
    assert event.artifact_refs == (evidence,)
    assert event.payload["evidence_refs"] == [evidence]
    report = _verified(ledger)
    assert report.ok and report.events == 1
    # What the chain holds is a signature anyone can re-check against GitOps main.
    carried = guard.signed_action_of(event)
    assert carried == signed and carried.signed_at == WHEN
    verify(carried, lookup(ws.gitops_dir, "alice"))
    assert event.payload["signed_action"]["public_key_sha256"] == \
        lookup(ws.gitops_dir, "alice").fingerprint


@pytest.mark.parametrize("who,action,code", [
    ("research-agent", Action.PROMOTION_APPROVE, RefusalCode.AGENT_CANNOT_APPROVE),
    ("validation-agent", Action.PROMOTION_MERGE, RefusalCode.ROLE_NOT_PERMITTED),
    ("promotion-agent", Action.OPS_ROLLBACK, RefusalCode.ROLE_NOT_PERMITTED),
    ("alice", Action.PROMOTION_APPROVE, RefusalCode.APPROVER_IS_PROPOSER),
])
def test_a_refusal_is_audited_and_changes_nothing_else(
        ws: Workspace, ledger: Ledger, who: str, action: Action, code: RefusalCode) -> None:
    counts, files = _row_counts(ledger), tree_snapshot(ws.gitops_dir)
    with pytest.raises(Refusal) as info:
        guard.act(ws, ledger, who, action, "pr:2", {"note": "try"}, proposer="alice")
    assert info.value.code == code
    (event,) = _events(ledger)
    assert (event.actor, event.action, event.subject) == (who, "governance.refused", "pr:2")
    assert event.payload["code"] == code and event.payload["action"] == action.value
    assert event.payload["requested"] == {"note": "try"}
    assert _row_counts(ledger) == {**counts, "audit_events": counts["audit_events"] + 1}
    assert tree_snapshot(ws.gitops_dir) == files
    assert _verified(ledger).ok


def test_a_key_not_registered_on_main_is_refused_as_key_mismatch(
        ws: Workspace, ledger: Ledger) -> None:
    key_path(ws.keys_dir, "oscar").unlink()
    generate_key(ws.keys_dir, "oscar")  # a fresh key identities.yaml has never seen
    with pytest.raises(Refusal) as info:
        guard.act(ws, ledger, "oscar", Action.OPS_KILL_SWITCH, "firm", {"engage": True})
    assert info.value.code == RefusalCode.KEY_MISMATCH
    assert [e.action for e in _events(ledger)] == ["governance.refused"]


def test_check_and_record_commit_with_the_callers_transaction(
        ws: Workspace, ledger: Ledger) -> None:
    signed = guard.check(ws, ledger, "oscar", Action.OPS_ROLLBACK, "main", {"to": "HEAD~1"})

    class Boom(Exception):
        pass

    with pytest.raises(Boom), ledger.write() as session:
        guard.record(session, signed)
        raise Boom  # the caller's own write failed: its audit event goes with it
    assert _events(ledger) == []
    with ledger.write() as session:
        guard.record(session, signed, outcome={"commit": "abc"})
    (event,) = _events(ledger)
    assert event.payload["outcome"] == {"commit": "abc"}
    assert guard.signed_action_of(event) == signed


def test_identities_come_from_main_not_the_working_tree(ws: Workspace, ledger: Ledger) -> None:
    path = ws.gitops_dir / IDENTITIES_PATH
    # Promote research-agent to a human approver in the checkout only: it does not count.
    text = path.read_text()
    path.write_text(text.replace("- name: research-agent\n  kind: agent\n  roles: [research]",
                                 "- name: research-agent\n  kind: human\n  roles: [approver]"))
    assert "roles: [approver]" in path.read_text()
    with pytest.raises(Refusal) as info:
        guard.act(ws, ledger, "research-agent", Action.PROMOTION_APPROVE, "pr:3", {})
    assert info.value.code == RefusalCode.AGENT_CANNOT_APPROVE
    assert git(ws.gitops_dir, "status", "--porcelain").strip() == f"M {IDENTITIES_PATH}"


@pytest.mark.parametrize("who,refs,needle", [
    ("mallory", (), "unknown identity"),
    ("alice", ("0" * 64,), "artifact_missing"),
    ("alice", ("not-a-digest",), "not a sha256"),
])
def test_bad_input_is_exit_2_and_not_audited(ws: Workspace, ledger: Ledger, who: str,
                                              refs: tuple[str, ...], needle: str) -> None:
    with pytest.raises(TorghutError, match=needle) as info:
        guard.act(ws, ledger, who, Action.PROMOTION_APPROVE, "pr:4", {}, evidence_refs=refs)
    assert not isinstance(info.value, Refusal) and info.value.exit_code == 2
    if who == "mallory":
        assert info.value.file == f"main:{IDENTITIES_PATH}"
    assert _events(ledger) == []


def test_missing_private_key_is_bad_input(ws: Workspace, ledger: Ledger) -> None:
    key_path(ws.keys_dir, "alice").unlink()
    with pytest.raises(TorghutError, match="no private key") as info:
        guard.act(ws, ledger, "alice", Action.PROMOTION_APPROVE, "pr:5", {})
    assert info.value.exit_code == 2
    assert _events(ledger) == []
