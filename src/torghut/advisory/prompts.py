"""The prompt allow-list: every prompt the advisory path may send, versioned and hashed.

A prompt is never built ad hoc: a call names a task and a version pinned in the advisory
config, and the template's sha256 (over its task, version and text) is recorded with every
call (control AI-R2), so a changed word is a new version, never an edit. The caller's inputs
travel as canonical JSON after the template, never spliced into the instructions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from torghut.contracts.base import canonical_json, sha256_text
from torghut.errors import TorghutError


class Task(StrEnum):
    SUMMARISE_EVIDENCE = "summarise_evidence"
    PROPOSE_PARAM_DELTAS = "propose_param_deltas"
    REVIEW_RATIONALE = "review_rationale"


@dataclass(frozen=True)
class PromptTemplate:
    task: Task
    version: str
    system: str
    instructions: str

    @property
    def prompt_id(self) -> str:
        return f"{self.task.value}@{self.version}"

    @property
    def sha256(self) -> str:
        return sha256_text(canonical_json({"task": self.task.value, "version": self.version,
                                           "system": self.system,
                                           "instructions": self.instructions}))

    def messages(self, inputs: Mapping[str, Any]) -> list[dict[str, str]]:
        """Chat messages: the fixed system text, then instructions + the inputs as JSON."""
        user = f"{self.instructions}\n\nINPUT (JSON):\n{canonical_json(dict(inputs))}"
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


_SYSTEM = ("You are an advisory reviewer for a governed quantitative trading system. You "
           "cannot act: you only advise, and a human decides. Answer with ONE JSON object "
           "and nothing else, exactly matching the schema given; no prose, no code fences.")

_ALLOW_LIST: tuple[PromptTemplate, ...] = (
    PromptTemplate(
        Task.SUMMARISE_EVIDENCE, "1.0.0", _SYSTEM,
        "Summarise the gate evidence below for a human reviewer. Schema: {\"summary\": "
        "string (<= 2000 chars), \"outcome\": \"pass\" | \"fail\" (does the evidence meet "
        "every threshold?), \"key_points\": [string] (<= 10), \"confidence\": number in "
        "[0, 1]}."),
    PromptTemplate(
        Task.PROPOSE_PARAM_DELTAS, "1.0.0", _SYSTEM,
        "Given the strategy parameters, their bounds and the failing gate findings below, "
        "propose parameter changes that might address the findings, or none if every gate "
        "passes. Schema: {\"deltas\": [{\"param\": string, \"value\": number | integer | "
        "boolean | string}] (<= 10; empty when nothing should change), \"rationale\": "
        "string (<= 2000 chars), \"confidence\": number in [0, 1]}."),
    PromptTemplate(
        Task.REVIEW_RATIONALE, "1.0.0", _SYSTEM,
        "Review the rationale below against the gate findings it cites. Say whether the "
        "evidence supports allowing the promotion. Schema: {\"verdict\": \"allow\" | "
        "\"deny\", \"concerns\": [string] (<= 10), \"confidence\": number in [0, 1]}."),
)

ALLOW_LIST: Mapping[tuple[Task, str], PromptTemplate] = {
    (p.task, p.version): p for p in _ALLOW_LIST}
"""(task, version) → template: the only prompts the advisory path may send."""

LATEST: Mapping[Task, str] = {p.task: p.version for p in _ALLOW_LIST}
"""The newest version of each task's prompt (the default version lock)."""


def as_task(value: str) -> Task:
    try:
        return Task(value)
    except ValueError:
        known = ", ".join(t.value for t in Task)
        raise TorghutError(f"unknown advisory task {value!r} (known: {known})",
                           field="task") from None


def prompt_for(task: Task, version: str) -> PromptTemplate:
    """The allow-listed template; anything else is refused as bad input."""
    found = ALLOW_LIST.get((task, version))
    if found is None:
        raise TorghutError(f"prompt {task.value}@{version} is not on the allow-list",
                           field=f"prompts.{task.value}")
    return found
