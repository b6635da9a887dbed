"""``torghut config validate``: every Torghut manifest checked, every error located.

Each file is recognised by its name (``strategy-catalog.yaml``, ``runtime-config.yaml``,
``gate-policy.yaml``, ``identities.yaml``, ``kustomization.yaml``) or, failing that, by its
content, then validated against its contract — all errors, not just the first, each as
``file:line: field.path: message``. Then the files of one directory are checked against each
other (the hard stop "config schema/type mismatch" of the governance plan; invariant 7):

* every *enabled* catalog entry declares its RTS-8 limits in the runtime config, and a
  catalog with enabled entries but no runtime config beside it fails closed;
* the runtime config's limits name only strategy ids of the catalog;
* the kustomization's resources and generator files exist.

Catalog entries also resolve against the plugin registry (plugin@version exists, params
validate) via :func:`torghut.strategies.catalog.validate_catalog_file`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from torghut.contracts import GatePolicy, IdentityFile, RuntimeConfig
from torghut.errors import TorghutError, field_path
from torghut.gates.policy import POLICY_PATH
from torghut.gitops.manifests import (
    CATALOG_KEY,
    CATALOG_PATH,
    KUSTOMIZATION_PATH,
    RUNTIME_CONFIG_FILE,
    read_catalog_document,
)
from torghut.governance.identities import IDENTITIES_FILE
from torghut.strategies.catalog import validate_catalog_file
from torghut.strategies.registry import Registry
from torghut.yamlio import line_of, located_errors, read_yaml, to_plain


class Kind(StrEnum):
    CATALOG = "strategy-catalog"
    RUNTIME_CONFIG = "runtime-config"
    GATE_POLICY = "gate-policy"
    IDENTITIES = "identities"
    KUSTOMIZATION = "kustomization"


_BY_NAME = {
    Path(CATALOG_PATH).name: Kind.CATALOG,
    RUNTIME_CONFIG_FILE: Kind.RUNTIME_CONFIG,
    Path(POLICY_PATH).name: Kind.GATE_POLICY,
    IDENTITIES_FILE: Kind.IDENTITIES,
    Path(KUSTOMIZATION_PATH).name: Kind.KUSTOMIZATION,
    "kustomization.yml": Kind.KUSTOMIZATION,
}
_SUFFIXES = (".yaml", ".yml")
_RUNTIME_KEYS = {"firm_limits", "limits", "restricted_list", "kill_switch"}
_POLICY_KEYS = {"policy_version", "gate0", "gate1", "gate2", "gate3", "gate4", "hard_stops"}


@dataclass
class _Checked:
    path: Path
    kind: Kind | None  # None: an unrecognised file inside a directory (skipped)
    explicit: bool  # named on the command line (vs found in a directory or beside a catalog)
    value: Any = None  # the validated contract (catalog: its schema-valid definitions)
    data: Any = None  # the raw YAML (with positions) for locating cross-reference errors
    offset: int = 0  # line offset of ``data`` in the file (a catalog inside a ConfigMap)
    errors: list[TorghutError] = field(default_factory=list)


@dataclass(frozen=True)
class ConfigValidation:
    """Every file looked at, its kind, and every error (``str(e)`` is the report line)."""

    files: tuple[tuple[Path, Kind | None], ...]
    errors: tuple[TorghutError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok,
                "files": [{"path": str(p), "kind": k.value if k else None,
                           "skipped": k is None} for p, k in self.files],
                "errors": [str(e) for e in self.errors]}


def validate_paths(paths: Sequence[Path], registry: Registry | None = None) -> ConfigValidation:
    """Validate files and directories (recursively, skipping dot-folders) of manifests."""
    registry = registry or Registry.from_entry_points()
    checked: dict[Path, _Checked] = {}
    errors: list[TorghutError] = []
    for path in paths:
        if path.is_dir():
            for found in _manifests_under(path):
                checked.setdefault(found, _Checked(found, None, explicit=False))
        elif path.is_file():
            checked[path] = _Checked(path, None, explicit=True)
        else:
            errors.append(TorghutError("no such file or directory", file=path))
    for item in list(checked.values()):
        _validate_file(item, registry)
    for directory in sorted({item.path.parent for item in checked.values()}):
        _cross_check(directory, checked, registry)
    ordered = sorted(checked.values(), key=lambda c: str(c.path))
    nothing = not any(c.kind or c.errors for c in ordered)
    if not errors and nothing:  # fail closed: nothing was checked
        errors.append(TorghutError("no Torghut manifests found",
                                   file=", ".join(str(p) for p in paths)))
    errors.extend(e for item in ordered for e in sorted(item.errors, key=_line))
    return ConfigValidation(files=tuple((c.path, c.kind) for c in ordered),
                            errors=tuple(errors))


def _line(error: TorghutError) -> int:
    """The line number after the last colon of ``file`` (0 when the error has none)."""
    tail = (error.file or "").rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _manifests_under(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        if path.is_file() and path.suffix in _SUFFIXES:
            out.append(path)
    return out


# ------------------------------------------------------------------------------- one file


def _validate_file(item: _Checked, registry: Registry) -> None:
    try:
        item.data = read_yaml(item.path)
        item.kind = _BY_NAME.get(item.path.name) or _by_content(item.data)
        if item.kind is None:
            if item.explicit:
                item.errors.append(TorghutError(
                    "not a Torghut manifest (expected a strategy catalog, runtime config, "
                    "gate policy, identities file or kustomization)", file=item.path))
            return
        if item.data is None:
            raise TorghutError("empty file", file=item.path)
        _VALIDATORS[item.kind](item, registry)
    except TorghutError as exc:  # unreadable or malformed: one located error for the file
        item.errors.append(exc)


def _by_content(doc: Any) -> Kind | None:
    if not isinstance(doc, dict):
        return None
    data = doc.get("data")
    if doc.get("kind") == "ConfigMap" and isinstance(data, dict) and CATALOG_KEY in data:
        return Kind.CATALOG
    if doc.get("kind") == "Kustomization":
        return Kind.KUSTOMIZATION
    keys = set(doc)
    if "strategies" in keys:
        return Kind.CATALOG
    if "identities" in keys:
        return Kind.IDENTITIES
    if keys & _RUNTIME_KEYS:
        return Kind.RUNTIME_CONFIG
    if keys & _POLICY_KEYS:
        return Kind.GATE_POLICY
    return None


def _model(item: _Checked, model: type[BaseModel]) -> None:
    if not isinstance(item.data, dict):
        raise TorghutError(f"expected a YAML mapping ({model.__name__})", file=item.path)
    try:
        item.value = model.model_validate(to_plain(item.data))
    except ValidationError as exc:
        item.errors.extend(located_errors(exc, item.data, file=item.path))


def _catalog(item: _Checked, registry: Registry) -> None:
    result = validate_catalog_file(item.path, registry)
    item.errors.extend(result.errors)
    # The catalog's own mapping (inside the ConfigMap) and its line offset, for cross-checks.
    item.data, item.offset = read_catalog_document(item.path)
    item.value = tuple(e.definition for e in result.entries)


def _kustomization(item: _Checked, _registry: Registry) -> None:
    doc = item.data
    if not isinstance(doc, dict):
        raise TorghutError("expected a YAML mapping (Kustomization)", file=item.path)
    refs: list[tuple[tuple[int | str, ...], Any]] = []
    for i, res in enumerate(doc.get("resources") or []):
        refs.append((("resources", i), res))
    for i, gen in enumerate(doc.get("configMapGenerator") or []):
        files = gen.get("files") if isinstance(gen, dict) else None
        for j, ref in enumerate(files or []):
            refs.append((("configMapGenerator", i, "files", j), str(ref).rpartition("=")[2]))
    for loc, ref in refs:
        if isinstance(ref, str) and "://" not in ref and not (item.path.parent / ref).exists():
            item.errors.append(_at(item, loc, f"{ref!r} not found beside the kustomization"))


_VALIDATORS = {
    Kind.CATALOG: _catalog,
    Kind.RUNTIME_CONFIG: lambda item, _r: _model(item, RuntimeConfig),
    Kind.GATE_POLICY: lambda item, _r: _model(item, GatePolicy),
    Kind.IDENTITIES: lambda item, _r: _model(item, IdentityFile),
    Kind.KUSTOMIZATION: _kustomization,
}


def _at(item: _Checked, loc: tuple[int | str, ...], message: str) -> TorghutError:
    """An error at ``loc`` in ``item``, as ``file:line: field.path: message``."""
    line = line_of(item.data, loc)
    where = f"{item.path}:{line + item.offset}" if line is not None else str(item.path)
    return TorghutError(message, file=where, field=field_path(loc))


# ------------------------------------------------------------------------ cross-references


def _cross_check(directory: Path, checked: dict[Path, _Checked], registry: Registry) -> None:
    here = [c for c in checked.values() if c.path.parent == directory]
    catalogs = _of_kind(here, Kind.CATALOG, directory)
    configs = _of_kind(here, Kind.RUNTIME_CONFIG, directory)
    if catalogs is None or configs is None:
        return
    catalog = catalogs[0] if catalogs else None
    config = configs[0] if configs else None
    if catalog is None or catalog.value is None:
        return
    if config is None and _enabled(catalog):
        config = _sibling(directory / RUNTIME_CONFIG_FILE, Kind.RUNTIME_CONFIG, checked,
                          registry)
    _require_limits(catalog, config)  # control: RTS-8
    if config is not None:
        _known_ids(config, catalog)


def _of_kind(items: Iterable[_Checked], kind: Kind, directory: Path) -> list[_Checked] | None:
    """The files of ``kind`` in a directory; more than one makes cross-references ambiguous."""
    found = [c for c in items if c.kind is kind]
    if len(found) > 1:
        names = ", ".join(c.path.name for c in found)
        found[-1].errors.append(TorghutError(
            f"more than one {kind.value} in one directory ({names}); cross-references need "
            "exactly one", file=directory))
        return None
    return found


def _sibling(path: Path, kind: Kind, checked: dict[Path, _Checked],
             registry: Registry) -> _Checked | None:
    """A file the validated ones depend on (validated too, its errors reported)."""
    if not path.is_file():
        return None
    item = _Checked(path, None, explicit=True)
    _validate_file(item, registry)
    if item.kind is not kind:
        return None
    checked[path] = item
    return item


def _enabled(catalog: _Checked) -> list[tuple[int, str]]:
    """(index, strategy_id) of every entry that says ``enabled: true`` — read from the raw
    YAML, so an entry with another schema error still gets its RTS-8 check."""
    raw = catalog.data.get("strategies") if isinstance(catalog.data, dict) else None
    out = []
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(entry, dict) and entry.get("enabled") is True \
                and isinstance(entry.get("strategy_id"), str):
            out.append((i, entry["strategy_id"]))
    return out


def _limit_ids(config: _Checked) -> set[str] | None:
    """Strategy ids the runtime config declares limits for (read from the raw YAML when the
    file has schema errors, so the cross-references are still reported in the same run)."""
    if isinstance(config.value, RuntimeConfig):
        return set(config.value.limits)
    raw = config.data.get("limits") if isinstance(config.data, dict) else None
    return {str(k) for k in raw} if isinstance(raw, dict) else None


def _require_limits(catalog: _Checked, config: _Checked | None) -> None:
    """RTS 6 Art 8: a strategy declares its limits before it is deployed (enabled)."""
    declared = _limit_ids(config) if config is not None else None
    if config is not None and declared is None:
        return  # unreadable limits: the runtime config's own errors say why
    for index, sid in _enabled(catalog):
        if config is None:
            message = (f"RTS-8: enabled strategy {sid!r} has no declared limits: no "
                       f"{RUNTIME_CONFIG_FILE} beside the catalog")
        elif declared is not None and sid not in declared:
            message = (f"RTS-8: enabled strategy {sid!r} has no limits in "
                       f"{config.path.name} (limits.{sid}: instruments, max_order_value, "
                       "max_orders_per_day, max_position_notional, venues)")
        else:
            continue
        catalog.errors.append(_at(catalog, ("strategies", index, "enabled"), message))


def _known_ids(config: _Checked, catalog: _Checked) -> None:
    ids = {d.strategy_id for d in catalog.value or ()} | _raw_ids(catalog)
    for sid in sorted(_limit_ids(config) or ()):
        if sid not in ids:
            config.errors.append(_at(config, ("limits", sid),
                                     f"no strategy {sid!r} in {catalog.path.name}"))


def _raw_ids(catalog: _Checked) -> set[str]:
    """Ids of entries that failed schema validation still exist: do not call them unknown."""
    raw = catalog.data.get("strategies") if isinstance(catalog.data, dict) else None
    return {str(e.get("strategy_id")) for e in raw or [] if isinstance(e, dict)}
