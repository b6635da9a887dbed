"""Execute an AgentRun: validate, authorize, run the lane bounded, retry, bundle, record.

One execution is::

    paused lane?  → refuse (LANE_PAUSED, exit 1) until an operations identity resumes it
    validate_run  → violations are a contract failure (recorded, exit 2, nothing written)
    guard.check   → the identity must hold the spec's lane right (a refusal is a policy
                    failure: the lane's rights, not the identity's, bound what the run does)
    agentrun.started (ledger)
    lane workflow, attempt 1..n — only transient failures retry, with backoff (15 s doubling
                    to 300 s, injectable ``sleep`` so tests never wait) and a cap
    bounds        → wall time (checked during the lane), trial budget (before trials run),
                    artifact size (after): exceeding one is a policy failure
    bundle        → metrics.json, diffs/, decision-log.jsonl, manifest.json (sha256 of every
                    file), written to a staging folder and renamed; every file also goes to
                    the content-addressed artifact store
    agentrun.finished | agentrun.failed (ledger, with the manifest's hash)
    pause check   → consecutive failures of one class on the lane reach the policy's count
                    → agentrun.paused
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from torghut.agentrun import pause
from torghut.agentrun.catalog import load_catalog
from torghut.agentrun.context import LaneContext, LaneOutcome
from torghut.agentrun.failures import (
    RULES,
    BoundExceeded,
    ContractFailure,
    FailureClass,
    backoff_seconds,
    classify,
    failure_code,
    failure_message,
)
from torghut.agentrun.lanes import LANES, LaneFn
from torghut.agentrun.validate import (
    FINISHED,
    MAX_RETRIES,
    STARTED,
    Violation,
    run_events,
    validate_run,
)
from torghut.contracts.agentrun import AgentRun, BundleManifest, ImplementationSpec
from torghut.contracts.base import canonical_json, sha256_text
from torghut.fsutil import file_sha256, staging_dir
from torghut.governance import guard
from torghut.ledger import Ledger, audit
from torghut.workspace import Workspace

FAILED = "agentrun.failed"
BUNDLE_DIR = "agentruns"


@dataclass(frozen=True)
class RunResult:
    """What an execution did; ``status`` is ``succeeded`` or ``failed``."""

    run: str
    lane: str
    status: str
    bundle_dir: Path
    outputs: dict[str, Any]
    failure_class: str | None
    attempts: int
    manifest_sha256: str
    failure: str | None = None
    paused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "lane": self.lane, "status": self.status,
                "bundle_dir": str(self.bundle_dir), "outputs": self.outputs,
                "failure_class": self.failure_class, "failure": self.failure,
                "attempts": self.attempts, "manifest_sha256": self.manifest_sha256,
                "paused": self.paused}


class RunViolations(ContractFailure):
    """The run does not validate: every violation is listed (exit 2)."""

    def __init__(self, violations: list[Violation], file: str | Path | None = None) -> None:
        super().__init__(f"{len(violations)} violation(s): "
                         + "; ".join(v.line() for v in violations), file=file)
        self.violations = violations


@dataclass(frozen=True)
class Retry:
    """Transient-retry settings of one run: attempts cap and the injectable sleep."""

    retries: int
    backoff_base: float
    sleep: Callable[[float], None]


@dataclass
class _Attempts:
    count: int = 0
    outcome: LaneOutcome | None = None
    error: BaseException | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)


def execute_run(ws: Workspace, ledger: Ledger, run: AgentRun, *, as_identity: str,
                bundle_root: Path | None = None, sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic,
                lanes: Mapping[str, LaneFn] | None = None,
                file: str | Path | None = None) -> RunResult:
    """Run ``run`` as ``as_identity`` (see the module docstring)."""
    spec = load_catalog().get(run.spec.implementation_spec_ref.name)
    lane = spec.spec.lane if spec else run.metadata.labels.get("lane", "unknown")
    pause.refuse_if_paused(ledger, lane, as_identity, run.name)
    violations = validate_run(ws, ledger, run)
    if violations or spec is None:
        _record_failure(ledger, run, lane, as_identity, FailureClass.CONTRACT,
                        code="RUN_INVALID", message=f"{len(violations)} violation(s)")
        raise RunViolations(violations, file)
    fn = (lanes or LANES)[lane]
    started = datetime.now(UTC)
    try:
        signed = guard.check(ws, ledger, as_identity, spec.spec.identity_action,
                             f"agentrun:{run.name}", _request(run, spec))
    except BaseException as exc:
        return _finish_failed_early(ws, ledger, run, spec, as_identity, exc, bundle_root)
    execution = 1 + sum(1 for e in run_events(ledger, run.name) if e["action"] == STARTED)
    with ledger.write() as session:  # control: RTS-28 (every agent run is in the chain)
        audit.append(session, as_identity, STARTED, run.name,
                     {**_request(run, spec), "execution": execution,
                      "signed_action": signed.model_dump(mode="json")})
    final = (bundle_root or ws.root / BUNDLE_DIR) / run.name / f"execution-{execution}"
    with staging_dir(final) as work:
        ctx = LaneContext(ws=ws, ledger=ledger, run=run, spec=spec, actor=as_identity,
                          work_dir=work, now=started, clock=clock,
                          deadline=clock() + _wall_time(run, spec))
        ctx.decide("authorized", evidence_refs=[signed.content_hash()],
                   action=spec.spec.identity_action, actor=as_identity)
        tries = _attempts(ctx, fn, _retry(run, sleep))
        manifest = _write_bundle(ctx, tries, started)
    return _record_end(ledger, run, spec, as_identity, final, tries, manifest)


def _request(run: AgentRun, spec: ImplementationSpec) -> dict[str, Any]:
    params = run.spec.parameters
    return {"spec": spec.name, "lane": spec.spec.lane, "head": params.get("head"),
            "stage": run.metadata.labels.get("stage"),
            "run_sha256": sha256_text(run.canonical_json())}


def _wall_time(run: AgentRun, spec: ImplementationSpec) -> float:
    steps = [s.timeout_seconds for s in run.spec.workflow.steps]
    return float(min([spec.spec.bounds.wall_time_seconds, *steps]))


def _retry(run: AgentRun, sleep: Callable[[float], None]) -> Retry:
    steps = run.spec.workflow.steps
    if not steps:
        return Retry(MAX_RETRIES, 15.0, sleep)
    return Retry(min(steps[0].retries, RULES[FailureClass.TRANSIENT].retries),
                 steps[0].retry_backoff_seconds, sleep)


def _attempts(ctx: LaneContext, fn: LaneFn, retry: Retry) -> _Attempts:
    """Run the lane; retry only transient failures, waiting the backoff between tries."""
    tries = _Attempts()
    while True:
        tries.count += 1
        try:
            outcome = fn(ctx)
            ctx.check_deadline()
            _check_size(ctx, outcome)
        except Exception as exc:
            cls = classify(exc)
            failure = {"attempt": tries.count, "failure_class": cls.value,
                       "code": failure_code(exc), "message": failure_message(exc)}
            tries.failures.append(failure)
            _decide_failure(ctx, "attempt-failed", failure)
            if cls is FailureClass.TRANSIENT and tries.count <= retry.retries:
                delay = backoff_seconds(tries.count, retry.backoff_base)
                ctx.decide("retry", attempt=tries.count + 1, backoff_seconds=delay)
                _record_attempt(ctx, failure)
                retry.sleep(delay)
                continue
            tries.error = exc
            return tries
        tries.outcome = outcome
        ctx.decide("succeeded", attempt=tries.count, outputs=outcome.outputs)
        return tries


def _decide_failure(ctx: LaneContext, decision: str, failure: dict[str, Any]) -> None:
    ctx.decide(decision, attempt=failure["attempt"], failure_class=failure["failure_class"],
               code=failure["code"], message=failure["message"])


def _check_size(ctx: LaneContext, outcome: LaneOutcome) -> None:
    limit = ctx.spec.spec.bounds.artifact_bytes
    size = sum(_size(p) for p in (*outcome.written, ctx.work_dir))
    if size > limit:
        raise BoundExceeded("ARTIFACT_TOO_LARGE", f"the run wrote {size} bytes; the bound of "
                            f"{ctx.spec.name} is {limit}")


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _write_bundle(ctx: LaneContext, tries: _Attempts, started: datetime) -> BundleManifest:
    """metrics.json, decision-log.jsonl and manifest.json (diffs/ are already there)."""
    (ctx.work_dir / "diffs").mkdir(exist_ok=True)
    cls = classify(tries.error) if tries.error is not None else None
    metrics = {"run": ctx.run.name, "spec": ctx.spec.name, "lane": ctx.spec.spec.lane,
               "status": "failed" if cls else "succeeded", "attempts": tries.count,
               "failure_class": cls.value if cls else None, "failures": tries.failures,
               "started_at": audit.format_ts(started),
               "bounds": ctx.spec.spec.bounds.model_dump(by_alias=True),
               "lane_metrics": tries.outcome.metrics if tries.outcome else {}}
    (ctx.work_dir / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    lines = [canonical_json(d) for d in ctx.decisions]
    (ctx.work_dir / "decision-log.jsonl").write_text(
        "".join(f"{line}\n" for line in lines), encoding="utf-8")
    files = {p.relative_to(ctx.work_dir).as_posix(): file_sha256(p)
             for p in sorted(ctx.work_dir.rglob("*")) if p.is_file()}
    manifest = BundleManifest(run=ctx.run.name, spec=ctx.spec.name, lane=ctx.spec.spec.lane,
                              actor=ctx.actor, attempt=tries.count,
                              status="failed" if cls else "succeeded",
                              failure_class=cls.value if cls else None,
                              run_sha256=sha256_text(ctx.run.canonical_json()), files=files)
    (ctx.work_dir / "manifest.json").write_text(manifest.canonical_json() + "\n",
                                                encoding="utf-8")
    for rel in files:
        ctx.ledger.artifacts.put((ctx.work_dir / rel).read_bytes())
    return manifest


def _record_end(ledger: Ledger, run: AgentRun, spec: ImplementationSpec, actor: str,
                final: Path, tries: _Attempts, manifest: BundleManifest) -> RunResult:
    digest = ledger.artifacts.put((final / "manifest.json").read_bytes())
    body = {"spec": spec.name, "lane": spec.spec.lane, "head": run.spec.parameters.get("head"),
            "attempts": tries.count, "bundle_manifest_sha256": digest,
            "bundle_dir": os.fspath(final)}
    if tries.error is None:
        with ledger.write() as session:
            audit.append(session, actor, FINISHED, run.name,
                         {**body, "status": "succeeded",
                          "outputs": json.loads(json.dumps(tries.outcome.outputs
                                                           if tries.outcome else {},
                                                           default=str))},
                         artifact_refs=(digest,))
        return RunResult(run.name, spec.spec.lane, "succeeded", final,
                         tries.outcome.outputs if tries.outcome else {}, None, tries.count,
                         digest)
    cls = classify(tries.error)
    paused = _record_failure(ledger, run, spec.spec.lane, actor, cls,
                             code=failure_code(tries.error),
                             message=failure_message(tries.error), extra=body,
                             refs=(digest,))
    return RunResult(run.name, spec.spec.lane, "failed", final, {}, cls.value, tries.count,
                     digest, failure=f"{failure_code(tries.error)}: "
                     f"{failure_message(tries.error)}", paused=paused)


def _finish_failed_early(ws: Workspace, ledger: Ledger, run: AgentRun,
                         spec: ImplementationSpec, actor: str, exc: BaseException,
                         bundle_root: Path | None) -> RunResult:
    """A refusal before the run started (the identity lacks the lane's right): recorded as a
    policy failure with a bundle holding the decision, then the lane may pause."""
    if not isinstance(exc, Exception) or classify(exc) is not FailureClass.POLICY:
        raise exc
    started = datetime.now(UTC)
    folder = (bundle_root or ws.root / BUNDLE_DIR) / run.name
    final = folder / f"refused-{len(list(folder.glob('refused-*'))) + 1}"
    with staging_dir(final) as work:
        ctx = LaneContext(ws=ws, ledger=ledger, run=run, spec=spec, actor=actor, work_dir=work,
                          now=started, deadline=float("inf"))
        failure = {"attempt": 1, "failure_class": "policy", "code": failure_code(exc),
                   "message": failure_message(exc)}
        _decide_failure(ctx, "refused", failure)
        tries = _Attempts(count=1, error=exc, failures=[failure])
        manifest = _write_bundle(ctx, tries, started)
    return _record_end(ledger, run, spec, actor, final, tries, manifest)


def _record_attempt(ctx: LaneContext, failure: dict[str, Any]) -> None:
    _record_failure(ctx.ledger, ctx.run, ctx.spec.spec.lane, ctx.actor,
                    FailureClass(failure["failure_class"]), code=failure["code"],
                    message=failure["message"], extra={"attempt": failure["attempt"],
                                                       "retrying": True})


def _record_failure(ledger: Ledger, run: AgentRun, lane: str, actor: str, cls: FailureClass,
                    *, code: str, message: str, extra: Mapping[str, Any] | None = None,
                    refs: tuple[str, ...] = ()) -> bool:
    """Append ``agentrun.failed``; pause the lane if the policy's count is reached."""
    with ledger.write() as session:
        audit.append(session, actor, FAILED, run.name,
                     {**(extra or {}), "lane": lane, "failure_class": cls.value,
                      "code": code, "message": message, "status": "failed"},
                     artifact_refs=refs)
    return pause.pause_if_due(ledger, lane, cls, actor)
