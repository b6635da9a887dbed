"""Initial ledger: every history table, and the triggers that make them append-only.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The trigger table list is frozen here on purpose (a later revision that adds a table adds
its own triggers), so this revision means the same thing forever.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from torghut.ledger.append_only import create_triggers, drop_triggers

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY_TABLES = (
    "research_runs", "trials", "candidates", "fold_metrics", "stress_metrics",
    "promotion_decisions", "gate_results", "promotions", "approvals", "incidents",
    "kill_switch_events", "audit_events",
)

def _create_triggers() -> None:
    create_triggers(HISTORY_TABLES, with_function=True)


def _drop_triggers() -> None:
    drop_triggers(HISTORY_TABLES, with_function=True)


def upgrade() -> None:
    op.create_table("audit_events",
    sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("ts", sa.String(length=32), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("subject", sa.String(length=256), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("payload_hash", sa.String(length=64), nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.Column("ref_table", sa.String(length=64), nullable=True),
    sa.Column("ref_id", sa.String(length=64), nullable=True),
    sa.Column("artifact_refs", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("seq"),
    sa.UniqueConstraint("hash"),
    sa.UniqueConstraint("prev_hash")
    )
    op.create_index(op.f("ix_audit_events_subject"), "audit_events", ["subject"], unique=False)
    op.create_table("incidents",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("incident_id", sa.String(length=64), nullable=False),
    sa.Column("incident_class", sa.String(length=1), nullable=False),
    sa.Column("severity", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_incidents_incident_id"), "incidents", ["incident_id"], unique=False)
    op.create_table("kill_switch_events",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("action", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("incident_id", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_table("research_runs",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("strategy_type", sa.String(length=64), nullable=False),
    sa.Column("strategy_version", sa.String(length=32), nullable=False),
    sa.Column("code_version", sa.String(length=64), nullable=False),
    sa.Column("feature_schema_version", sa.String(length=16), nullable=False),
    sa.Column("dataset_id", sa.String(length=128), nullable=False),
    sa.Column("execution_model_id", sa.String(length=128), nullable=False),
    sa.Column("cost_model_id", sa.String(length=128), nullable=False),
    sa.Column("runner_version", sa.String(length=64), nullable=False),
    sa.Column("seed", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("bundle_hash", sa.String(length=64), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_research_runs_strategy_type"), "research_runs",
                    ["strategy_type"], unique=False)
    op.create_table("trials",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=64), nullable=False),
    sa.Column("strategy_type", sa.String(length=64), nullable=False),
    sa.Column("plugin_version", sa.String(length=32), nullable=False),
    sa.Column("params_hash", sa.String(length=64), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("dataset_id", sa.String(length=128), nullable=False),
    sa.Column("execution_model_id", sa.String(length=128), nullable=False),
    sa.Column("cost_model_id", sa.String(length=128), nullable=False),
    sa.Column("in_sample", sa.JSON(), nullable=False),
    sa.Column("out_of_sample", sa.JSON(), nullable=False),
    sa.Column("sharpe", sa.Float(), nullable=True),
    sa.Column("return_series_hash", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["research_runs.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_trials_run_id"), "trials", ["run_id"], unique=False)
    op.create_index(op.f("ix_trials_strategy_type"), "trials", ["strategy_type"], unique=False)
    op.create_table("candidates",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("run_id", sa.String(length=64), nullable=False),
    sa.Column("trial_id", sa.Integer(), nullable=True),
    sa.Column("strategy_type", sa.String(length=64), nullable=False),
    sa.Column("strategy_version", sa.String(length=32), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("decision_count", sa.Integer(), nullable=False),
    sa.Column("trade_count", sa.Integer(), nullable=False),
    sa.Column("symbols", sa.JSON(), nullable=False),
    sa.Column("universe", sa.String(length=128), nullable=False),
    sa.Column("spec_hash", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["research_runs.id"], ),
    sa.ForeignKeyConstraint(["trial_id"], ["trials.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_candidates_run_id"), "candidates", ["run_id"], unique=False)
    op.create_table("fold_metrics",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=64), nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=False),
    sa.Column("fold_name", sa.String(length=64), nullable=False),
    sa.Column("fold_order", sa.Integer(), nullable=False),
    sa.Column("train_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("train_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("test_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("test_end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decision_count", sa.Integer(), nullable=False),
    sa.Column("trade_count", sa.Integer(), nullable=False),
    sa.Column("gross_pnl", sa.Float(), nullable=False),
    sa.Column("net_pnl", sa.Float(), nullable=False),
    sa.Column("max_drawdown", sa.Float(), nullable=False),
    sa.Column("turnover", sa.Float(), nullable=False),
    sa.Column("cost_bps", sa.Float(), nullable=False),
    sa.Column("regime_label", sa.String(length=32), nullable=True),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.ForeignKeyConstraint(["run_id"], ["research_runs.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_fold_metrics_candidate_id"), "fold_metrics",
                    ["candidate_id"], unique=False)
    op.create_index(op.f("ix_fold_metrics_run_id"), "fold_metrics", ["run_id"], unique=False)
    op.create_table("promotion_decisions",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=False),
    sa.Column("target", sa.String(length=16), nullable=False),
    sa.Column("allowed", sa.Boolean(), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("input_hashes", sa.JSON(), nullable=False),
    sa.Column("policy_version", sa.String(length=32), nullable=False),
    sa.Column("policy_checksum", sa.String(length=64), nullable=False),
    sa.Column("code_version", sa.String(length=64), nullable=False),
    sa.Column("report_hash", sa.String(length=64), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_promotion_decisions_candidate_id"), "promotion_decisions",
                    ["candidate_id"], unique=False)
    op.create_table("stress_metrics",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.String(length=64), nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=False),
    sa.Column("case", sa.String(length=64), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("pessimistic_pnl_delta", sa.Float(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.ForeignKeyConstraint(["run_id"], ["research_runs.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_stress_metrics_candidate_id"), "stress_metrics",
                    ["candidate_id"], unique=False)
    op.create_index(op.f("ix_stress_metrics_run_id"), "stress_metrics", ["run_id"], unique=False)
    op.create_table("gate_results",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=False),
    sa.Column("decision_id", sa.String(length=64), nullable=True),
    sa.Column("gate_id", sa.String(length=32), nullable=False),
    sa.Column("status", sa.String(length=8), nullable=False),
    sa.Column("result", sa.JSON(), nullable=False),
    sa.Column("result_hash", sa.String(length=64), nullable=False),
    sa.Column("policy_checksum", sa.String(length=64), nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.ForeignKeyConstraint(["decision_id"], ["promotion_decisions.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_gate_results_candidate_id"), "gate_results",
                    ["candidate_id"], unique=False)
    op.create_table("promotions",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("candidate_id", sa.String(length=64), nullable=False),
    sa.Column("decision_id", sa.String(length=64), nullable=True),
    sa.Column("state", sa.String(length=32), nullable=False),
    sa.Column("requested_mode", sa.String(length=16), nullable=False),
    sa.Column("approved_mode", sa.String(length=16), nullable=True),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("patch_ref", sa.String(length=256), nullable=True),
    sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ),
    sa.ForeignKeyConstraint(["decision_id"], ["promotion_decisions.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_promotions_candidate_id"), "promotions",
                    ["candidate_id"], unique=False)
    op.create_table("approvals",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("promotion_id", sa.Integer(), nullable=False),
    sa.Column("approver", sa.String(length=128), nullable=False),
    sa.Column("role", sa.String(length=32), nullable=False),
    sa.Column("verdict", sa.String(length=16), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("signature", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["promotion_id"], ["promotions.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_approvals_promotion_id"), "approvals", ["promotion_id"], unique=False)
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index(op.f("ix_approvals_promotion_id"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_promotions_candidate_id"), table_name="promotions")
    op.drop_table("promotions")
    op.drop_index(op.f("ix_gate_results_candidate_id"), table_name="gate_results")
    op.drop_table("gate_results")
    op.drop_index(op.f("ix_stress_metrics_run_id"), table_name="stress_metrics")
    op.drop_index(op.f("ix_stress_metrics_candidate_id"), table_name="stress_metrics")
    op.drop_table("stress_metrics")
    op.drop_index(op.f("ix_promotion_decisions_candidate_id"), table_name="promotion_decisions")
    op.drop_table("promotion_decisions")
    op.drop_index(op.f("ix_fold_metrics_run_id"), table_name="fold_metrics")
    op.drop_index(op.f("ix_fold_metrics_candidate_id"), table_name="fold_metrics")
    op.drop_table("fold_metrics")
    op.drop_index(op.f("ix_candidates_run_id"), table_name="candidates")
    op.drop_table("candidates")
    op.drop_index(op.f("ix_trials_strategy_type"), table_name="trials")
    op.drop_index(op.f("ix_trials_run_id"), table_name="trials")
    op.drop_table("trials")
    op.drop_index(op.f("ix_research_runs_strategy_type"), table_name="research_runs")
    op.drop_table("research_runs")
    op.drop_table("kill_switch_events")
    op.drop_index(op.f("ix_incidents_incident_id"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_audit_events_subject"), table_name="audit_events")
    op.drop_table("audit_events")
