"""Round-trip YAML (ruamel) with source positions, for errors that say file:line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from torghut.errors import TorghutError, field_path

M = TypeVar("M", bound=BaseModel)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    # Write None as an explicit `null` (ruamel's default is an empty value, easy to misread).
    y.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def load_yaml_text(text: str, *, file: str | Path, line_offset: int = 0) -> Any:
    """Parse YAML; a syntax error names ``file:line`` (``line_offset`` for embedded text)."""
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1 + line_offset}" if mark is not None else str(file)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TorghutError(f"malformed YAML: {problem}", file=where) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TorghutError("file not found", file=path) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise TorghutError(f"cannot read: {exc.__class__.__name__}", file=path) from None
    return load_yaml_text(text, file=path)


def dump_yaml(data: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def line_of(node: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node on ``loc`` that still has a position."""
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def located_errors(exc: ValidationError, data: Any, *, file: str | Path,
                   line_offset: int = 0, prefix: str = "") -> list[TorghutError]:
    """One :class:`TorghutError` per pydantic error, each naming file:line and field path."""
    out: list[TorghutError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(data, loc)
        where = f"{file}:{line + line_offset}" if line is not None else str(file)
        path = field_path(loc)
        if prefix:
            path = f"{prefix}.{path}" if path != "<root>" else prefix
        out.append(TorghutError(err["msg"], file=where, field=path))
    return out


def validate_yaml_model(model: type[M], data: Any, *, file: str | Path,
                        line_offset: int = 0, prefix: str = "") -> M:
    """Validate YAML data into ``model``; the error names file:line and the field path."""
    try:
        return model.model_validate(to_plain(data))
    except ValidationError as exc:
        errors = located_errors(exc, data, file=file, line_offset=line_offset, prefix=prefix)
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise TorghutError(first.message + more, file=first.file, field=first.field) from None


def to_plain(node: Any) -> Any:
    """ruamel containers → plain dict/list (scalars keep their Python types)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node
