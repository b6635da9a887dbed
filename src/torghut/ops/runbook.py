"""Runbooks: one per gate and per incident class, structured YAML rendered to Markdown.

The governance plan ("Runbook Requirements") asks each gate for trigger conditions,
execution commands, expected artifacts, rollback commands and an escalation path; the
incident classes of plan-details "Incidents and kill switch" get the same five parts. The
files live beside this module (``runbooks/*.yaml``, package data) and validate strictly
into :class:`Runbook`, so a runbook missing a part — or carrying an unknown key — is an
error, not a shorter page. Every command is a real ``torghut ...`` command line;
``tests/ops/test_ops_runbooks.py`` parses each with the CLI's own parser, so renaming a
command or an option breaks the test instead of the runbook.
"""

from __future__ import annotations

import shlex
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import Field, field_validator

from torghut.contracts.base import SLUG_PATTERN, Contract
from torghut.errors import NotFoundError
from torghut.yamlio import load_yaml_text, validate_yaml_model

RUNBOOK_DIR = "runbooks"
Text = Annotated[str, Field(min_length=1)]


class RunbookCommand(Contract):
    """One command line to run, and why."""

    run: Text = Field(description="A `torghut ...` command line; <placeholders> as values")
    why: Text

    @field_validator("run")
    @classmethod
    def _torghut(cls, value: str) -> str:
        if shlex.split(value)[:1] != ["torghut"]:
            raise ValueError("a runbook command starts with `torghut`")
        return value

    def argv(self) -> list[str]:
        """The arguments after ``torghut`` (what the CLI parser receives)."""
        return shlex.split(self.run)[1:]


class EscalationStep(Contract):
    who: Text
    when: Text


class Runbook(Contract):
    """The five parts, each non-empty."""

    schema_version: Literal["1.0"] = "1.0"
    name: str = Field(pattern=SLUG_PATTERN)
    title: Text
    kind: Literal["gate", "incident", "drill"]
    summary: Text
    trigger_conditions: tuple[Text, ...] = Field(min_length=1)
    execution_commands: tuple[RunbookCommand, ...] = Field(min_length=1)
    expected_artifacts: tuple[Text, ...] = Field(min_length=1)
    rollback_commands: tuple[RunbookCommand, ...] = Field(min_length=1)
    escalation_path: tuple[EscalationStep, ...] = Field(min_length=1)

    def commands(self) -> tuple[RunbookCommand, ...]:
        return (*self.execution_commands, *self.rollback_commands)


def runbook_names() -> tuple[str, ...]:
    """Every shipped runbook, by file name (gates, incident classes, drills)."""
    folder = files("torghut.ops") / RUNBOOK_DIR
    return tuple(sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                        if p.name.endswith(".yaml")))


@cache
def load_runbook(name: str) -> Runbook:
    """The runbook ``name``, validated; an unknown name is exit 2 listing the known ones."""
    if name not in runbook_names():
        raise NotFoundError(f"no runbook {name!r} (one of: {', '.join(runbook_names())})",
                            field="name")
    path = f"torghut/ops/{RUNBOOK_DIR}/{name}.yaml"
    text = (files("torghut.ops") / RUNBOOK_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    runbook = validate_yaml_model(Runbook, load_yaml_text(text, file=path), file=path)
    if runbook.name != name:
        raise NotFoundError(f"file holds runbook {runbook.name!r}", file=path, field="name")
    return runbook


def load_all() -> tuple[Runbook, ...]:
    return tuple(load_runbook(n) for n in runbook_names())


def _commands_md(commands: tuple[RunbookCommand, ...]) -> list[str]:
    out: list[str] = []
    for i, c in enumerate(commands, 1):
        out += [f"{i}. {c.why}", "", "   ```sh", f"   {c.run}", "   ```", ""]
    return out


def to_markdown(runbook: Runbook) -> str:
    """The runbook as a Markdown page (what `torghut ops runbook NAME` prints)."""
    lines = [f"# {runbook.title}", "", runbook.summary.strip(), "", "## Trigger conditions",
             "", *(f"- {t}" for t in runbook.trigger_conditions), "",
             "## Execution commands", "", *_commands_md(runbook.execution_commands),
             "## Expected artifacts", "", *(f"- {a}" for a in runbook.expected_artifacts),
             "", "## Rollback commands", "", *_commands_md(runbook.rollback_commands),
             "## Escalation path", ""]
    lines += [f"{i}. **{s.who}** — {s.when}" for i, s in enumerate(runbook.escalation_path, 1)]
    return "\n".join(lines) + "\n"
