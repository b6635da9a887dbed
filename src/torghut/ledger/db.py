"""Engines, migrations and sessions for the ledger, on SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with foreign keys ON. Writers serialise on one lock so the audit
chain can never fork: on SQLite every write transaction starts with ``BEGIN IMMEDIATE``
(the database's single writer lock, taken before the chain head is read); on PostgreSQL
it takes a transaction-scoped advisory lock. Readers never block writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from torghut.errors import TorghutError
from torghut.ledger.artifacts import ArtifactStore
from torghut.workspace import CONFIG_FILE, Workspace

_IMMEDIATE = "torghut_immediate"
# pg_advisory_xact_lock key: "torghut" chain writer, arbitrary but fixed.
_PG_CHAIN_LOCK = 0x746F7267687574
_SQLITE_BUSY_TIMEOUT_S = 60.0


class LedgerError(TorghutError):
    """The ledger cannot be opened or used (bad URL, unreachable server, …)."""


if TYPE_CHECKING:  # alembic loads in ~0.4 s: only migrations need it
    from alembic.config import Config


def normalise_url(url: str) -> str:
    """Accept ``sqlite:///…`` and ``postgresql[+psycopg]://…`` (psycopg 3 is the driver)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"not a database URL: {url!r}", field="ledger.url") from None
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return url
    raise LedgerError(f"unsupported ledger backend {parsed.drivername!r}; use sqlite:/// or "
                      "postgresql+psycopg://", field="ledger.url")


def create_ledger_engine(url: str) -> Engine:
    engine = create_engine(normalise_url(url))
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # The pysqlite driver's own transaction handling cannot BEGIN IMMEDIATE; take it over
    # (the recipe in SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # FULL: a committed audit event survives power loss, not only a process crash.
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _writer(engine: Engine) -> Engine:
    return engine.execution_options(**{_IMMEDIATE: True})


def lock_chain(session: Session) -> None:
    """Hold the single-writer lock for the rest of this transaction (idempotent)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session in one transaction holding the writer lock; commits on success."""
    with Session(_writer(engine), expire_on_commit=False) as session, session.begin():
        lock_chain(session)
        yield session


def alembic_config() -> Config:
    """Alembic configuration built in code; the scripts ship inside the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("torghut.ledger") / "migrations"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema under the writer lock, so concurrent openers migrate once."""
    cfg = alembic_config()
    with _writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})
        cfg.attributes["connection"] = conn
        from alembic import command

        command.upgrade(cfg, revision)


@dataclass(frozen=True)
class Ledger:
    """An open ledger: its engine and the workspace's artifact store."""

    engine: Engine
    artifacts: ArtifactStore

    @contextmanager
    def write(self) -> Iterator[Session]:
        with write_session(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One consistent snapshot (SQLite's WAL read transaction gives one by itself)."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        # Rows read here stay usable after the snapshot ends (nothing to expire: no writes).
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_ledger(ws: Workspace, *, upgrade: bool = True) -> Ledger:
    """Open (and migrate to head) the ledger named by the workspace's ``ledger.url``."""
    config = ws.root / CONFIG_FILE
    try:
        engine = create_ledger_engine(ws.ledger_url)
        if upgrade:
            migrate(engine)
    except LedgerError as exc:
        raise LedgerError(exc.message, file=config, field="ledger.url") from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise LedgerError(f"cannot open the ledger: {reason}", file=config,
                          field="ledger.url") from None
    return Ledger(engine=engine, artifacts=ArtifactStore(ws.artifacts_dir))
