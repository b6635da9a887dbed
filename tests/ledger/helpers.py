"""Builders for one row of every ledger table, and ways to reach past the ledger's guards."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from torghut.fsutil import atomic_write_text
from torghut.ledger import Ledger, audit
from torghut.ledger.models import (
    Approval,
    Base,
    Candidate,
    FillRow,
    FoldMetric,
    GateResultRow,
    Incident,
    IncidentRecordRow,
    KillSwitchEvent,
    OrderEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
    ResearchRun,
    RiskDecisionRow,
    RuntimeSession,
    StressMetric,
    Trial,
)
from torghut.workspace import LedgerSettings, Workspace, WorkspaceSettings, render_settings

T0 = datetime(2024, 1, 2, 14, 30, 0, 123456, tzinfo=UTC)
H = "ab" * 32
ROOT = Path(__file__).resolve().parents[2]

# Runs the real console entry (torghut.cli.main.run) with the audit group mounted, whether
# or not cli/main.py mounts it yet.
_CLI = ("import sys; from torghut.cli import audit, main; "
        "any(g.name == 'audit' for g in main.app.registered_groups) or "
        "main.app.add_typer(audit.app, name='audit'); main.run()")


def use_ledger_url(ws: Workspace, url: str) -> None:
    settings = WorkspaceSettings(name=ws.settings.name, ledger=LedgerSettings(url=url))
    atomic_write_text(ws.config_path, render_settings(settings))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def one_of_each() -> list[Base]:
    """One valid row per history table (except audit_events), parents first."""
    run = ResearchRun(id="run-1", strategy_type="tsmom", strategy_version="1.0.0",
                      code_version="deadbeef", feature_schema_version="3.0", dataset_id="ds-1",
                      execution_model_id="exec-1", cost_model_id="cost-1", runner_version="1",
                      seed=7, status="passed", bundle_hash=H, started_at=T0,
                      finished_at=T0 + timedelta(minutes=3))
    trial = Trial(id=1, run_id="run-1", strategy_type="tsmom", plugin_version="1.0.0",
                  params_hash=H, params={"lookback": 20}, dataset_id="ds-1",
                  execution_model_id="exec-1", cost_model_id="cost-1",
                  in_sample={"sharpe": 0.11}, out_of_sample={"sharpe": 0.07, "net_pnl": 12.5},
                  sharpe=0.07, return_series_hash=H)
    cand = Candidate(id="cand-1", run_id="run-1", trial_id=1, strategy_type="tsmom",
                     strategy_version="1.0.0", params={"lookback": 20}, decision_count=40,
                     trade_count=12, symbols=["AAA", "BBB"], universe="demo", spec_hash=H)
    fold = FoldMetric(run_id="run-1", candidate_id="cand-1", fold_name="f0", fold_order=0,
                      train_start=T0, train_end=T0 + timedelta(days=60),
                      test_start=T0 + timedelta(days=61), test_end=T0 + timedelta(days=90),
                      decision_count=10, trade_count=3, gross_pnl=5.0, net_pnl=4.25,
                      max_drawdown=0.03, turnover=1.5, cost_bps=4.0, regime_label="normal",
                      metrics={"sharpe": 0.2})
    stress = StressMetric(run_id="run-1", candidate_id="cand-1", case="spread_x2",
                          metrics={"net_pnl": 1.0}, pessimistic_pnl_delta=-3.25)
    decision = PromotionDecision(id="dec-1", candidate_id="cand-1", target="paper",
                                 allowed=True, reasons=[], input_hashes={"bundle": H},
                                 policy_version="1.0", policy_checksum=H,
                                 code_version="deadbeef", report_hash=H, decided_at=T0)
    gate = GateResultRow(candidate_id="cand-1", decision_id="dec-1", gate_id="gate1",
                         status="pass", result={"gate_id": "gate1"}, result_hash=H,
                         policy_checksum=H, evaluated_at=T0)
    promo = Promotion(id=1, candidate_id="cand-1", decision_id="dec-1", state="pr_open",
                      requested_mode="paper", approved_mode=None, actor="promotion-bot",
                      reasons=[], patch_ref="codex/cand-1", effective_at=None)
    approval = Approval(promotion_id=1, approver="alice", role="approver", verdict="approve",
                        reasons=["looks good"], signature=None)
    incident = Incident(id=1, incident_id="inc-1", incident_class="B", severity="high",
                        status="open", summary="reject burst", evidence=[H], actor="ops")
    incident_record = IncidentRecordRow(incident_row_id=1, incident_id="inc-1",
                                        record={"incident_id": "inc-1"}, record_sha256=H)
    kill = KillSwitchEvent(action="engage", reason="drill", actor="ops", incident_id="inc-1")
    pr = PullRequest(id=1, provider="local", kind="promotion", candidate_id="cand-1",
                     decision_id="dec-1", target="paper", branch="codex/promote-cand-1",
                     base_sha="a" * 40, head_sha="b" * 40, title="Promote cand-1",
                     body_sha256=H, evidence_sha256=H, proposer="promotion-agent")
    pr_event = PullRequestEvent(pull_request_id=1, event="approved", actor="alice",
                                head_sha="b" * 40, reasons=[], signature="c2ln")
    session = RuntimeSession(id="sess-1", mode="paper", config_sha256=H, dataset_id="ds-1",
                             window_start=T0, window_end=T0 + timedelta(days=1),
                             operator="oscar", summary={"orders": 1}, artifact_refs=[H])
    risk = RiskDecisionRow(session_id="sess-1", client_order_id="o-1", strategy_id="tsmom",
                           symbol="AAA", action="accept", code="ACCEPTED", control=None,
                           limit_id=None, requested_qty=10.0, approved_qty=10.0,
                           observed=None, threshold=None, message="", ts=T0)
    order = OrderEvent(session_id="sess-1", client_order_id="o-1", order_id="p-1",
                       strategy_id="tsmom", strategy_ref="tsmom@1.0.0", operator="oscar",
                       symbol="AAA", side="buy", event="submitted", status="working",
                       qty=10.0, filled_qty=0.0, price=None, code="OK", ts=T0)
    fill = FillRow(session_id="sess-1", fill_id="f-1", order_id="p-1", client_order_id="o-1",
                   strategy_id="tsmom", symbol="AAA", side="buy", qty=10.0, price=101.25,
                   arrival_mid=101.0, commission=0.05, spread_cost=0.1, impact_cost=0.02,
                   hypothetical=False, ts=T0)
    return [run, trial, cand, fold, stress, decision, gate, promo, approval, incident,
            incident_record, kill,
            pr, pr_event, session, risk, order, fill]


def record_all(ledger: Ledger) -> None:
    with ledger.write() as session:
        for row in one_of_each():
            table = row.__table__.name  # type: ignore[attr-defined]
            audit.record(session, row, actor="tester", action=f"{table}.recorded",
                         subject=f"{table}")


def drop_guards(engine: Engine, table: str) -> None:
    """What an attacker with database access does first: remove the append-only triggers."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            conn.execute(text(f"DROP TRIGGER {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


def count(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
