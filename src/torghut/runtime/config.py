"""The runtime's config: reconcile to GitOps ``main`` like a GitOps controller.

On start and on every reload the runtime reads the strategy catalog and the runtime config
from ``main``, validates them, and applies what it can. A bad entry never takes the runtime
down (DESIGN.md invariant: "a running runtime keeps its last-known-good config and disables
only what is invalid"): a schema-invalid or unresolvable catalog entry is disabled with its
located reason; an entry the runtime config declares no limits for is disabled (RTS-8); an
unreadable runtime config keeps the last-known-good one (or, on a first start, runs nothing —
fail closed). What was applied is an :class:`~torghut.contracts.ops.EffectiveConfig` whose
hash the drift check compares with ``main`` and the ledger records as
``runtime.config.applied`` (RTS-28 "config hash").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from torghut.contracts import (
    EffectiveConfig,
    RuntimeConfig,
    StrategyCatalog,
    StrategyDefinition,
)
from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH, catalog_document
from torghut.gitops.repo import MAIN, rev_parse, show
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH, parse_runtime_config
from torghut.ledger import audit
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION
from torghut.strategies.catalog import validate_catalog_document
from torghut.strategies.registry import Registry, ResolvedEntry
from torghut.workspace import Workspace
from torghut.yamlio import load_yaml_text

RUNTIME_ACTOR = "runtime"


@dataclass(frozen=True)
class EntryStatus:
    """One catalog entry as the runtime sees it: running, or not and why."""

    strategy_id: str
    ref: str  # TYPE@VERSION as written (``?`` when unreadable)
    mode: str
    enabled: bool  # runnable in this runtime's mode
    reason: str | None = None  # why not (None when enabled, or simply switched off)

    def to_json(self) -> dict[str, Any]:
        return {"strategy_id": self.strategy_id, "ref": self.ref, "mode": self.mode,
                "enabled": self.enabled, "reason": self.reason}


@dataclass(frozen=True)
class AppliedConfig:
    """What the runtime runs: the effective config, per-entry status, and where it came from."""

    effective: EffectiveConfig
    entries: tuple[EntryStatus, ...]
    runnable: tuple[ResolvedEntry, ...]  # resolved plugins with validated params
    commit: str  # GitOps main sha this was read from
    applied_at: datetime
    errors: tuple[str, ...] = ()  # config-level problems (e.g. last-known-good kept)

    @property
    def config_sha256(self) -> str:
        return self.effective.config_sha256

    @property
    def runtime_config(self) -> RuntimeConfig:
        return self.effective.runtime_config

    def status(self, strategy_id: str) -> EntryStatus | None:
        return next((e for e in self.entries if e.strategy_id == strategy_id), None)


def apply_config(catalog_text: str | None, runtime_text: str | None, *, commit: str,
                 registry: Registry, previous: AppliedConfig | None = None,
                 now: datetime | None = None) -> AppliedConfig:
    """Pure: the config to run from ``main``'s two files (and the last-known-good)."""
    at = now or datetime.now(UTC)
    errors: list[str] = []
    runtime = _runtime_config(runtime_text, commit, previous, errors)
    if runtime is None:  # first start without a readable runtime config: run nothing
        return AppliedConfig(EffectiveConfig.of(StrategyCatalog(), RuntimeConfig()), (), (),
                             commit, at, tuple(errors))
    file = f"{commit[:12]}:{CATALOG_PATH}"
    try:
        if catalog_text is None:
            raise TorghutError(f"no {CATALOG_PATH} on {MAIN}", file=file)
        data, offset = catalog_document(load_yaml_text(catalog_text, file=file), file)
    except TorghutError as exc:
        if previous is not None:
            errors.append(f"catalog unreadable, last-known-good kept: {exc}")
            return _keep_catalog(previous, runtime, commit, at, errors)
        errors.append(f"catalog unreadable, nothing runs: {exc}")
        return AppliedConfig(EffectiveConfig.of(StrategyCatalog(), runtime), (), (), commit,
                             at, tuple(errors))
    return _apply_catalog(data, offset, file, runtime, registry, commit, at, errors)


def _runtime_config(text: str | None, commit: str, previous: AppliedConfig | None,
                    errors: list[str]) -> RuntimeConfig | None:
    file = f"{commit[:12]}:{RUNTIME_CONFIG_PATH}"
    try:
        if text is None:
            raise TorghutError(f"no {RUNTIME_CONFIG_PATH} on {MAIN}", file=file)
        return parse_runtime_config(text, file=file)
    except TorghutError as exc:
        kept = previous.runtime_config if previous is not None else None
        verdict = "last-known-good kept" if kept is not None else "nothing runs"
        errors.append(f"runtime config invalid, {verdict}: {exc}")
        return kept


def _keep_catalog(previous: AppliedConfig, runtime: RuntimeConfig, commit: str,
                  at: datetime, errors: list[str]) -> AppliedConfig:
    effective = EffectiveConfig.of(previous.effective.catalog, runtime)
    return AppliedConfig(effective, previous.entries, previous.runnable, commit, at,
                         tuple(errors))


def _apply_catalog(data: Any, offset: int, file: str, runtime: RuntimeConfig,
                   registry: Registry, commit: str, at: datetime,
                   errors: list[str]) -> AppliedConfig:
    validation = validate_catalog_document(data, offset, Path(file), registry)
    resolved = {e.definition.strategy_id: e for e in validation.entries}
    located = [str(e) for e in validation.errors]
    statuses: list[EntryStatus] = []
    runnable: list[ResolvedEntry] = []
    definitions: list[StrategyDefinition] = []
    for index, raw in enumerate(_raw_entries(data)):
        sid = str(raw.get("strategy_id", f"entry-{index}")) if isinstance(raw, dict) else \
            f"entry-{index}"
        entry = resolved.get(sid)
        if entry is None:  # schema-invalid: it cannot even be represented
            statuses.append(EntryStatus(sid, _raw_ref(raw), str(_get(raw, "mode", "?")), False,
                                        _reason_for(index, located)))
            continue
        status, ok = _entry_status(entry, runtime, index, located)
        statuses.append(status)
        definitions.append(entry.definition if ok or not entry.definition.enabled
                           else entry.definition.model_copy(update={"enabled": False}))
        if ok:
            runnable.append(entry)
    catalog = StrategyCatalog(strategies=tuple(definitions))
    return AppliedConfig(EffectiveConfig.of(catalog, runtime), tuple(statuses),
                         tuple(runnable), commit, at, tuple(errors))


def _entry_status(entry: ResolvedEntry, runtime: RuntimeConfig, index: int,
                  located: list[str]) -> tuple[EntryStatus, bool]:
    d = entry.definition

    def make(ok: bool, why: str | None = None) -> EntryStatus:
        return EntryStatus(d.strategy_id, d.ref, d.mode.value, ok, why)

    if not d.enabled:
        return make(False), False
    if not entry.runnable:
        return make(False, _reason_for(index, located) or "; ".join(map(str, entry.reasons))), False
    if d.mode is not runtime.mode:
        return make(False, f"MODE: entry runs in {d.mode.value}, this runtime in "
                           f"{runtime.mode.value}"), False
    if d.strategy_id not in runtime.limits:  # control: RTS-8
        return make(False, f"LIMITS_MISSING: {RUNTIME_CONFIG_PATH} declares no limits for "
                           f"{d.strategy_id} (RTS-8)"), False
    return make(True), True


def _raw_entries(data: Any) -> list[Any]:
    items = data.get("strategies") if isinstance(data, dict) else None
    return list(items) if isinstance(items, list) else []


def _get(raw: Any, key: str, default: Any) -> Any:
    return raw.get(key, default) if isinstance(raw, dict) else default


def _raw_ref(raw: Any) -> str:
    return f"{_get(raw, 'strategy_type', '?')}@{_get(raw, 'version', '?')}"


def _reason_for(index: int, located: list[str]) -> str | None:
    """The located error messages of entry ``index`` (``strategies[i]`` in the field path)."""
    needle = f"strategies[{index}]"
    mine = [e for e in located if needle in e]
    return "; ".join(mine) if mine else None


class ConfigReconciler:
    """Keeps an :class:`AppliedConfig` in step with ``main`` (call :meth:`reconcile`)."""

    def __init__(self, ws: Workspace, *, registry: Registry | None = None,
                 ref: str = MAIN) -> None:
        self.ws = ws
        self.ref = ref
        self.registry = registry or Registry.from_entry_points()
        self.current: AppliedConfig | None = None
        self.reloads = 0

    def reconcile(self, *, now: datetime | None = None) -> AppliedConfig:
        """Re-read ``main`` when it moved (or on first call); return what now applies."""
        repo = self.ws.gitops_dir
        commit = rev_parse(repo, self.ref)
        if commit is None:  # the ref is gone: keep the last-known-good config, if any
            if self.current is not None:
                return self.current
            raise TorghutError(f"{repo}: no such ref", field=self.ref)
        if self.current is not None and self.current.commit == commit:
            return self.current
        self.current = apply_config(show(repo, CATALOG_PATH, commit),
                                    show(repo, RUNTIME_CONFIG_PATH, commit), commit=commit,
                                    registry=self.registry, previous=self.current, now=now)
        self.reloads += 1
        return self.current


@dataclass
class AppliedRecorder:
    """Writes ``runtime.config.applied`` once per distinct applied config hash."""

    last: str | None = field(default=None)

    def record(self, session: Session, applied: AppliedConfig, *,
               actor: str = RUNTIME_ACTOR) -> bool:
        if applied.config_sha256 == self.last:
            return False
        record_applied(session, applied, actor=actor)
        self.last = applied.config_sha256
        return True


def record_applied(session: Session, applied: AppliedConfig, *,
                   actor: str = RUNTIME_ACTOR) -> None:
    """The audit event the drift hard stop reads (``config_sha256``) plus what was disabled."""
    audit.append(session, actor, RUNTIME_APPLIED_ACTION, f"gitops:{applied.commit[:12]}", {
        "config_sha256": applied.config_sha256, "commit": applied.commit,
        "mode": applied.runtime_config.mode.value,
        "entries": [e.to_json() for e in applied.entries],
        "errors": list(applied.errors)})
