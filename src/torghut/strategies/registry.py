"""The plugin registry: discover, check, register and resolve strategy plugins.

Plugins arrive through the ``torghut.strategies`` entry-point group (name ``TYPE-SEMVER``,
value ``module:Class``) or :meth:`Registry.register`, and are keyed by the class's
``(strategy_type, version)``. Every failure is a record, never a crash: a plugin that does
not import, fails the static check or breaks the SDK contract is listed as disabled with
its reason. Resolving a catalog entry fails closed the same way (plan: "unknown
type/version or invalid params disables the entry with the reason persisted"), and an
unknown version never falls back to another one — rollback is by pinning, explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from torghut.contracts import FEATURE_FIELDS, FEATURE_SCHEMA_VERSION, StrategyDefinition
from torghut.contracts.base import SEMVER_PATTERN, SLUG_PATTERN
from torghut.errors import NotFoundError, TorghutError, field_path
from torghut.strategies.sandbox import sandboxed
from torghut.strategies.sdk import StrategyPlugin, one_line, params_summary, validate_params
from torghut.strategies.static_check import check_module

ENTRY_POINT_GROUP = "torghut.strategies"
_REF = re.compile(r"^(?P<type>[a-z][a-z0-9_\-]{0,62})@(?P<version>\d+\.\d+\.\d+)$")
_ENTRY_POINT_NAME = re.compile(r"^(?P<type>[a-z][a-z0-9_\-]{0,62})-(?P<version>\d+\.\d+\.\d+)$")
_SCHEMA = re.compile(r"^(\d+)\.(\d+)$")
PLUGIN_MEMBERS = ("strategy_type", "version", "Params", "min_feature_schema",
                  "required_features", "warmup_bars", "prepare", "on_event", "signals")


class ReasonCode(StrEnum):
    UNKNOWN_STRATEGY_TYPE = "UNKNOWN_STRATEGY_TYPE"
    UNKNOWN_STRATEGY_VERSION = "UNKNOWN_STRATEGY_VERSION"
    INVALID_PARAMS = "INVALID_PARAMS"
    FEATURE_REQUIREMENTS = "FEATURE_REQUIREMENTS"
    PLUGIN_DISABLED = "PLUGIN_DISABLED"
    STATIC_CHECK = "STATIC_CHECK"
    ENTRY_POINT_ERROR = "ENTRY_POINT_ERROR"
    INVALID_PLUGIN = "INVALID_PLUGIN"
    DUPLICATE_PLUGIN = "DUPLICATE_PLUGIN"


class Status(StrEnum):
    READY = "ready"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Reason:
    """Why something is disabled; ``loc`` is the field path inside a catalog entry."""

    code: ReasonCode
    message: str
    loc: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        where = f"{field_path(self.loc)}: " if self.loc else ""
        return f"{self.code.value}: {where}{self.message}"


@dataclass(frozen=True)
class PluginRecord:
    """One registered (or refused) plugin. ``name`` is ``TYPE@VERSION`` when known."""

    name: str
    source: str
    status: Status
    strategy_type: str | None = None
    version: str | None = None
    reasons: tuple[Reason, ...] = ()
    plugin: StrategyPlugin | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        if self.strategy_type is None or self.version is None:
            return None
        return self.strategy_type, self.version


@dataclass(frozen=True)
class ResolvedEntry:
    """A catalog entry after resolution: ready (with validated params) or disabled."""

    definition: StrategyDefinition
    status: Status
    reasons: tuple[Reason, ...] = ()
    plugin: StrategyPlugin | None = None
    params: BaseModel | None = None

    @property
    def runnable(self) -> bool:
        return self.status is Status.READY and self.definition.enabled


def parse_ref(ref: str) -> tuple[str, str]:
    """``"tsmom@1.0.0"`` → ``("tsmom", "1.0.0")``."""
    match = _REF.match(ref.strip())
    if match is None:
        raise TorghutError(f"expected TYPE@VERSION such as tsmom@1.0.0, got {ref!r}",
                           field="strategy")
    return match["type"], match["version"]


def schema_version(text: str) -> tuple[int, int]:
    match = _SCHEMA.match(text)
    if match is None:
        raise ValueError(f"feature schema version must look like 3.1, got {text!r}")
    return int(match[1]), int(match[2])


class Registry:
    """Plugins keyed by ``(strategy_type, version)``, plus the ones that were refused."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], PluginRecord] = {}
        self._unkeyed: list[PluginRecord] = []

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> Registry:
        registry = cls()
        seen: set[tuple[str, str]] = set()
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
            if (ep.name, ep.value) not in seen:  # one distribution seen twice on the path
                seen.add((ep.name, ep.value))
                registry.load_entry_point(ep)
        return registry

    # -- registration ------------------------------------------------------------------
    def load_entry_point(self, ep: EntryPoint) -> PluginRecord:
        """Check the module statically, import it in the sandbox, then register it."""
        source = f"entry point {ep.name} = {ep.value}"
        match = _ENTRY_POINT_NAME.match(ep.name)
        expected = (match["type"], match["version"]) if match else None
        name = f"{match['type']}@{match['version']}" if match else ep.name
        findings = check_module(ep.module)
        if findings:
            return self._refuse(name, source, expected, ReasonCode.STATIC_CHECK,
                                _summarise(str(f) for f in findings))
        try:
            with sandboxed(name):
                obj = ep.load()
        except (Exception, SystemExit) as exc:
            return self._refuse(name, source, expected, ReasonCode.ENTRY_POINT_ERROR,
                                f"{type(exc).__name__}: {one_line(str(exc))}")
        return self.register(obj, source=source, expected=expected)

    def register(self, cls: Any, *, source: str | None = None,
                 expected: tuple[str, str] | None = None) -> PluginRecord:
        """Register a plugin class defined in code (its module is statically checked)."""
        qualname = getattr(cls, "__qualname__", repr(cls))
        source = source or f"code {getattr(cls, '__module__', '?')}.{qualname}"
        key = _class_key(cls)
        where = key or expected  # a broken class is still listed under its entry point's key
        name = f"{where[0]}@{where[1]}" if where else qualname
        problems = _class_problems(cls)
        if expected is not None and key is not None and key != expected:
            problems.append(f"entry point names {expected[0]}-{expected[1]} but the class "
                            f"declares {key[0]}@{key[1]}")
        if problems:
            return self._refuse(name, source, where, ReasonCode.INVALID_PLUGIN,
                                _summarise(problems))
        assert key is not None
        findings = check_module(cls.__module__)
        if findings:
            return self._refuse(name, source, key, ReasonCode.STATIC_CHECK,
                                _summarise(str(f) for f in findings))
        try:
            with sandboxed(name):
                plugin = cls()
        except Exception as exc:
            return self._refuse(name, source, key, ReasonCode.INVALID_PLUGIN,
                                f"constructor raised {type(exc).__name__}: "
                                f"{one_line(str(exc))}")
        missing = [m for m in PLUGIN_MEMBERS if not hasattr(plugin, m)]
        if missing or not isinstance(plugin, StrategyPlugin):
            return self._refuse(name, source, key, ReasonCode.INVALID_PLUGIN,
                                f"does not implement StrategyPlugin; missing {missing}")
        return self._add(PluginRecord(name, source, Status.READY, *key, plugin=plugin))

    def _refuse(self, name: str, source: str, key: tuple[str, str] | None,
                code: ReasonCode, message: str) -> PluginRecord:
        stype, version = key if key else (None, None)
        record = PluginRecord(name, source, Status.DISABLED, stype, version,
                              (Reason(code, message),))
        return self._add(record)

    def _add(self, record: PluginRecord) -> PluginRecord:
        key = record.key
        if key is None:
            self._unkeyed.append(record)
            return record
        existing = self._records.get(key)
        if existing is not None and existing.source != record.source:
            # Two different plugins claim one key: ambiguity is refused, not guessed.
            record = PluginRecord(
                record.name, f"{existing.source}; {record.source}", Status.DISABLED,
                *key, reasons=(Reason(ReasonCode.DUPLICATE_PLUGIN,
                                      f"{record.name} is provided by more than one "
                                      f"source: {existing.source}; {record.source}"),))
        self._records[key] = record
        return record

    # -- lookup ------------------------------------------------------------------------
    def records(self) -> tuple[PluginRecord, ...]:
        keyed = sorted(self._records.values(), key=lambda r: (r.key or ("", "")))
        return (*keyed, *sorted(self._unkeyed, key=lambda r: r.name))

    def versions(self, strategy_type: str) -> tuple[str, ...]:
        found = [v for (t, v) in self._records if t == strategy_type]
        return tuple(sorted(found, key=lambda v: tuple(int(x) for x in v.split("."))))

    def get(self, strategy_type: str, version: str) -> StrategyPlugin:
        """The ready plugin for an exact key; anything else is a user-facing error."""
        record = self._records.get((strategy_type, version))
        if record is None:
            reason = self._unknown(strategy_type, version)
            raise NotFoundError(str(reason), field="strategy")
        if record.plugin is None:
            raise TorghutError(f"plugin {record.name} is disabled: "
                               + "; ".join(str(r) for r in record.reasons), field="strategy")
        return record.plugin

    def plugin(self, ref: str) -> StrategyPlugin:
        return self.get(*parse_ref(ref))

    def _unknown(self, strategy_type: str, version: str) -> Reason:
        versions = self.versions(strategy_type)
        if not versions:
            known = sorted({t for t, _ in self._records})
            return Reason(ReasonCode.UNKNOWN_STRATEGY_TYPE,
                          f"unknown strategy type {strategy_type!r}; registered: {known}",
                          ("strategy_type",))
        return Reason(ReasonCode.UNKNOWN_STRATEGY_VERSION,
                      f"{strategy_type} has no version {version} (registered: "
                      f"{list(versions)}); versions are never substituted", ("version",))

    # -- resolution --------------------------------------------------------------------
    def resolve(self, definition: StrategyDefinition, *,
                feature_schema: str = FEATURE_SCHEMA_VERSION,
                available_features: Iterable[str] = FEATURE_FIELDS) -> ResolvedEntry:
        """Ready with validated params, or disabled with every reason found."""
        record = self._records.get((definition.strategy_type, definition.version))
        if record is None:
            reason = self._unknown(definition.strategy_type, definition.version)
            return ResolvedEntry(definition, Status.DISABLED, (reason,))
        if record.plugin is None:
            message = f"plugin {record.name} is disabled: " + "; ".join(
                str(r) for r in record.reasons)
            reason = Reason(ReasonCode.PLUGIN_DISABLED, message, ("version",))
            return ResolvedEntry(definition, Status.DISABLED, (reason,))
        plugin = record.plugin
        try:
            with sandboxed(record.name):  # params validators are plugin code too
                params, reasons = _check_entry(plugin, definition, feature_schema,
                                               frozenset(available_features))
        except Exception as exc:
            params, reasons = None, [Reason(
                ReasonCode.INVALID_PLUGIN, f"plugin raised {type(exc).__name__} while "
                f"resolving: {one_line(str(exc))}", ("strategy_type",))]
        if reasons:
            return ResolvedEntry(definition, Status.DISABLED, tuple(reasons), plugin)
        return ResolvedEntry(definition, Status.READY, (), plugin, params)


def _check_entry(plugin: StrategyPlugin, definition: StrategyDefinition, feature_schema: str,
                 available: frozenset[str]) -> tuple[BaseModel | None, list[Reason]]:
    """Validated params (or None) and every params and feature problem found."""
    reasons: list[Reason] = []
    params: BaseModel | None = None
    try:
        params = validate_params(plugin.Params, definition.params)
    except ValidationError as exc:
        reasons.extend(Reason(ReasonCode.INVALID_PARAMS, err["msg"], ("params", *err["loc"]))
                       for err in exc.errors())
    reasons.extend(feature_problems(plugin, definition, feature_schema, available))
    return params, reasons


def describe(record: PluginRecord) -> dict[str, Any]:
    """A plugin's listing: identity, status and reasons, and (when ready) its interface."""
    out: dict[str, Any] = {
        "name": record.name, "strategy_type": record.strategy_type, "version": record.version,
        "status": record.status.value, "source": record.source,
        "reasons": [str(r) for r in record.reasons]}
    plugin = record.plugin
    if plugin is not None:
        try:
            with sandboxed(record.name):
                out.update(min_feature_schema=plugin.min_feature_schema,
                           required_features=list(plugin.required_features()),
                           warmup_bars=_default_warmup(plugin),
                           params=params_summary(plugin.Params))
        except Exception as exc:  # plugin code: report, never crash a listing
            out["error"] = f"{type(exc).__name__}: {one_line(str(exc))}"
    return out


def _default_warmup(plugin: StrategyPlugin) -> int | None:
    try:
        return plugin.warmup_bars(validate_params(plugin.Params, {}))
    except ValidationError:
        return None  # some params are required; the warm-up depends on them


def feature_problems(plugin: StrategyPlugin, definition: StrategyDefinition,
                     feature_schema: str, available: frozenset[str]) -> list[Reason]:
    """Schema compatibility (same major, minor at least the plugin's) and feature names."""
    problems: list[Reason] = []
    need, have = schema_version(plugin.min_feature_schema), schema_version(feature_schema)
    if need[0] != have[0] or need[1] > have[1]:
        problems.append(Reason(
            ReasonCode.FEATURE_REQUIREMENTS,
            f"plugin needs feature schema {plugin.min_feature_schema} (same major, at least "
            f"that minor); the runtime provides {feature_schema}", ("version",)))
    missing = [f for f in plugin.required_features() if f not in available]
    if missing:
        problems.append(Reason(ReasonCode.FEATURE_REQUIREMENTS,
                               f"plugin requires features {missing} that schema "
                               f"{feature_schema} does not provide", ("strategy_type",)))
    problems.extend(
        Reason(ReasonCode.FEATURE_REQUIREMENTS,
               f"unknown feature {name!r} in schema {feature_schema}",
               ("feature_requirements", i))
        for i, name in enumerate(definition.feature_requirements) if name not in available)
    return problems


def _class_key(cls: Any) -> tuple[str, str] | None:
    stype, version = getattr(cls, "strategy_type", None), getattr(cls, "version", None)
    if (isinstance(stype, str) and re.fullmatch(SLUG_PATTERN, stype)
            and isinstance(version, str) and re.fullmatch(SEMVER_PATTERN, version)):
        return stype, version
    return None


def _class_problems(cls: Any) -> list[str]:
    """SDK contract checks that need no instance."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    problems: list[str] = []
    if _class_key(cls) is None:
        problems.append("strategy_type must be a lower-case slug and version a semver "
                        f"(got {getattr(cls, 'strategy_type', None)!r}, "
                        f"{getattr(cls, 'version', None)!r})")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        problems.append("Params must be a pydantic model class")
    elif params.model_config.get("extra") != "forbid" or not params.model_config.get("frozen"):
        problems.append("Params must set extra='forbid' and frozen=True")
    try:
        schema_version(getattr(cls, "min_feature_schema", ""))
    except (ValueError, TypeError) as exc:
        problems.append(str(exc))
    return problems


def _summarise(messages: Iterable[str], limit: int = 3) -> str:
    items = list(messages)
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more
