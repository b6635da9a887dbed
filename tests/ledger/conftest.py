"""Ledger fixtures: every test runs on SQLite, and on PostgreSQL when
``$TORGHUT_TEST_POSTGRES_URL`` is set (one throw-away database per session, one schema per
test, so pytest-xdist workers and tests never share tables)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.ledger.helpers import use_ledger_url
from torghut.ledger import Ledger, open_ledger
from torghut.workspace import Workspace, init_workspace

PG_ENV = "TORGHUT_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_ENV) else [])]


def _admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    base = make_url(os.environ[PG_ENV])
    name = f"torghut_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_conninfo(os.environ[PG_ENV]), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(os.environ[PG_ENV]), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_schema_url(database_url: str) -> str:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_conninfo(database_url), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{database_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_ws(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    if backend == "postgresql":
        use_ledger_url(ws, _pg_schema_url(request.getfixturevalue("pg_database")))
    return Workspace.load(ws.root)


@pytest.fixture
def ledger(ledger_ws: Workspace) -> Iterator[Ledger]:
    opened = open_ledger(ledger_ws)
    yield opened
    opened.close()
