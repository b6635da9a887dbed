"""Validate a strategy catalog file: schema *and* plugin resolution, every error located.

Builds on :mod:`torghut.gitops.manifests` (bare catalog or the ConfigMap that embeds it) and
:mod:`torghut.yamlio` (pydantic errors → ``file:line``). Where ``load_catalog`` stops at the
first schema error, this reports all of them, then resolves every entry that is
schema-valid against the registry, so one run shows everything a reviewer must fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from torghut.contracts import StrategyCatalog, StrategyDefinition
from torghut.errors import TorghutError, field_path
from torghut.gitops.manifests import catalog_document, read_catalog_document
from torghut.strategies.registry import Reason, Registry, ResolvedEntry
from torghut.yamlio import line_of, load_yaml_text, located_errors, to_plain


@dataclass(frozen=True)
class CatalogValidation:
    file: Path
    errors: tuple[TorghutError, ...]  # each renders as "file:line: field.path: message"
    entries: tuple[ResolvedEntry, ...]  # the schema-valid entries, resolved

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_catalog_file(path: Path, registry: Registry) -> CatalogValidation:
    """Every schema and resolution error in ``path``; unreadable files raise instead."""
    data, offset = read_catalog_document(path)
    return validate_catalog_document(data, offset, path, registry)


def validate_catalog_text(text: str, file: str, registry: Registry) -> CatalogValidation:
    """The same for a catalog's text (e.g. a file on GitOps ``main``, named ``file``)."""
    data, offset = catalog_document(load_yaml_text(text, file=file), file)
    return validate_catalog_document(data, offset, Path(file), registry)


def validate_catalog_document(data: Any, offset: int, path: Path,
                              registry: Registry) -> CatalogValidation:
    """Every schema and resolution error of a parsed catalog document."""
    errors: list[tuple[int, TorghutError]] = []
    try:
        catalog = StrategyCatalog.model_validate(to_plain(data))
        indexed = list(enumerate(catalog.strategies))
    except ValidationError as exc:
        errors.extend((_line(e), e) for e in located_errors(exc, data, file=path,
                                                            line_offset=offset))
        indexed = _valid_entries(data)
    entries: list[ResolvedEntry] = []
    for i, definition in indexed:
        entry = registry.resolve(definition)
        entries.append(entry)
        errors.extend(_locate(reason, i, data, path, offset) for reason in entry.reasons)
    errors.sort(key=lambda item: item[0])  # stable: schema errors first on a shared line
    return CatalogValidation(path, tuple(e for _, e in errors), tuple(entries))


def _valid_entries(data: dict[str, Any]) -> list[tuple[int, StrategyDefinition]]:
    """Entries that validate on their own, so resolution runs despite other schema errors."""
    items = data.get("strategies")
    if not isinstance(items, list):
        return []
    valid: list[tuple[int, StrategyDefinition]] = []
    for i, item in enumerate(items):
        try:
            valid.append((i, StrategyDefinition.model_validate(to_plain(item))))
        except ValidationError:
            continue  # already reported, located, by the catalog-level validation
    return valid


def _locate(reason: Reason, index: int, data: Any, path: Path,
            offset: int) -> tuple[int, TorghutError]:
    loc = ("strategies", index, *reason.loc)
    line = line_of(data, loc)
    where = f"{path}:{line + offset}" if line is not None else str(path)
    error = TorghutError(f"{reason.code.value}: {reason.message}", file=where,
                         field=field_path(loc))
    return (line + offset if line is not None else 0), error


def _line(error: TorghutError) -> int:
    """The line number located_errors put after the last colon of ``file`` (0 if none)."""
    tail = (error.file or "").rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0
