"""Run the versioned evaluation set against the configured endpoint (control AI-S1).

Every item is one recorded advisory call (source ``evaluation``, with the set's name,
version, sha256 and the item id), so the calls land in the window the ``llm_reliability``
hard stop measures. The run's own reliability, judged against the policy as if the path
were enabled, is the evaluation report a stage transition needs; it is stored in the
artifact store and vouched for by an ``advisory.evaluated`` audit event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from torghut.advisory.advisor import Advice, NoAdvice, Request, advise
from torghut.advisory.config import ADVISORY_PATH, AdvisoryConfig
from torghut.advisory.evalset import EvalSet
from torghut.advisory.reliability import CallRecord, Reliability, breaches, measure, to_contract
from torghut.contracts.gates import GatePolicy
from torghut.errors import TorghutError
from torghut.ledger import Ledger, audit

EVALUATED_ACTION = "advisory.evaluated"


@dataclass(frozen=True)
class EvaluationReport:
    eval_set: str
    eval_version: str
    eval_sha256: str
    model: str
    prompts: dict[str, str]
    items: list[dict[str, Any]]
    reliability: Reliability
    breaches: tuple[str, ...]
    report_sha256: str = ""

    @property
    def passed(self) -> bool:
        return not self.breaches

    def to_json(self) -> dict[str, Any]:
        return {"eval_set": self.eval_set, "eval_version": self.eval_version,
                "eval_sha256": self.eval_sha256, "model": self.model, "prompts": self.prompts,
                "items": self.items, "reliability": self.reliability.to_json(),
                "breaches": list(self.breaches), "passed": self.passed,
                "report_sha256": self.report_sha256 or None}


def run_evaluation(ledger: Ledger, config: AdvisoryConfig, policy: GatePolicy, actor: str,
                   evalset: EvalSet, *, limit: int | None = None) -> EvaluationReport:
    """Ask every item (or the first ``limit``), record each call, report and store."""
    # control: AI-S1
    if config.endpoint is None or config.model is None:
        raise TorghutError("an evaluation needs endpoint and model", file=ADVISORY_PATH,
                           field="endpoint")
    items, records = [], []
    for item in evalset.items[:limit]:
        context = {"eval_set": evalset.name, "eval_version": evalset.version,
                   "eval_sha256": evalset.sha256, "item": item.item_id}
        result = advise(ledger, config, policy, actor, Request(
            item.task, item.inputs, item.expected, "evaluation", context), evaluation=True)
        items.append(_item_row(item.item_id, item.expected, result))
        records.append(_record(item.task.value, item.expected, result))
    rel = measure(records)
    judged = to_contract(max(config.stage, 1), rel, max(len(records), 1))
    report = EvaluationReport(
        evalset.name, evalset.version, evalset.sha256, config.model,
        {t.value: v for t, v in sorted(config.prompts.items())}, items, rel,
        breaches(judged, policy, datetime.now(UTC)))
    return _store(ledger, actor, report)


def _item_row(item_id: str, expected: str, result: Advice | NoAdvice) -> dict[str, Any]:
    if isinstance(result, Advice):
        return {"item": item_id, "call_id": result.call_id, "outcome": result.outcome,
                "expected": expected, "agreed": result.outcome == expected, "reason": None}
    return {"item": item_id, "call_id": result.call_id, "outcome": None,
            "expected": expected, "agreed": None, "reason": result.reason}


def _record(task: str, expected: str, result: Advice | NoAdvice) -> CallRecord:
    if isinstance(result, Advice):
        return CallRecord(result.call_id, task, None, result.latency_ms, True, result.outcome,
                          expected, result.answer.confidence)
    return CallRecord(result.call_id or "", task, result.reason, result.latency_ms, False, None,
                      expected, None)


def _store(ledger: Ledger, actor: str, report: EvaluationReport) -> EvaluationReport:
    body = json.dumps(report.to_json(), sort_keys=True, indent=1).encode("utf-8")
    digest = ledger.artifacts.put(body)
    with ledger.write() as session:
        audit.append(session, actor, EVALUATED_ACTION,
                     f"advisory-eval:{report.eval_set}@{report.eval_version}",
                     {"report_sha256": digest, "passed": report.passed,
                      "breaches": list(report.breaches), "model": report.model},
                     artifact_refs=(digest,))
    return EvaluationReport(**{**report.__dict__, "report_sha256": digest})
