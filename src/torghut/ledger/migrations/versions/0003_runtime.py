"""Runtime records: kill-switch scopes and states, sessions, risk decisions, order events, fills.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from torghut.ledger.append_only import create_triggers, drop_triggers

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("runtime_sessions", "risk_decisions", "order_events", "fills")


def upgrade() -> None:
    # Adding nullable/defaulted columns is an ALTER TABLE ADD COLUMN on both backends; the
    # append-only triggers on kill_switch_events stay in place.
    op.add_column("kill_switch_events", sa.Column("scope", sa.String(length=160),
                                                  nullable=False, server_default="firm"))
    op.add_column("kill_switch_events", sa.Column("state", sa.String(length=16)))
    op.add_column("kill_switch_events", sa.Column("trigger", sa.String(length=64)))
    op.add_column("kill_switch_events", sa.Column("signature", sa.Text()))
    op.create_index(op.f("ix_kill_switch_events_scope"), "kill_switch_events", ["scope"])
    op.create_table("runtime_sessions",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("mode", sa.String(length=16), nullable=False),
    sa.Column("config_sha256", sa.String(length=64), nullable=False),
    sa.Column("dataset_id", sa.String(length=64), nullable=True),
    sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
    sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
    sa.Column("operator", sa.String(length=128), nullable=False),
    sa.Column("summary", sa.JSON(), nullable=False),
    sa.Column("artifact_refs", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    )
    op.create_table("risk_decisions",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("session_id", sa.String(length=64), nullable=True),
    sa.Column("client_order_id", sa.String(length=128), nullable=False),
    sa.Column("strategy_id", sa.String(length=64), nullable=False),
    sa.Column("symbol", sa.String(length=32), nullable=False),
    sa.Column("action", sa.String(length=8), nullable=False),
    sa.Column("code", sa.String(length=32), nullable=False),
    sa.Column("control", sa.String(length=16), nullable=True),
    sa.Column("limit_id", sa.String(length=160), nullable=True),
    sa.Column("requested_qty", sa.Float(), nullable=False),
    sa.Column("approved_qty", sa.Float(), nullable=False),
    sa.Column("observed", sa.Float(), nullable=True),
    sa.Column("threshold", sa.Float(), nullable=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_risk_decisions_session_id"), "risk_decisions", ["session_id"])
    op.create_index(op.f("ix_risk_decisions_client_order_id"), "risk_decisions",
                    ["client_order_id"])
    op.create_table("order_events",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("session_id", sa.String(length=64), nullable=True),
    sa.Column("client_order_id", sa.String(length=128), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=True),
    sa.Column("strategy_id", sa.String(length=64), nullable=False),
    sa.Column("strategy_ref", sa.String(length=128), nullable=False),
    sa.Column("operator", sa.String(length=128), nullable=False),
    sa.Column("symbol", sa.String(length=32), nullable=False),
    sa.Column("side", sa.String(length=4), nullable=False),
    sa.Column("event", sa.String(length=24), nullable=False),
    sa.Column("status", sa.String(length=24), nullable=False),
    sa.Column("qty", sa.Float(), nullable=False),
    sa.Column("filled_qty", sa.Float(), nullable=False),
    sa.Column("price", sa.Float(), nullable=True),
    sa.Column("code", sa.String(length=32), nullable=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_events_session_id"), "order_events", ["session_id"])
    op.create_index(op.f("ix_order_events_client_order_id"), "order_events",
                    ["client_order_id"])
    op.create_table("fills",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("session_id", sa.String(length=64), nullable=True),
    sa.Column("fill_id", sa.String(length=64), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("client_order_id", sa.String(length=128), nullable=False),
    sa.Column("strategy_id", sa.String(length=64), nullable=False),
    sa.Column("symbol", sa.String(length=32), nullable=False),
    sa.Column("side", sa.String(length=4), nullable=False),
    sa.Column("qty", sa.Float(), nullable=False),
    sa.Column("price", sa.Float(), nullable=False),
    sa.Column("arrival_mid", sa.Float(), nullable=True),
    sa.Column("commission", sa.Float(), nullable=False),
    sa.Column("spread_cost", sa.Float(), nullable=False),
    sa.Column("impact_cost", sa.Float(), nullable=False),
    sa.Column("hypothetical", sa.Boolean(), nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_fills_session_id"), "fills", ["session_id"])
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"])
    create_triggers(TABLES, with_function=False)


def downgrade() -> None:
    drop_triggers(TABLES, with_function=False)
    for table in reversed(TABLES):
        op.drop_table(table)
    op.drop_index(op.f("ix_kill_switch_events_scope"), table_name="kill_switch_events")
    for column in ("signature", "trigger", "state", "scope"):
        op.drop_column("kill_switch_events", column)
