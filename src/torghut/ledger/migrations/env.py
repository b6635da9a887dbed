"""Alembic environment: runs only on the connection handed in by ``torghut.ledger.db``."""

from __future__ import annotations

from alembic import context

from torghut.ledger.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run ledger migrations through torghut.ledger.db.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
