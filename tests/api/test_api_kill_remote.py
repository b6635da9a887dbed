"""A remote operator pulls the kill switch over HTTP: the server's workspace holds NO private
key for the operator, yet a correctly signed engage and release take effect and the ledger
row carries the client's own signature; forged, replayed, agent and mismatched requests are
refused. SQLite, and PostgreSQL when ``$TORGHUT_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import shutil

import pytest

from tests.api.api_helpers import client_for, commit_main
from tests.api.test_api_kill_switch import _incident, _post
from tests.api.test_api_kill_switch import _kill_rows as _rows
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401 (fixtures)
from torghut.api import kill
from torghut.errors import TorghutError
from torghut.governance import guard
from torghut.governance.identities import IDENTITIES_PATH
from torghut.governance.refusal import Refusal
from torghut.ledger import audit, open_ledger
from torghut.ops import kill_switch
from torghut.workspace import Workspace

AGENT_OPS = ("- name: research-agent\n  kind: agent\n  roles: [research]",
             "- name: research-agent\n  kind: agent\n  roles: [research, operations]")


def _refused(ws: Workspace) -> list[str]:
    with open_ledger(ws) as ledger, ledger.read() as session:
        return [ev.payload["code"] for ev in audit.log(session)
                if ev.action == guard.REFUSED_ACTION]


def _keyless(ws: Workspace) -> None:
    """The server side: the operators' private keys live on their own machines."""
    shutil.rmtree(ws.keys_dir)
    ws.keys_dir.mkdir()


def test_keyless_server_accepts_a_signed_engage_and_release(
        ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    inc = _incident(ws)  # opened (signed) by oscar before the keys leave the server
    engage = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="remote drill")
    release = kill.sign_request(ws, "oscar", op="release", scope="firm", reason="drill over",
                                incident_id=inc)
    _keyless(ws)
    with client_for(ws) as (client, _):
        first = _post(client, engage)
        assert first.status_code == 200, first.text
        assert first.json()["state"] == "halted" and first.json()["changed"] is True
        second = _post(client, release)
        assert second.status_code == 200, second.text
        assert second.json()["state"] == "active"
    rows = _rows(ws)
    assert [(r.action, r.state, r.actor, r.incident_id) for r in rows] == [
        ("engage", "halted", "oscar", None), ("release", "active", "oscar", inc)]
    assert [r.signature for r in rows] == [engage.signature, release.signature]
    assert [r.created_at.replace(tzinfo=None) for r in rows] == [
        engage.signed_at.replace(tzinfo=None), release.signed_at.replace(tzinfo=None)]
    with open_ledger(ws) as ledger, ledger.read() as session:
        recorded = [guard.signed_action_of(ev) for ev in audit.log(session)
                    if ev.action == "ops.kill_switch"]
    assert recorded == [engage, release]  # the client's signed actions, as they were sent
    assert list(ws.keys_dir.iterdir()) == []


def test_keyless_server_refuses_forged_replayed_and_agent_requests(
        ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    commit_main(ws, {IDENTITIES_PATH: (ws.gitops_dir / IDENTITIES_PATH).read_text()
                     .replace(*AGENT_OPS)})
    engage = kill.sign_request(ws, "oscar", op="engage", scope="symbol:AAA", state="halted",
                               reason="odd prints")
    forged = engage.model_dump(mode="json")
    forged["payload"]["reason"] = "altered in transit"
    agent_engage = kill.sign_request(ws, "research-agent", op="engage", scope="strategy:x",
                                     state="reducing", reason="agent sees drift")
    agent_release = kill.sign_request(ws, "research-agent", op="release", scope="symbol:AAA",
                                      reason="agent says fine", incident_id=_incident(ws))
    approver = kill.sign_request(ws, "alice", op="engage", scope="firm", state="halted",
                                 reason="not operations")
    no_incident = kill.sign_request(ws, "oscar", op="release", scope="symbol:AAA",
                                    reason="no incident")
    _keyless(ws)
    with client_for(ws) as (client, _):
        assert _post(client, forged).json()["code"] == "SIGNATURE_INVALID"
        assert _post(client, engage).status_code == 200
        assert _post(client, engage).json()["code"] == "REPLAYED_SIGNATURE"
        assert _post(client, approver).json()["code"] == "ROLE_NOT_PERMITTED"
        assert _post(client, agent_engage).status_code == 200  # agents may stop trading
        refused = _post(client, agent_release)
        assert refused.status_code == 403 and refused.json()["code"] == "AGENT_CANNOT_RELEASE"
        missing = _post(client, no_incident)
        assert missing.status_code == 422 and "incident" in missing.json()["message"]
    with client_for(ws) as (client, _):  # a restart forgets the in-memory replay guard...
        replayed = _post(client, engage)  # ...but the ledger remembers the signature
        assert replayed.status_code == 403 and replayed.json()["code"] == "REPLAYED_SIGNATURE"
    assert [(r.scope, r.state, r.signature) for r in _rows(ws)] == [
        ("symbol:AAA", "halted", engage.signature),
        ("strategy:x", "reducing", agent_engage.signature)]
    assert _refused(ws) == ["SIGNATURE_INVALID", "REPLAYED_SIGNATURE", "ROLE_NOT_PERMITTED",
                            "AGENT_CANNOT_RELEASE", "REPLAYED_SIGNATURE"]


def test_a_signed_action_is_verified_not_resigned(ledger_ws: Workspace) -> None:  # noqa: F811
    """ops.kill_switch itself: the signed action must be exactly the move asked for, and a
    release still needs a reason and an incident id (FIA-3) before anything is checked."""
    ws = ledger_ws
    engage = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="drill")
    _keyless(ws)
    with open_ledger(ws) as ledger:
        with pytest.raises(Refusal) as mismatch:  # signed "halted", asked "reducing"
            kill_switch.engage(ws, ledger, scope="firm", state="reducing", reason="drill",
                               as_identity="oscar", signed=engage)
        assert mismatch.value.code == "SIGNED_MISMATCH"
        with pytest.raises(Refusal) as other:  # someone else's signed action
            kill_switch.engage(ws, ledger, scope="firm", state="halted", reason="drill",
                               as_identity="alice", signed=engage)
        assert other.value.code == "SIGNED_MISMATCH"
        with pytest.raises(TorghutError) as bad:
            kill_switch.release(ws, ledger, scope="firm", reason="done", incident_id=" ",
                                as_identity="oscar", signed=engage)
        assert bad.value.exit_code == 2 and bad.value.field == "incident_id"
        with pytest.raises(TorghutError):  # no key and nothing signed: cannot sign locally
            kill_switch.engage(ws, ledger, scope="firm", state="halted", reason="drill",
                               as_identity="oscar")
        done = kill_switch.engage(ws, ledger, scope="firm", state="halted", reason="drill",
                                  as_identity="oscar", signed=engage)
        assert done is not None and done.at == engage.signed_at
    assert [r.signature for r in _rows(ws)] == [engage.signature]
    assert _refused(ws) == ["SIGNED_MISMATCH", "SIGNED_MISMATCH"]
