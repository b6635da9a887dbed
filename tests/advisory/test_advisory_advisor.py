"""Call → validate → record (AI-S2, AI-R2) against the local replay server, both backends.

A recorded valid reply is advice; malformed content, schema-invalid content, a reply cut
at the token budget, a 500, a non-completion and a reply slower than the deadline are each
"no advice" with their reason — recorded like advice, and nothing else in the ledger moves.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.advisory.advisory_helpers import enable, events
from tests.advisory.conftest import POLICY
from tests.advisory.llm_server import ReplayServer
from torghut.advisory.advisor import Advice, NoAdvice, Request, advise
from torghut.advisory.config import AdvisoryConfig
from torghut.advisory.prompts import Task, prompt_for
from torghut.advisory.records import CALL_ACTION
from torghut.advisory.schemas import RationaleReview
from torghut.ledger import Ledger
from torghut.ledger.audit import AuditEvent
from torghut.ledger.models import AuditEventRow
from torghut.workspace import Workspace

FAILING = {"candidate": {"strategy": "tsmom@1.0.0", "params": {"lookback": 20}},
           "target": "paper", "rationale": "Sharpe is high.",
           "gates": [{"gate": "gate1", "observations": {"dsr": 0.8},
                      "reasons": ["GATE1_DSR_BELOW_MIN: DSR 0.8 must be at least 0.95"]}]}
REVIEW = Request(Task.REVIEW_RATIONALE, FAILING, expected="deny")


def _calls(ledger: Ledger) -> list[AuditEvent]:
    """Calls made by the test itself (the fixture's evaluation calls left out)."""
    return [e for e in events(ledger, CALL_ACTION) if e.payload["source"] != "evaluation"]


def _other_rows(ledger: Ledger) -> int:
    with ledger.read() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.action != CALL_ACTION)) or 0)


def test_valid_reply_is_advice_recorded_with_everything(
        ledger: Ledger, config: AdvisoryConfig, server: ReplayServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORGHUT_LLM_API_KEY", "sk-test-not-recorded")
    result = advise(ledger, config, POLICY, "research-agent", REVIEW)
    assert isinstance(result, Advice)
    assert isinstance(result.answer, RationaleReview) and result.outcome == "deny"
    (event,) = _calls(ledger)
    p = event.payload
    template = prompt_for(Task.REVIEW_RATIONALE, "1.0.0")
    assert event.actor == "research-agent" and event.subject == f"advisory:{result.call_id}"
    assert (p["prompt_id"], p["prompt_sha256"], p["model"]) == (
        "review_rationale@1.0.0", template.sha256, "gpt-4o-mini")
    assert p["answer"]["verdict"] == "deny" and p["reason"] is None and p["agreed"] is True
    assert p["inputs"] == FAILING and p["served_model"] == "gpt-4o-mini-2024-07-18"
    # the prompt is reconstructible: template (by version) + recorded inputs = what was sent
    assert template.messages(p["inputs"]) == server.received[0]["messages"]
    assert p["response_text"].startswith('{"verdict": "deny"') and len(p["request_sha256"]) == 64
    assert p["latency_ms"] > 0 and p["usage"]["completion_tokens"] > 0
    # the key went to the endpoint, never into the record
    assert server.headers[0]["Authorization"] == "Bearer sk-test-not-recorded"
    assert "sk-test" not in str(p)
    sent = server.received[0]
    assert sent["max_tokens"] == config.max_tokens and sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0]["content"] == template.system


@pytest.mark.parametrize("recording,reason", [
    ("malformed_content", "malformed_json"),
    ("schema_invalid", "schema_invalid"),
    ("truncated_length", "token_budget"),
    ("server_error_500", "http_error"),
    ("not_a_completion", "malformed_response"),
    ("slow", "timeout"),
])
def test_bad_replies_are_no_advice_recorded_never_a_default(
        ledger: Ledger, config: AdvisoryConfig, server: ReplayServer, recording: str,
        reason: str) -> None:
    # control: AI-S2
    server.replay(recording)
    before = _other_rows(ledger)
    result = advise(ledger, config, POLICY, "research-agent", REVIEW)
    assert isinstance(result, NoAdvice) and result.reason == reason, result
    assert result.call_id is not None and not hasattr(result, "answer")
    (event,) = _calls(ledger)
    p = event.payload
    assert (p["reason"], p["error_class"], p["answer"], p["outcome"]) == (reason, reason,
                                                                          None, None)
    assert p["schema_valid"] is False and p["agreed"] is None and p["detail"]
    assert _other_rows(ledger) == before  # nothing but the record of the call


def test_slow_reply_times_out_at_the_deadline(ledger: Ledger, config: AdvisoryConfig,
                                              server: ReplayServer) -> None:
    server.replay("slow")  # 1.5 s recording, 1.0 s deadline
    result = advise(ledger, config, POLICY, "research-agent", REVIEW)
    assert isinstance(result, NoAdvice) and result.reason == "timeout"
    assert result.latency_ms is not None and 900 <= result.latency_ms < 1500


def test_off_by_default_asks_nothing_and_records_nothing(
        ledger: Ledger, server: ReplayServer) -> None:
    result = advise(ledger, AdvisoryConfig(), POLICY, "research-agent", REVIEW)
    assert isinstance(result, NoAdvice) and result.reason == "advisory_off"
    assert result.call_id is None and server.received == []
    assert events(ledger, CALL_ACTION) == []


def test_prompt_over_budget_is_refused_before_sending(
        ledger_ws: Workspace, ledger: Ledger, config: AdvisoryConfig,
        server: ReplayServer) -> None:
    config = enable(ledger_ws, server.url, max_prompt_tokens=50)
    result = advise(ledger, config, POLICY, "research-agent", REVIEW)
    assert isinstance(result, NoAdvice) and result.reason == "prompt_too_large"
    assert server.received == []
    assert _calls(ledger)[0].payload["reason"] == "prompt_too_large"


def test_consecutive_failures_open_the_circuit(
        ledger: Ledger, config: AdvisoryConfig, server: ReplayServer) -> None:
    server.replay("server_error_500")
    for _ in range(config.circuit.failures_to_open):
        assert advise(ledger, config, POLICY, "research-agent", REVIEW).reason == "http_error"
    sent = len(server.received)
    result = advise(ledger, config, POLICY, "research-agent", REVIEW)
    assert isinstance(result, NoAdvice) and result.reason == "circuit_open"
    assert "consecutive calls gave no advice" in result.detail
    assert len(server.received) == sent  # the endpoint was not asked
