"""Call → validate → record → :class:`Advice` or :class:`NoAdvice` (controls AI-S2, AI-R2).

Nothing here acts on an answer. A timeout, an HTTP error, a reply that is not a chat
completion, content that is not JSON, JSON that fails the strict schema, a reply cut at
the token budget — each is :class:`NoAdvice` with a stable reason, recorded like a good
answer, and the caller does exactly what it would have done without asking.

Before sending, the path checks its own state (AI-R1): off at stage 0; *forced off* while
the ``llm_reliability`` hard stop holds over the window of recorded calls; *circuit open*
for ``circuit.open_seconds`` after ``circuit.failures_to_open`` consecutive no-advice
calls. The evaluation run (``evaluate``) is the one caller that may send while forced off
or open: it is how the path earns its way back.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.orm import Session

from torghut.advisory.client import CallFailed, Reply, chat_completion
from torghut.advisory.config import AdvisoryConfig
from torghut.advisory.prompts import PromptTemplate, Task, prompt_for
from torghut.advisory.records import recent_calls, record_call
from torghut.advisory.reliability import CallRecord, Reliability, breaches, to_contract
from torghut.advisory.reliability import measure as measure_records
from torghut.advisory.schemas import RESPONSE_MODELS, Answer, outcome_of
from torghut.contracts.base import canonical_json, sha256_text
from torghut.contracts.gates import GatePolicy, LlmReliability
from torghut.errors import field_path
from torghut.ledger import Ledger

_MAX_RECORDED_TEXT = 20_000
PathStatus = Literal["off", "on", "forced_off", "circuit_open"]


@dataclass(frozen=True)
class Advice:
    call_id: str
    task: Task
    answer: Answer
    outcome: str
    latency_ms: float


@dataclass(frozen=True)
class NoAdvice:
    """No advice; ``call_id`` is ``None`` only when nothing was asked (the path is off)."""

    call_id: str | None
    task: Task
    reason: str
    detail: str
    latency_ms: float | None = None


@dataclass(frozen=True)
class PathState:
    stage: int
    status: PathStatus
    reasons: tuple[str, ...]
    reliability: Reliability
    measured: LlmReliability
    open_until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "reasons": list(self.reasons),
                "open_until": self.open_until.isoformat() if self.open_until else None,
                "reliability": self.reliability.to_json(),
                "measured": self.measured.model_dump(mode="json")}


@dataclass(frozen=True)
class Request:
    """What to ask: the task, its inputs and the deterministic outcome, if one is known."""

    task: Task
    inputs: Mapping[str, Any]
    expected: str | None = None
    source: str = "request"
    context: Mapping[str, Any] = field(default_factory=dict)


def path_state(session: Session, config: AdvisoryConfig, policy: GatePolicy,
               now: datetime | None = None) -> PathState:
    """Off, on, forced off (the hard stop holds: AI-R1) or circuit open."""
    now = now or datetime.now(UTC)
    records = recent_calls(session, policy.hard_stops.llm_window_calls)
    rel = measure_records(records)
    measured = to_contract(config.stage, rel, policy.hard_stops.llm_window_calls)
    if not config.enabled:
        return PathState(config.stage, "off", ("stage 0: the advisory path is off",), rel,
                         measured)
    held = breaches(measured, policy, now)
    if held:
        return PathState(config.stage, "forced_off", held, rel, measured)
    open_until = _circuit_open_until(records, config)
    if open_until is not None and open_until > now:
        n = config.circuit.failures_to_open
        return PathState(config.stage, "circuit_open", (f"{n} consecutive calls gave no "
                         f"advice; open until {open_until.isoformat()}",), rel, measured,
                         open_until)
    return PathState(config.stage, "on", (), rel, measured)


def _circuit_open_until(records: list[CallRecord], config: AdvisoryConfig) -> datetime | None:
    sent = [r for r in records if r.sent]
    last = sent[-config.circuit.failures_to_open:]
    if len(last) < config.circuit.failures_to_open or any(r.reason is None for r in last):
        return None
    ts = last[-1].ts
    if ts is None:
        return None
    failed_at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return failed_at + timedelta(seconds=config.circuit.open_seconds)


def advise(ledger: Ledger, config: AdvisoryConfig, policy: GatePolicy, actor: str,
           request: Request, *, evaluation: bool = False) -> Advice | NoAdvice:
    """Ask once, as ``actor``; every outcome but "the path is off" is recorded."""
    template = prompt_for(request.task, config.prompt_version(request.task))
    if not evaluation:
        if not config.enabled:
            return NoAdvice(None, request.task, "advisory_off",
                            "stage 0: the advisory path is off (apps/torghut/advisory.yaml)")
        with ledger.read() as session:
            state = path_state(session, config, policy)
        if state.status != "on":  # forced_off or circuit_open: nothing is sent
            return _refuse(ledger, config, actor, request, template, state.status,
                           "; ".join(state.reasons))
    messages = template.messages(request.inputs)
    size = math.ceil(sum(len(m["content"]) for m in messages) / 4)
    if size > config.max_prompt_tokens:
        return _refuse(ledger, config, actor, request, template, "prompt_too_large",
                       f"prompt ~{size} tokens over the budget of {config.max_prompt_tokens}")
    body: dict[str, object] = {
        "model": config.model, "messages": messages, "max_tokens": config.max_tokens,
        "temperature": 0, "response_format": {"type": "json_object"}}
    assert config.endpoint is not None  # an enabled or evaluated config has one
    try:
        reply = chat_completion(config.endpoint, body, timeout=config.timeout_seconds,
                                api_key=config.api_key())
    except CallFailed as failed:
        return _finish(ledger, config, actor, request, template, body,
                       _Outcome(None, failed.reason, failed.detail, "", failed.latency_ms))
    return _finish(ledger, config, actor, request, template, body,
                   interpret(request.task, reply, config.max_tokens))


@dataclass(frozen=True)
class _Outcome:
    answer: Answer | None
    reason: str | None
    detail: str
    text: str
    latency_ms: float | None
    usage: Mapping[str, Any] = field(default_factory=dict)
    body_sha256: str | None = None
    served_model: str | None = None  # the model the reply says answered


def interpret(task: Task, reply: Reply, max_tokens: int) -> _Outcome:
    """Parse a chat completion strictly; anything off is a reason, never a guess."""
    raw = reply.body.decode("utf-8", "replace")

    served: str | None = None

    def no(reason: str, detail: str, text: str = raw,
           usage: Mapping[str, Any] | None = None) -> _Outcome:
        return _Outcome(None, reason, detail, text, reply.latency_ms, usage or {},
                        sha256_text(raw), served)

    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        content = choice["message"]["content"]
        usage = data.get("usage") or {}
        served = data.get("model") if isinstance(data.get("model"), str) else None
        if not isinstance(content, str) or not isinstance(usage, dict):
            raise TypeError("content is not a string")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return no("malformed_response", f"not an OpenAI chat completion: "
                  f"{type(exc).__name__}: {exc}")
    completion = usage.get("completion_tokens")
    if choice.get("finish_reason") == "length" or (
            isinstance(completion, int) and completion > max_tokens):
        return no("token_budget", f"reply cut at the token budget ({max_tokens})", content,
                  usage)
    try:
        parsed = json.loads(content)
    except ValueError as exc:
        return no("malformed_json", f"content is not JSON: {exc}", content, usage)
    try:
        answer = RESPONSE_MODELS[task].model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        return no("schema_invalid", f"{field_path(tuple(first['loc']))}: {first['msg']}",
                  content, usage)
    return _Outcome(answer, None, "", content, reply.latency_ms, usage, sha256_text(raw),
                    served)


def _refuse(ledger: Ledger, config: AdvisoryConfig, actor: str, request: Request,
            template: PromptTemplate, reason: str, detail: str) -> NoAdvice:
    result = _finish(ledger, config, actor, request, template, None,
                     _Outcome(None, reason, detail, "", None))
    assert isinstance(result, NoAdvice)
    return result


def _finish(ledger: Ledger, config: AdvisoryConfig, actor: str, request: Request,
            template: PromptTemplate, body: Mapping[str, Any] | None,
            out: _Outcome) -> Advice | NoAdvice:
    call_id = uuid.uuid4().hex
    outcome = outcome_of(out.answer) if out.answer is not None else None
    payload = {
        "call_id": call_id, "task": request.task.value, "source": request.source,
        "context": dict(request.context), "prompt_id": template.prompt_id,
        "prompt_version": template.version, "prompt_sha256": template.sha256,
        "model": config.model, "served_model": out.served_model,
        "endpoint": config.endpoint, "stage": config.stage, "inputs": dict(request.inputs),
        "inputs_sha256": sha256_text(canonical_json(dict(request.inputs))),
        "request_sha256": sha256_text(canonical_json(dict(body))) if body else None,
        "response_text": out.text[:_MAX_RECORDED_TEXT], "response_sha256": out.body_sha256,
        "usage": _plain(out.usage), "latency_ms": out.latency_ms,
        "answer": out.answer.model_dump(mode="json") if out.answer is not None else None,
        "schema_valid": out.answer is not None, "reason": out.reason,
        "error_class": out.reason, "detail": out.detail, "outcome": outcome,
        "expected": request.expected,
        "agreed": None if outcome is None or request.expected is None
        else outcome == request.expected,
        "confidence": out.answer.confidence if out.answer is not None else None,
    }
    record_call(ledger, actor, payload)
    if out.answer is None or outcome is None:
        return NoAdvice(call_id, request.task, out.reason or "no_advice", out.detail,
                        out.latency_ms)
    return Advice(call_id, request.task, out.answer, outcome, out.latency_ms or 0.0)


def _plain(usage: Mapping[str, Any]) -> dict[str, int]:
    """Token counts only (a reply may carry anything; the record keeps plain integers)."""
    return {str(k): v for k, v in usage.items() if isinstance(v, int) and not isinstance(
        v, bool)}
