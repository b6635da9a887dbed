"""The workspace: one object that knows every path and how to find itself.

Layout (DESIGN.md "Workspace")::

    torghut.toml   settings          ledger.db   SQLite ledger (created by the ledger lane)
    artifacts/     content-addressed datasets/  immutable snapshots, one folder per id
    keys/          signing keys      gitops/     a git repository whose main holds apps/torghut/

A command finds its workspace from ``--workspace/-w``, then ``$TORGHUT_WORKSPACE``, then the
current directory and its parents.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from torghut.errors import WorkspaceError, from_validation_error
from torghut.fsutil import atomic_write_text

CONFIG_FILE = "torghut.toml"
ENV_VAR = "TORGHUT_WORKSPACE"


class LedgerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str = Field(default="sqlite:///ledger.db",
                     description="SQLAlchemy URL; relative sqlite paths are workspace-relative")


class WorkspaceSettings(BaseModel):
    """The parsed ``torghut.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal["1.0"] = "1.0"
    name: str = "torghut"
    default_mode: Literal["shadow", "paper"] = "paper"
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)


def render_settings(settings: WorkspaceSettings) -> str:
    return (
        "# Torghut workspace settings\n"
        f'schema_version = "{settings.schema_version}"\n'
        f'name = "{settings.name}"\n'
        "# Paper is the default; live trading is gated (Gate 4 + explicit approval).\n"
        f'default_mode = "{settings.default_mode}"\n\n'
        "[ledger]\n"
        "# sqlite:///ledger.db (workspace-relative) or postgresql+psycopg://user@host/db\n"
        f'url = "{settings.ledger.url}"\n'
    )


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: WorkspaceSettings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def gitops_dir(self) -> Path:
        return self.root / "gitops"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.db"

    @property
    def ledger_url(self) -> str:
        url = self.settings.ledger.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            return f"{prefix}{self.root / url[len(prefix):]}"
        return url

    @classmethod
    def load(cls, root: Path) -> Workspace:
        root = root.resolve()
        path = root / CONFIG_FILE
        if not path.is_file():
            raise WorkspaceError(f"not a Torghut workspace (no {CONFIG_FILE}); run "
                                 "`torghut init DIR` first", file=root)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"malformed TOML: {exc}", file=path) from None
        try:
            return cls(root=root, settings=WorkspaceSettings.model_validate(raw))
        except ValidationError as exc:
            raise from_validation_error(exc, file=path) from None

    @classmethod
    def find(cls, explicit: Path | None = None, cwd: Path | None = None) -> Workspace:
        """Resolve the workspace: explicit path, then $TORGHUT_WORKSPACE, then cwd upward."""
        if explicit is not None:
            return cls.load(explicit)
        env = os.environ.get(ENV_VAR)
        if env:
            return cls.load(Path(env))
        start = (cwd or Path.cwd()).resolve()
        for candidate in (start, *start.parents):
            if (candidate / CONFIG_FILE).is_file():
                return cls.load(candidate)
        raise WorkspaceError(f"no workspace found from {start} upward; pass --workspace DIR, "
                             f"set {ENV_VAR}, or run `torghut init DIR`")


def init_workspace(root: Path, *, force: bool = False, name: str | None = None) -> Workspace:
    """Create (or, with ``force``, repair) a workspace. Never deletes or overwrites data.

    Without ``force`` an existing workspace is refused. With ``force`` only missing parts
    are created; existing settings, datasets, keys and the GitOps history are kept (files
    missing from GitOps ``main`` are added in one commit; see
    :func:`torghut.gitops.bootstrap.ensure_gitops_repo`).
    """
    from torghut.gitops.bootstrap import ensure_gitops_repo

    root = root.resolve()
    config = root / CONFIG_FILE
    if config.exists() and not force:
        raise WorkspaceError("workspace already exists; pass --force to add missing parts "
                             "(existing data is never touched)", file=root)
    if root.exists() and not root.is_dir():
        raise WorkspaceError("path exists and is not a directory", file=root)
    root.mkdir(parents=True, exist_ok=True)
    if not config.exists():
        settings = WorkspaceSettings(name=name or root.name or "torghut")
        atomic_write_text(config, render_settings(settings))
    ws = Workspace.load(root)
    for folder in (ws.datasets_dir, ws.artifacts_dir, ws.keys_dir):
        folder.mkdir(exist_ok=True)
    os.chmod(ws.keys_dir, 0o700)
    ensure_gitops_repo(ws.gitops_dir, ws.keys_dir)
    return ws
