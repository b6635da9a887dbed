"""``/api/kill-switch``: signed POSTs verified against GitOps main (good, forged, replayed,
stale, wrong role, bad body), the state latched in the ledger and exported as metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.api_helpers import client_for, real_server
from tests.support import open_test_incident
from torghut.api import kill
from torghut.contracts.governance import SignedAction
from torghut.governance.guard import REFUSED_ACTION
from torghut.ledger import audit, open_ledger
from torghut.ledger.models import KillSwitchEvent
from torghut.workspace import Workspace


def _post(client: TestClient, signed: SignedAction | dict[str, Any]) -> Any:
    body = signed.model_dump(mode="json") if isinstance(signed, SignedAction) else signed
    return client.post("/api/kill-switch", json=body)


def _kill_rows(ws: Workspace) -> list[KillSwitchEvent]:
    with open_ledger(ws) as ledger, ledger.read() as session:
        return list(session.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id)))


def _refusals(ws: Workspace) -> list[dict[str, Any]]:
    with open_ledger(ws) as ledger, ledger.read() as session:
        return [ev.payload for ev in audit.log(session) if ev.action == REFUSED_ACTION]


def _incident(ws: Workspace) -> str:
    """A real incident in the workspace's ledger: a release must name one (FIA-3)."""
    with open_ledger(ws) as ledger:
        return open_test_incident(ws, ledger)


def _state(client: TestClient, scope: str) -> str:
    scopes = client.get("/api/kill-switch").json()["scopes"]
    return next(s["state"] for s in scopes if s["scope"] == scope)


def test_api_kill_switch_signed_engage_and_release(ws: Workspace) -> None:
    inc = _incident(ws)
    with client_for(ws) as (client, _):
        engage = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                                   reason="drill: desk test")
        response = _post(client, engage)
        assert response.status_code == 200, response.text
        assert response.json()["changed"] is True and response.json()["state"] == "halted"
        assert _state(client, "firm") == "halted"
        metrics = client.get("/metrics").text
        assert 'torghut_kill_switch_state{scope="firm"} 2.0' in metrics
        release = kill.sign_request(ws, "oscar", op="release", scope="firm",
                                    reason="drill over", incident_id=inc)
        assert _post(client, release).status_code == 200
        assert _state(client, "firm") == "active"
    rows = _kill_rows(ws)
    assert [(r.action, r.state, r.actor) for r in rows] == [("engage", "halted", "oscar"),
                                                             ("release", "active", "oscar")]
    # Ed25519 is deterministic: the recorded signature is the client's own.
    assert [r.signature for r in rows] == [engage.signature, release.signature]
    assert rows[1].incident_id == inc


def test_api_kill_switch_strategy_scope_reducing(ws: Workspace) -> None:
    with client_for(ws) as (client, _):
        signed = kill.sign_request(ws, "oscar", op="engage", scope="strategy:tsmom",
                                   state="reducing", reason="slippage outside band")
        assert _post(client, signed).status_code == 200
        assert _state(client, "strategy:tsmom") == "reducing"
        assert _state(client, "firm") == "active"


def test_api_kill_switch_forged_signature_is_403_and_audited(ws: Workspace) -> None:
    signed = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="genuine")
    forged = signed.model_dump(mode="json")
    forged["payload"]["reason"] = "altered after signing"
    with client_for(ws) as (client, _):
        response = _post(client, forged)
        assert response.status_code == 403
        assert response.json()["code"] == "SIGNATURE_INVALID"
        assert _state(client, "firm") == "active"
    assert _kill_rows(ws) == []
    assert [r["code"] for r in _refusals(ws)] == ["SIGNATURE_INVALID"]


def test_api_kill_switch_key_of_another_identity_is_refused(ws: Workspace) -> None:
    """alice signs, claiming to be oscar: the key is not the one main registers for oscar."""
    signed = kill.sign_request(ws, "alice", op="engage", scope="firm", state="halted",
                               reason="not mine to pull")
    claimed = signed.model_dump(mode="json") | {"actor": "oscar"}
    with client_for(ws) as (client, _):
        response = _post(client, claimed)
    assert response.status_code == 403 and response.json()["code"] == "KEY_MISMATCH"
    assert _kill_rows(ws) == []


def test_api_kill_switch_needs_the_operations_role(ws: Workspace) -> None:
    signed = kill.sign_request(ws, "alice", op="engage", scope="firm", state="halted",
                               reason="approver is not operations")
    with client_for(ws) as (client, _):
        response = _post(client, signed)
    assert response.status_code == 403 and response.json()["code"] == "ROLE_NOT_PERMITTED"
    assert _kill_rows(ws) == []


def test_api_kill_switch_unknown_identity(ws: Workspace) -> None:
    signed = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="x")
    body = signed.model_dump(mode="json") | {"actor": "mallory"}
    with client_for(ws) as (client, _):
        response = _post(client, body)
    assert response.status_code == 403 and response.json()["code"] == "UNKNOWN_IDENTITY"


def test_api_kill_switch_replay_and_stale_are_refused(ws: Workspace) -> None:
    with client_for(ws) as (client, _):
        signed = kill.sign_request(ws, "oscar", op="engage", scope="symbol:AAA",
                                   state="halted", reason="halted venue")
        assert _post(client, signed).status_code == 200
        replay = _post(client, signed)
        assert replay.status_code == 403 and replay.json()["code"] == "REPLAYED_SIGNATURE"
        old = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                                reason="old", signed_at=datetime.now(UTC) - timedelta(hours=1))
        stale = _post(client, old)
        assert stale.status_code == 403 and stale.json()["code"] == "STALE_SIGNATURE"
        assert _state(client, "firm") == "active"
    assert {r["code"] for r in _refusals(ws)} == {"REPLAYED_SIGNATURE", "STALE_SIGNATURE"}


def test_api_kill_switch_bad_bodies_are_422(ws: Workspace) -> None:
    signed = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="x").model_dump(mode="json")
    wrong_subject = signed | {"subject": "kill_switch:symbol:AAA"}
    wrong_action = signed | {"action": "ops.rollback"}
    bad_payload = signed | {"payload": {**signed["payload"], "op": "explode"}}
    with client_for(ws) as (client, _):
        not_json = client.post("/api/kill-switch", content=b"{nope",
                               headers={"content-type": "application/json"})
        assert not_json.status_code == 422 and not_json.json()["code"] == "BAD_BODY"
        for body in ([], {"actor": "oscar"}, wrong_subject, wrong_action, bad_payload):
            response = _post(client, body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "BAD_BODY"
    assert _kill_rows(ws) == [] and _refusals(ws) == []


def test_api_kill_switch_release_when_not_engaged_is_409(ws: Workspace) -> None:
    inc = _incident(ws)
    with client_for(ws) as (client, _):
        signed = kill.sign_request(ws, "oscar", op="release", scope="firm", reason="nothing",
                                   incident_id=inc)
        response = _post(client, signed)
    assert response.status_code == 409 and response.json()["code"] == "KILL_NOT_ENGAGED"


def test_FIA_3_api_release_needs_an_existing_incident(ws: Workspace) -> None:
    """A well-signed release by operations naming an incident the ledger lacks: 409 (the
    signer may act; the ledger disagrees), audited, and the scope stays engaged."""
    # control: FIA-3
    with client_for(ws) as (client, _):
        engage = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                                   reason="venue outage")
        assert _post(client, engage).status_code == 200
        release = kill.sign_request(ws, "oscar", op="release", scope="firm",
                                    reason="venue back", incident_id="INC-404")
        response = _post(client, release)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "INCIDENT_UNKNOWN"
        assert "INC-404" in response.json()["message"]
        assert _state(client, "firm") == "halted"
    assert [r.action for r in _kill_rows(ws)] == ["engage"]
    refused = _refusals(ws)
    assert [r["code"] for r in refused] == ["INCIDENT_UNKNOWN"]
    assert refused[0]["requested"]["incident_id"] == "INC-404"


def test_api_kill_switch_over_http_survives_a_restart(ws: Workspace) -> None:
    """The client helper against a real server; the state is latched in the ledger (FIA-1)."""
    with real_server(ws) as server:
        signed = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                                   reason="restart drill")
        response = kill.post_request(server.url, signed)
        assert response.status_code == 200, response.text
    with client_for(ws) as (client, _):
        assert _state(client, "firm") == "halted"


def test_api_kill_switch_records_without_the_signers_key(ws: Workspace) -> None:
    """A runtime whose workspace lacks the signer's key records the client's signed action
    as it is (ops.kill_switch verifies it, never re-signs)."""
    signed = kill.sign_request(ws, "oscar", op="engage", scope="firm", state="halted",
                               reason="remote operator")
    (ws.keys_dir / "oscar.key").unlink()
    with client_for(ws) as (client, _):
        response = _post(client, signed)
        assert response.status_code == 200, response.text
        assert _state(client, "firm") == "halted"
    assert [r.signature for r in _kill_rows(ws)] == [signed.signature]
