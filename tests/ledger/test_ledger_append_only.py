"""History is append-only, enforced by the database itself, on every table and backend."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.ledger.helpers import count, one_of_each, record_all
from torghut.ledger import Ledger
from torghut.ledger.models import HISTORY_TABLES, Trial

SQL = {"update": "UPDATE {t} SET {c} = {c}", "delete": "DELETE FROM {t}",
       "truncate": "TRUNCATE {t} CASCADE"}


def _pk_column(table: str) -> str:
    return "seq" if table == "audit_events" else "id"


def test_every_table_has_a_row_and_an_event(ledger: Ledger) -> None:
    record_all(ledger)
    with ledger.read() as session:
        for table in HISTORY_TABLES:
            expected = len(HISTORY_TABLES) - 1 if table == "audit_events" else 1
            assert count(session, table) == expected, table


@pytest.mark.parametrize("verb", ["update", "delete", "truncate"])
def test_database_refuses_update_and_delete_on_every_table(ledger: Ledger, backend: str,
                                                           verb: str) -> None:
    record_all(ledger)
    for table in HISTORY_TABLES:
        sql = SQL[verb].format(t=table, c=_pk_column(table))
        if verb == "truncate" and backend == "sqlite":
            sql = SQL["delete"].format(t=table)  # SQLite has no TRUNCATE; DELETE is its form
        with pytest.raises(DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(sql))
    with ledger.read() as session:
        assert count(session, "audit_events") == len(HISTORY_TABLES) - 1
        assert all(count(session, t) == 1 for t in HISTORY_TABLES if t != "audit_events")


def test_foreign_keys_enforced(ledger: Ledger) -> None:
    orphan = one_of_each()[1]
    assert isinstance(orphan, Trial)
    with pytest.raises(IntegrityError), ledger.write() as session:
        session.add(orphan)  # its research run was never recorded
        session.flush()
    with ledger.read() as session:
        assert count(session, "trials") == 0


def test_migration_is_idempotent(ledger: Ledger) -> None:
    from torghut.ledger.db import migrate

    record_all(ledger)
    migrate(ledger.engine)
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
