"""The research lane's ledger side: record a finished run; count a strategy family's trials.

:func:`record_run` files a :class:`~torghut.research.run.ResearchRun` in one write
transaction: the bundle's canonical JSON goes to the artifact store, and the run, every
trial, the candidate, its folds and its stress cases become history rows, each vouched
for by an audit event that references the bundle by hash. Either all of it is recorded or
none of it.

:func:`trial_family` is what Gate 1 deflates by: every trial the ledger holds for a strategy
type, across all runs — re-running a sweep costs its trials again (Bailey & López de Prado,
"The Deflated Sharpe Ratio", J. Portfolio Management 2014, §3: N is the number of
independent trials *attempted*, not the number reported).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Session

from torghut.contracts.base import canonical_json, sha256_text
from torghut.contracts.gates import TrialFamily
from torghut.contracts.research import FoldRecord, MetricsBundle, StressRecord, TrialRecord
from torghut.errors import NotFoundError, TorghutError
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Candidate, FoldMetric, ResearchRun, StressMetric, Trial
from torghut.research.run import ResearchRun as FinishedRun

# The run itself completed (plan-details.md statuses: running, passed, failed, rejected,
# rolled_back); whether its candidate may be promoted is the gates' decision, not this.
RUN_STATUS = "passed"


def bundle_artifact(bundle: MetricsBundle) -> bytes:
    """The bytes the artifact store keeps: the bundle's canonical JSON."""
    return canonical_json(bundle.model_dump(mode="json")).encode("utf-8")


def candidate_id(run_id: str, bundle: MetricsBundle) -> str:
    """One candidate row per run: the spec, its selected trial and the run that chose it."""
    return sha256_text(canonical_json({"candidate_hash": bundle.inputs.candidate_hash,
                                       "run_id": run_id,
                                       "selected_trial": bundle.selected_trial}))


def record_run(ledger: Ledger, run: FinishedRun, *, actor: str) -> str:
    """Record ``run`` (see the module docstring); returns the run id, the bundle's hash.

    The id is content-addressed, so recording the same bundle twice is refused rather than
    counting its trials twice. The blob is stored first: if the transaction then fails, it
    is an unreferenced (and harmless) immutable file, never a row without its evidence.
    """
    bundle = run.bundle
    digest = ledger.artifacts.put(bundle_artifact(bundle))
    with ledger.write() as session:
        if session.get(ResearchRun, digest) is not None:
            raise TorghutError(f"run {digest[:12]}… is already recorded", field="run_id")
        _Recorder(session, bundle, digest, actor).record()
    return digest


class _Recorder:
    """Inserts one run's rows, in foreign-key order, each with its audit event."""

    def __init__(self, session: Session, bundle: MetricsBundle, run_id: str, actor: str) -> None:
        self.session, self.bundle, self.run_id, self.actor = session, bundle, run_id, actor
        self.candidate_id = candidate_id(run_id, bundle)

    def record(self) -> None:
        b = self.bundle
        run_subject = f"research_run:{self.run_id}"
        self._add(_run_row(b, self.run_id), "research.run.record", run_subject)
        trial_rows = [_trial_row(b, self.run_id, t) for t in b.trials]
        for row in trial_rows:
            self._add(row, "research.trial.record", run_subject)
        selected = trial_rows[b.selected_trial]
        cand_subject = f"candidate:{self.candidate_id}"
        self._add(_candidate_row(b, self.run_id, self.candidate_id, selected.id),
                  "research.candidate.record", cand_subject)
        for fold in b.folds:
            self._add(_fold_row(self.run_id, self.candidate_id, fold),
                      "research.fold.record", cand_subject)
        for case in b.stress.scenarios if b.stress else ():
            self._add(_stress_row(self.run_id, self.candidate_id, case),
                      "research.stress.record", cand_subject)

    def _add(self, row: DeclarativeBase, action: str, subject: str) -> None:
        audit.record(self.session, row, actor=self.actor, action=action, subject=subject,
                     artifact_refs=(self.run_id,))


# ------------------------------------------------------------------------- rows (pure)


def _run_row(b: MetricsBundle, run_id: str) -> ResearchRun:
    spec, inputs = b.candidate, b.inputs
    return ResearchRun(
        id=run_id, strategy_type=spec.strategy_type, strategy_version=spec.version,
        code_version=b.code_version, feature_schema_version=spec.feature_schema_version,
        dataset_id=inputs.dataset_id, execution_model_id=inputs.execution_model.model_id,
        cost_model_id=inputs.cost_model.model_id,
        runner_version=f"{b.run.executor}@{b.code_version}", seed=inputs.seed,
        status=RUN_STATUS, bundle_hash=run_id, started_at=b.run.started_at,
        finished_at=b.run.finished_at)


def _trial_row(b: MetricsBundle, run_id: str, t: TrialRecord) -> Trial:
    # JSON-mode dumps: the row holds exactly what its audit payload hashes.
    return Trial(
        run_id=run_id, strategy_type=b.candidate.strategy_type,
        plugin_version=b.candidate.version, params_hash=t.params_hash,
        params=t.model_dump(mode="json")["params"], dataset_id=b.inputs.dataset_id,
        execution_model_id=b.inputs.execution_model.model_id,
        cost_model_id=b.inputs.cost_model.model_id,
        in_sample={**t.in_sample.model_dump(mode="json"),
                   "fold_sharpe": list(t.fold_train_sharpe)},
        out_of_sample={**t.out_of_sample.model_dump(mode="json"),
                       "fold_sharpe": list(t.fold_test_sharpe)},
        sharpe=t.evaluation.sharpe, return_series_hash=t.returns_sha256)


def _candidate_row(b: MetricsBundle, run_id: str, cid: str, trial_row_id: int) -> Candidate:
    m = b.selected_metrics  # full sample; every decision to change exposure issues an order
    return Candidate(
        id=cid, run_id=run_id, trial_id=trial_row_id, strategy_type=b.candidate.strategy_type,
        strategy_version=b.candidate.version,
        params=b.trials[b.selected_trial].model_dump(mode="json")["params"],
        decision_count=m.order_count, trade_count=m.trade_count,
        symbols=list(b.evaluation.symbols), universe=b.inputs.dataset_name,
        spec_hash=b.inputs.candidate_hash)


def _fold_row(run_id: str, cid: str, f: FoldRecord) -> FoldMetric:
    return FoldMetric(
        run_id=run_id, candidate_id=cid, fold_name=f.name, fold_order=f.index,
        train_start=f.train.first_ts, train_end=f.train.last_ts, test_start=f.test.first_ts,
        test_end=f.test.last_ts, decision_count=f.decisions, trade_count=f.trades,
        gross_pnl=f.gross_pnl, net_pnl=f.net_pnl, max_drawdown=f.max_drawdown,
        turnover=f.turnover,
        # Undefined without traded notional (then there were no costs either); the exact
        # None stays in ``metrics``.
        cost_bps=0.0 if f.cost_bps is None else f.cost_bps, regime_label=f.regime,
        metrics=f.model_dump(mode="json"))


def _stress_row(run_id: str, cid: str, s: StressRecord) -> StressMetric:
    delta = s.delta.get("net_pnl")
    return StressMetric(run_id=run_id, candidate_id=cid, case=s.name,
                        metrics=s.model_dump(mode="json"),
                        pessimistic_pnl_delta=0.0 if delta is None else delta)


# ------------------------------------------------------------------------- the trial family


def trial_family(session: Session, strategy_type: str) -> TrialFamily:
    """N and V[SR] over every trial recorded for ``strategy_type``, in every run.

    A trial whose Sharpe is undefined (a flat return series) counts as 0, as in the run's
    own statistics (:func:`torghut.research.evidence.statistics`), so one recorded run gives
    exactly its bundle's ``var_trial_sharpe``.
    """
    sharpes = _sharpes(session.scalars(
        select(func.coalesce(Trial.sharpe, 0.0)).where(Trial.strategy_type == strategy_type)
        .order_by(Trial.id)))
    if sharpes.size == 0:
        raise NotFoundError(f"no trials recorded for strategy type {strategy_type!r}",
                            field="strategy_type")
    var = float(sharpes.var(ddof=1)) if sharpes.size > 1 else 0.0
    return TrialFamily(strategy_type=strategy_type, n_trials=int(sharpes.size),
                       var_trial_sharpe=var)


def _sharpes(values: Iterable[float]) -> np.ndarray:
    return np.fromiter(values, dtype=np.float64)
