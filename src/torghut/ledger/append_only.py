"""The database triggers that make ledger tables append-only (used by the migrations).

On PostgreSQL one function raises for any UPDATE, DELETE or TRUNCATE; on SQLite each table
gets a BEFORE UPDATE and a BEFORE DELETE trigger that aborts. Corrections are new rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

_PG_FUNCTION = """
CREATE FUNCTION torghut_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'torghut ledger: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def create_triggers(tables: Iterable[str], *, with_function: bool) -> None:
    """Guard ``tables``; ``with_function`` creates the PostgreSQL function (first revision)."""
    if op.get_bind().dialect.name == "postgresql":
        if with_function:
            op.execute(_PG_FUNCTION)
        for table in tables:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION torghut_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION torghut_append_only()")
        return
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'torghut ledger: {table} is append-only "
                       f"({verb} refused)'); END")


def drop_triggers(tables: Iterable[str], *, with_function: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        if with_function:
            op.execute("DROP FUNCTION torghut_append_only() CASCADE")
            return
        for table in tables:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    for table in tables:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
