"""Incident records: the whole structured incident (symbols, strategies, timeline, root
cause, preventive PR) after each change, one row beside each ``incidents`` row.

A new table rather than new ``incidents`` columns: the audit chain hashes every column of a
vouched row, so widening ``incidents`` would make rows recorded before this revision read as
modified.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from torghut.ledger.append_only import create_triggers, drop_triggers

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("incident_records",)


def upgrade() -> None:
    op.create_table("incident_records",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("incident_row_id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.String(length=64), nullable=False),
    sa.Column("record", sa.JSON(), nullable=False),
    sa.Column("record_sha256", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["incident_row_id"], ["incidents.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("incident_row_id"),
    )
    op.create_index(op.f("ix_incident_records_incident_id"), "incident_records",
                    ["incident_id"], unique=False)
    create_triggers(TABLES, with_function=False)


def downgrade() -> None:
    drop_triggers(TABLES, with_function=False)
    op.drop_index(op.f("ix_incident_records_incident_id"), table_name="incident_records")
    op.drop_table("incident_records")
