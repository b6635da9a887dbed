"""Pull requests of the GitOps repo and their events (approved, rejected, merged, closed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from torghut.ledger.append_only import create_triggers, drop_triggers

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("pull_requests", "pull_request_events")


def upgrade() -> None:
    op.create_table("pull_requests",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("provider", sa.String(length=16), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=True),
    sa.Column("decision_id", sa.String(length=64), nullable=True),
    sa.Column("target", sa.String(length=16), nullable=True),
    sa.Column("branch", sa.String(length=255), nullable=False),
    sa.Column("base_sha", sa.String(length=40), nullable=False),
    sa.Column("head_sha", sa.String(length=40), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body_sha256", sa.String(length=64), nullable=False),
    sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
    sa.Column("proposer", sa.String(length=128), nullable=False),
    sa.Column("external_id", sa.String(length=64), nullable=True),
    sa.Column("url", sa.String(length=512), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.ForeignKeyConstraint(["decision_id"], ["promotion_decisions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("branch"),
    )
    op.create_index(op.f("ix_pull_requests_candidate_id"), "pull_requests", ["candidate_id"],
                    unique=False)
    op.create_table("pull_request_events",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("pull_request_id", sa.Integer(), nullable=False),
    sa.Column("event", sa.String(length=16), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("head_sha", sa.String(length=40), nullable=False),
    sa.Column("merge_sha", sa.String(length=40), nullable=True),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("signature", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"], ),
    sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_pull_request_events_pull_request_id"), "pull_request_events",
                    ["pull_request_id"], unique=False)
    create_triggers(TABLES, with_function=False)


def downgrade() -> None:
    drop_triggers(TABLES, with_function=False)
    op.drop_index(op.f("ix_pull_request_events_pull_request_id"),
                  table_name="pull_request_events")
    op.drop_table("pull_request_events")
    op.drop_index(op.f("ix_pull_requests_candidate_id"), table_name="pull_requests")
    op.drop_table("pull_requests")
