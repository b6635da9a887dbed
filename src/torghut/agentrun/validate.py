"""Validate an AgentRun against its ImplementationSpec, the GitOps repo and the ledger.

:func:`validate_run` collects *every* violation instead of stopping at the first, so an agent
fixes its run in one round: the spec exists; required keys are present and each key's value
has the spec's type and passes its validator; ``head`` starts with ``codex/`` and is new (no
such branch in the GitOps repo, no earlier run in the ledger used it); the name fits
Kubernetes (≤ 63); a TTL is set; and ``parameters.prompt`` — free text that would override
the spec's own instructions — is refused unless the run carries the annotation declaring an
intentionally scoped override.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from torghut.agentrun.catalog import load_catalog
from torghut.agentrun.keys import check_value
from torghut.contracts.agentrun import AgentRun, ImplementationSpec
from torghut.errors import TorghutError
from torghut.gitops.repo import branch_exists
from torghut.ledger import Ledger
from torghut.ledger.models import AuditEventRow
from torghut.workspace import Workspace
from torghut.yamlio import located_errors, read_yaml, validate_yaml_model

MAX_NAME = 63
MAX_RETRIES = 4  # the orchestration policy's cap on transient retries
PROMPT_OVERRIDE_ANNOTATION = "agents.proompteng.ai/prompt-override-scope"
STANDARD_KEYS = ("candidateId", "runId", "stage", "artifactPath")
STARTED = "agentrun.started"
FINISHED = "agentrun.finished"
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Violation:
    """One thing wrong with a run: the field and what is wrong with it."""

    field: str
    message: str

    def line(self, file: str | Path | None = None) -> str:
        return f"{file}: {self.field}: {self.message}" if file else f"{self.field}: {self.message}"


def load_run(path: Path) -> AgentRun:
    """Parse ``RUN.yaml``; a structural problem raises naming the file, line and field."""
    return validate_yaml_model(AgentRun, read_yaml(path), file=path)


def parse_run(path: Path) -> tuple[AgentRun | None, list[Violation]]:
    """Like :func:`load_run`, but every structural problem becomes a violation."""
    data = read_yaml(path)
    try:
        return AgentRun.model_validate(data), []
    except ValidationError as exc:
        return None, [Violation(e.field or "<root>", _at_line(e, path))
                      for e in located_errors(exc, data, file=path)]


def _at_line(err: TorghutError, path: Path) -> str:
    line = (err.file or "").removeprefix(f"{path}:")
    return f"{err.message} (line {line})" if line.isdigit() else err.message


def validate_run(ws: Workspace, ledger: Ledger, run: AgentRun) -> list[Violation]:
    """Every violation of ``run`` (empty: valid); see the module docstring."""
    out = _metadata(run)
    spec = load_catalog().get(run.spec.implementation_spec_ref.name)
    if spec is None:
        out.append(Violation("spec.implementationSpecRef.name",
                             f"no ImplementationSpec {run.spec.implementation_spec_ref.name!r}"))
        return out
    out += _labels(run, spec) + _parameters(run, spec) + _policy(run, spec)
    out += _head(ws, ledger, run, spec) + _finished(ledger, run)
    return out


def _metadata(run: AgentRun) -> list[Violation]:
    out: list[Violation] = []
    name = run.metadata.name
    if len(name) > MAX_NAME:
        out.append(Violation("metadata.name", f"is {len(name)} characters; at most {MAX_NAME}"))
    elif not _K8S_NAME.match(name):
        out.append(Violation("metadata.name", "must be a DNS-1123 label (a-z, 0-9, '-')"))
    if run.spec.ttl_seconds_after_finished is None:
        out.append(Violation("spec.ttlSecondsAfterFinished", "must be set"))
    return out


def _labels(run: AgentRun, spec: ImplementationSpec) -> list[Violation]:
    labels = run.metadata.labels
    out: list[Violation] = []
    if labels.get("lane") != spec.spec.lane:
        out.append(Violation("metadata.labels.lane", f"must be {spec.spec.lane!r} (the spec's "
                             f"lane), not {labels.get('lane')!r}"))
    if not labels.get("stage"):
        out.append(Violation("metadata.labels.stage", "must be set"))
    return out


def _parameters(run: AgentRun, spec: ImplementationSpec) -> list[Violation]:
    params = run.spec.parameters
    out: list[Violation] = []
    for key in spec.spec.contract.required_keys:
        if key.name not in params:
            out.append(Violation(f"spec.parameters.{key.name}",
                                 f"required by {spec.name} ({key.type})"))
    for key in spec.contract_keys():
        if key.name in params:
            problem = check_value(key, params[key.name])
            if problem:
                out.append(Violation(f"spec.parameters.{key.name}", problem))
    known = {k.name for k in spec.contract_keys()} | set(STANDARD_KEYS) | {"prompt"}
    out += [Violation(f"spec.parameters.{name}", f"not a key of {spec.name}")
            for name in sorted(set(params) - known)]
    if "prompt" in params and not run.metadata.annotations.get(PROMPT_OVERRIDE_ANNOTATION):
        out.append(Violation("spec.parameters.prompt", "a prompt override needs the annotation "
                             f"{PROMPT_OVERRIDE_ANNOTATION} declaring its scope"))
    return out


def _policy(run: AgentRun, spec: ImplementationSpec) -> list[Violation]:
    out: list[Violation] = []
    vcs = run.spec.vcs_policy
    if vcs.mode != spec.spec.vcs_mode:
        out.append(Violation("spec.vcsPolicy.mode", f"must be {spec.spec.vcs_mode!r} for "
                             f"{spec.spec.lane}"))
    if vcs.required != (spec.spec.vcs_mode == "read-write"):
        out.append(Violation("spec.vcsPolicy.required",
                             f"must be {str(spec.spec.vcs_mode == 'read-write').lower()}"))
    names = [s.name for s in run.spec.workflow.steps]
    for i, step in enumerate(run.spec.workflow.steps):
        if step.name != spec.spec.lane:
            out.append(Violation(f"spec.workflow.steps[{i}].name",
                                 f"the {spec.spec.lane} workflow has one step, "
                                 f"{spec.spec.lane!r}"))
        if step.retries > MAX_RETRIES:
            out.append(Violation(f"spec.workflow.steps[{i}].retries",
                                 f"at most {MAX_RETRIES} (transient retry cap)"))
    if len(set(names)) != len(names):
        out.append(Violation("spec.workflow.steps", "lists a step twice"))
    return out


def _head(ws: Workspace, ledger: Ledger, run: AgentRun,
          spec: ImplementationSpec) -> list[Violation]:
    head = run.spec.parameters.get("head")
    if "head" not in {k.name for k in spec.contract_keys()} or not isinstance(head, str):
        return []
    out: list[Violation] = []
    if branch_exists(ws.gitops_dir, head):
        out.append(Violation("spec.parameters.head",
                             f"branch {head!r} already exists in the GitOps repo"))
    earlier = [e for e in started_events(ledger)
               if e["payload"].get("head") == head and e["subject"] != run.name]
    if earlier:
        out.append(Violation("spec.parameters.head", f"already used by run "
                             f"{earlier[0]['subject']!r}; heads are never reused"))
    return out


def _finished(ledger: Ledger, run: AgentRun) -> list[Violation]:
    done = [e for e in run_events(ledger, run.name) if e["action"] == FINISHED]
    return [Violation("metadata.name", "this run already finished; runs are not re-executed "
                      "(give the new run a new name)")] if done else []


def started_events(ledger: Ledger) -> list[dict[str, Any]]:
    """Every ``agentrun.started`` event (subject, payload), in chain order."""
    return _events(ledger, AuditEventRow.action == STARTED)


def run_events(ledger: Ledger, name: str) -> list[dict[str, Any]]:
    return _events(ledger, AuditEventRow.subject == name,
                   AuditEventRow.action.like("agentrun.%"))


def _events(ledger: Ledger, *where: Any) -> list[dict[str, Any]]:
    query = select(AuditEventRow.seq, AuditEventRow.action, AuditEventRow.subject,
                   AuditEventRow.actor, AuditEventRow.payload).where(*where).order_by(
        AuditEventRow.seq)
    with ledger.read() as session:
        return [{"seq": r.seq, "action": r.action, "subject": r.subject, "actor": r.actor,
                 "payload": json.loads(r.payload)} for r in session.execute(query)]


def require_valid(ws: Workspace, ledger: Ledger, run: AgentRun,
                  file: str | Path | None = None) -> None:
    """Raise one :class:`TorghutError` summarising the violations, if any."""
    problems = validate_run(ws, ledger, run)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TorghutError(first.message + more, file=file, field=first.field)
