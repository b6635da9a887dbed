"""``torghut ops kill-switch``: latched in the ledger, released only by a person from
operations with a reason and an incident id, and engaging it freezes promotion.

Every test runs on SQLite and (with ``$TORGHUT_TEST_POSTGRES_URL``) PostgreSQL; the CLI runs
in a subprocess exactly as a user's shell would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner as TyperRunner

from tests.lanes.lane_helpers import edge_workspace
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.ops.ops_helpers import commit_on_main
from tests.support import assert_one_line_error, open_test_incident, run_torghut
from torghut.cli import main as cli_main
from torghut.contracts.gates import Target
from torghut.contracts.orders import KillState
from torghut.errors import TorghutError
from torghut.gates import default_policy
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import IDENTITIES_PATH, lookup
from torghut.governance.lifecycle import State, current_state
from torghut.governance.refusal import Refusal
from torghut.governance.signing import verify
from torghut.lanes import promotion
from torghut.lanes.research import record_run
from torghut.lanes.validation import evaluate_candidate
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ledger.models import KillSwitchEvent
from torghut.ops import incidents, kill_switch
from torghut.ops.conditions import measure_kill_switch
from torghut.research.run import ResearchRun as FinishedRun
from torghut.risk.kill_switch import RISK_FUNCTION, Trigger, TriggerCode
from torghut.workspace import Workspace

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def ks(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry: ``torghut -w WS ops kill-switch ARGS``."""
    return run_torghut("-w", str(ws.root), "ops", "kill-switch", *args, timeout=120)


@pytest.fixture
def book(ledger_ws: Workspace) -> Iterator[Ledger]:  # noqa: F811
    opened = open_ledger(ledger_ws)
    yield opened
    opened.close()


def _events(book: Ledger) -> list[audit.AuditEvent]:
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok
        return audit.log(s)


def _states(book: Ledger) -> dict[str, KillState]:
    with book.read() as s:
        return {latch.scope: latch.state for latch in kill_switch.board(s).engaged()}


def _refusals(book: Ledger) -> list[dict[str, object]]:
    return [e.payload for e in _events(book) if e.action == "governance.refused"]


# ----------------------------------------------------------------------------- FIA-1


def test_FIA_1_latched_across_restart(ledger_ws: Workspace) -> None:  # noqa: F811
    ws = ledger_ws
    first = ks(ws, "engage", "--reason", "venue outage", "--incident", "INC-9", "--as",
               "oscar", "--json")
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)
    assert (done["scope"], done["previous"], done["state"]) == ("firm", "active", "halted")
    second = ks(ws, "engage", "--scope", "strategy:tsmom", "--state", "reducing", "--reason",
                "drift", "--as", "oscar")
    assert second.returncode == 0 and "active → reducing" in second.stdout
    # A new process — a restarted runtime or operator shell — reads the same board.
    status = ks(ws, "status", "--json")
    assert status.returncode == 0, status.stderr
    rows = {r["scope"]: r for r in json.loads(status.stdout)}
    assert rows["firm"]["state"] == "halted" and rows["firm"]["incident_id"] == "INC-9"
    assert rows["strategy:tsmom"]["state"] == "reducing" and rows["strategy:tsmom"]["engaged"]
    with open_ledger(ws) as book:
        with book.read() as s:
            board = kill_switch.board(s)
            assert board.state_for("tsmom", "AAA") is KillState.HALTED
            assert board.state_for("other", "AAA") is KillState.HALTED
            assert measure_kill_switch(s).scope == "firm, strategy:tsmom"
            kills = list(s.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id)))
        # Each row carries the operator's signature, and the signed action beside it in the
        # chain re-verifies against GitOps main.
        signed = [signed_action_of(e) for e in _events(book) if e.action == "ops.kill_switch"]
        assert [k.signature for k in kills] == [a.signature for a in signed]
        assert [k.trigger for k in kills] == ["MANUAL", "MANUAL"]
        for action in signed:
            verify(action, lookup(ws.gitops_dir, "oscar"))
        # De-escalating a latched halt is a refusal (exit 1), audited; nothing changes.
        with pytest.raises(Refusal) as calmer:
            kill_switch.engage(ws, book, scope="firm", state="reducing", reason="calmer",
                               as_identity="oscar")
        assert calmer.value.code == "KILL_DEESCALATION" and calmer.value.exit_code == 1
        assert _refusals(book)[-1]["code"] == "KILL_DEESCALATION"
        assert _states(book) == {"firm": KillState.HALTED,
                                 "strategy:tsmom": KillState.REDUCING}


def test_FIA_1_engaging_twice_records_the_request_and_changes_nothing(
        ledger_ws: Workspace, book: Ledger) -> None:  # noqa: F811
    ws = ledger_ws
    first = kill_switch.engage(ws, book, scope="symbol:AAA", state="halted", reason="halt",
                               as_identity="oscar", now=WHEN)
    again = kill_switch.engage(ws, book, scope="symbol:AAA", state="halted", reason="still",
                               as_identity="oscar", now=WHEN + timedelta(minutes=1))
    assert first is not None and first.at == WHEN and again is None
    with book.read() as s:
        rows = list(s.scalars(select(KillSwitchEvent)))
    assert [(r.scope, r.state, r.created_at) for r in rows] == [("symbol:AAA", "halted", WHEN)]
    outcomes = [e.payload["outcome"] for e in _events(book) if e.action == "ops.kill_switch"]
    assert [o["changed"] for o in outcomes] == [True, False]


@pytest.mark.parametrize("kwargs,field", [
    ({"scope": "desk:fx"}, "scope"), ({"state": "active"}, "state"),
    ({"state": "paused"}, "state"), ({"reason": " "}, "reason"),
    ({"trigger": "GUT_FEELING"}, "trigger")])
def test_bad_engage_input_is_exit_2_and_not_audited(
        ledger_ws: Workspace, book: Ledger, kwargs: dict[str, str], field: str) -> None:  # noqa: F811
    args = {"scope": "firm", "state": "halted", "reason": "x", **kwargs}
    with pytest.raises(TorghutError) as info:
        kill_switch.engage(ledger_ws, book, as_identity="oscar", **args)  # type: ignore[arg-type]
    assert info.value.exit_code == 2 and info.value.field == field
    assert _events(book) == []


# ----------------------------------------------------------------------------- FIA-3


def test_FIA_3_release_requires_operations_identity_reason_and_incident(
        ledger_ws: Workspace, book: Ledger) -> None:  # noqa: F811
    ws = ledger_ws
    kill_switch.engage(ws, book, scope="firm", state="halted", reason="drill", as_identity="oscar")
    inc = open_test_incident(ws, book)
    before = len(_events(book))
    # Missing reason or incident: bad input, one line, exit 2, nothing audited.
    assert_one_line_error(ks(ws, "release", "--scope", "firm", "--reason", "fixed", "--as",
                             "oscar"), "--incident")
    for reason, incident, field in (("fixed", " ", "incident_id"), (None, inc, "reason")):
        with pytest.raises(TorghutError) as info:
            kill_switch.release(ws, book, scope="firm", reason=reason, incident_id=incident,
                                as_identity="oscar")
        assert info.value.exit_code == 2 and info.value.field == field
    assert len(_events(book)) == before
    # An agent or an approver: refused (exit 1), audited, still halted.
    proc = ks(ws, "release", "--scope", "firm", "--reason", "fixed", "--incident", inc,
              "--as", "research-agent")
    assert proc.returncode == 1 and "ROLE_NOT_PERMITTED" in proc.stderr, proc.stderr
    with pytest.raises(Refusal) as approver:
        kill_switch.release(ws, book, scope="firm", reason="fixed", incident_id=inc,
                            as_identity="alice")
    assert approver.value.code == "ROLE_NOT_PERMITTED"
    audited = _refusals(book)
    assert [r["code"] for r in audited] == ["ROLE_NOT_PERMITTED"] * 2
    assert [r["requested"]["incident_id"] for r in audited] == [inc] * 2  # type: ignore[index]
    # Even an agent holding the operations role may engage but never resume trading.
    identities = (ws.gitops_dir / IDENTITIES_PATH).read_text()
    commit_on_main(ws, {IDENTITIES_PATH: identities.replace(
        "- name: research-agent\n  kind: agent\n  roles: [research]",
        "- name: research-agent\n  kind: agent\n  roles: [research, operations]")},
        "research-agent joins operations\n")
    assert kill_switch.engage(ws, book, scope="symbol:AAA", state="halted", reason="odd prints",
                              as_identity="research-agent") is not None
    with pytest.raises(Refusal) as refused:
        kill_switch.release(ws, book, scope="firm", reason="fixed", incident_id=inc,
                            as_identity="research-agent")
    assert refused.value.code == "AGENT_CANNOT_RELEASE"
    assert _refusals(book)[-1]["code"] == "AGENT_CANNOT_RELEASE"
    assert _states(book) == {"firm": KillState.HALTED, "symbol:AAA": KillState.HALTED}
    # Releasing what is not engaged is refused too.
    with pytest.raises(Refusal) as idle:
        kill_switch.release(ws, book, scope="strategy:tsmom", reason="x", incident_id=inc,
                            as_identity="oscar")
    assert idle.value.code == "KILL_NOT_ENGAGED"
    # A person from operations with a reason and an incident: released, recorded, verified.
    ok = ks(ws, "release", "--scope", "firm", "--reason", "venue back", "--incident", inc,
            "--as", "oscar", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["state"] == "active"
    assert _states(book) == {"symbol:AAA": KillState.HALTED}
    with book.read() as s:
        last = s.scalars(select(KillSwitchEvent).order_by(KillSwitchEvent.id.desc())).first()
    assert last is not None and (last.action, last.incident_id, last.actor, last.state) == (
        "release", inc, "oscar", "active")
    assert [e.action for e in _events(book)][-2:] == ["ops.kill_switch.release",
                                                      "ops.kill_switch"]


def test_FIA_3_release_needs_an_existing_incident(ledger_ws: Workspace,  # noqa: F811
                                                  book: Ledger) -> None:
    """A release naming an incident the ledger lacks is refused (exit 1, one line,
    audited) and the scope stays engaged; a closed incident may be named, since an
    incident is often closed only after trading resumes."""
    # control: FIA-3
    ws = ledger_ws
    kill_switch.engage(ws, book, scope="firm", state="halted", reason="drill", as_identity="oscar")
    proc = ks(ws, "release", "--scope", "firm", "--reason", "fixed", "--incident", "INC-404",
              "--as", "oscar")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("error: INCIDENT_UNKNOWN") and "INC-404" in lines[0], lines
    refused = _refusals(book)[-1]
    assert refused["code"] == "INCIDENT_UNKNOWN"
    assert refused["requested"]["incident_id"] == "INC-404"  # type: ignore[index]
    assert _states(book) == {"firm": KillState.HALTED}
    with book.read() as s:
        assert [r.action for r in s.scalars(select(KillSwitchEvent))] == ["engage"]
    inc = open_test_incident(ws, book)
    incidents.close_incident(ws, book, inc, incidents.IncidentChange(
        root_cause="infrastructure", preventive_action="failover drill",
        preventive_pr="https://github.com/example/torghut/pull/1"),
        note="venue recovered", as_identity="oscar")
    done = kill_switch.release(ws, book, scope="firm", reason="venue back", incident_id=inc,
                               as_identity="oscar")
    assert done.incident_id == inc and _states(book) == {}


# ----------------------------------------------------------------------------- RTS-16


def test_RTS_16_the_risk_function_engages_unsigned_and_only_a_person_releases(
        ledger_ws: Workspace, book: Ledger) -> None:  # noqa: F811
    trip = Trigger(code=TriggerCode.HEARTBEAT_GAP, scope="strategy:tsmom", observed=7.5,
                   threshold=5.0, at=WHEN, detected_at=WHEN + timedelta(seconds=1),
                   control="FIA-2", message="no heartbeat from venue for 7.5 s")
    done = kill_switch.engage_automatic(book, trip)
    assert done is not None and done.actor == RISK_FUNCTION and done.trigger == "HEARTBEAT_GAP"
    assert kill_switch.engage_automatic(book, trip) is None  # latched: no second row
    with book.read() as s:
        (row,) = s.scalars(select(KillSwitchEvent))
    assert (row.actor, row.signature, row.trigger, row.incident_id) == (
        RISK_FUNCTION, None, "HEARTBEAT_GAP", None)
    alerts = [e for e in _events(book) if e.action == "risk.kill_switch.triggered"]
    assert len(alerts) == 1 and alerts[0].payload["observed"] == 7.5
    recorded = Trigger.model_validate(alerts[0].payload)
    assert recorded.alert_latency == timedelta(seconds=1) and recorded.within_alert_budget
    released = kill_switch.release(ledger_ws, book, scope="strategy:tsmom", reason="venue back",
                                   incident_id=open_test_incident(ledger_ws, book),
                                   as_identity="oscar")
    assert released.previous is KillState.HALTED and _states(book) == {}


# ----------------------------------------------------------------------------- plan


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FinishedRun]:
    return edge_workspace(tmp_path_factory.mktemp("kill") / "ws", "tsmom-kill")


def _evaluate(ws: Workspace, book: Ledger, cid: str) -> tuple[str, ...]:
    decided = evaluate_candidate(ws, book, cid, Target.PAPER, default_policy(),
                                 now=datetime.now(UTC), actor="validation-agent")
    return decided.report.reason_codes


def test_plan_kill_switch_freezes_promotion(
        ledger_ws: Workspace, source: tuple[Workspace, FinishedRun]) -> None:  # noqa: F811
    ws = ledger_ws
    shutil.copytree(source[0].datasets_dir, ws.datasets_dir, dirs_exist_ok=True)
    with open_ledger(ws) as book:
        record_run(book, source[1], actor="research-agent")
        with book.read() as s:
            cid = str(s.execute(text("SELECT id FROM candidates")).scalar_one())
        assert _evaluate(ws, book, cid) == ()  # clear: the candidate may move on
        # Any scope freezes the pipeline — here a single symbol, at its mildest state.
        kill_switch.engage(ws, book, scope="symbol:SYN000", state="reducing",
                           reason="bad prints", as_identity="oscar")
        with book.read() as s:
            measured = measure_kill_switch(s)
        assert (measured.state, measured.scope) == ("reducing", "symbol:SYN000")
        with pytest.raises(Refusal) as frozen:
            promotion.signoff(ws, book, cid, as_identity="validation-agent")
        assert frozen.value.code == "HARD_STOP_KILL_SWITCH_ENGAGED"
        assert "symbol:SYN000" in frozen.value.message
        assert _refusals(book)[-1]["code"] == "HARD_STOP_KILL_SWITCH_ENGAGED"
        # An automatic engagement freezes it just the same.
        kill_switch.engage_automatic(book, Trigger(
            code=TriggerCode.DAILY_LOSS_LIMIT, scope="firm", observed=30_000.0,
            threshold=25_000.0, at=WHEN, detected_at=WHEN, control="RTS-17",
            message="daily loss 30,000.00 reached the limit 25,000.00"))
        codes = _evaluate(ws, book, cid)
        assert "HARD_STOP_KILL_SWITCH_ENGAGED" in codes
        with book.read() as s:
            assert measure_kill_switch(s).model_dump() == {
                "schema_version": "1.0", "state": "halted", "scope": "firm, symbol:SYN000"}
            assert current_state(s, cid) is State.PROPOSED
        # Releasing one scope is not enough; releasing both unfreezes.
        inc = open_test_incident(ws, book)
        kill_switch.release(ws, book, scope="firm", reason="limit reset", incident_id=inc,
                            as_identity="oscar")
        assert "HARD_STOP_KILL_SWITCH_ENGAGED" in _evaluate(ws, book, cid)
        kill_switch.release(ws, book, scope="symbol:SYN000", reason="prints fixed",
                            incident_id=inc, as_identity="oscar")
        assert _evaluate(ws, book, cid) == ()
        assert promotion.signoff(ws, book, cid, as_identity="validation-agent") \
            is State.VALIDATED
        _events(book)  # the chain verifies


# ----------------------------------------------------------------------------- CLI


def test_status_prints_every_scope_and_a_repeated_engage_changes_nothing(ledger_ws: Workspace,  # noqa: F811
                                                          book: Ledger) -> None:
    runner = TyperRunner()
    base = ["-w", str(ledger_ws.root), "ops", "kill-switch"]
    empty = runner.invoke(cli_main.app, [*base, "status"])
    assert empty.exit_code == 0 and empty.stdout.split() == ["firm", "active"]
    kill_switch.engage(ledger_ws, book, scope="symbol:AAA", state="reducing",
                       reason="wide spreads", incident_id="INC-5", as_identity="oscar")
    out = runner.invoke(cli_main.app, [*base, "status"]).stdout.splitlines()
    assert out[0].split() == ["firm", "active"]
    assert out[1].split()[:2] == ["symbol:AAA", "reducing"]
    assert "by oscar (MANUAL): wide spreads [incident INC-5]" in out[1]
    again = runner.invoke(cli_main.app, [*base, "engage", "--scope", "symbol:AAA", "--state",
                                         "reducing", "--reason", "x", "--as", "oscar"])
    assert again.exit_code == 0 and "already reducing; nothing changed" in again.stdout
