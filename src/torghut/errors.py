"""Errors users can act on.

Anything raised as a :class:`TorghutError` is a problem with the user's input or
environment: the CLI prints it as one line naming the file and field and exits with
:attr:`TorghutError.exit_code` (2), never with a traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class TorghutError(Exception):
    """A problem with input or environment, reported as ``FILE: FIELD: message``."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | Path | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        return ": ".join([*parts, self.message])


class WorkspaceError(TorghutError):
    """No workspace, or a workspace in an unexpected state."""


class NotFoundError(TorghutError):
    """An unknown dataset id, strategy type/version or similar."""


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``a.b[0].c``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def from_validation_error(exc: ValidationError, *, file: str | Path | None = None,
                          prefix: str = "") -> TorghutError:
    """Turn the first pydantic error into a one-line :class:`TorghutError`."""
    first = exc.errors()[0]
    loc = field_path(tuple(first["loc"]))
    path = f"{prefix}.{loc}" if prefix and loc != "<root>" else (prefix or loc)
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return TorghutError(f"{first['msg']}{suffix}", file=file, field=path)
