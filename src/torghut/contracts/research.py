"""The evidence of one research run: trials, folds, statistics and stress, as a MetricsBundle.

Conventions (computed by :mod:`torghut.research.run`): per-bar simple net returns of equity;
Sharpe ratios are **per period** (mean / std, ddof=1) unless named ``*_annual``; kurtosis is
non-excess; the variance of trial Sharpe ratios uses ddof=1. Everything that may differ
between two runs of the same inputs (wall-clock times, executor) lives in ``run`` alone, so
bundles compare byte for byte once ``run`` is removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from torghut.contracts.base import SHA256_PATTERN, Contract, canonical_json
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.simulation import BacktestMetrics, CostModel, ExecutionModel


class ReturnSummary(Contract):
    """Statistics of a per-bar return series (undefined ratios are ``None``)."""

    schema_version: Literal["1.0"] = "1.0"
    n_obs: int = Field(ge=0)
    mean: float | None
    std: float | None = Field(description="ddof=1")
    sharpe: float | None = Field(description="Per period: mean / std")
    sharpe_annual: float | None = Field(description="sharpe × sqrt(periods per year)")
    total_return: float = Field(description="Compounded: prod(1 + r) − 1")
    max_drawdown: float = Field(le=0, description="Of the compounded path, from its start")


class TrialRecord(Contract):
    """One grid point run over the full sample (what the ledger records as a trial)."""

    schema_version: Literal["1.0"] = "1.0"
    trial_id: int = Field(ge=0, description="Position in the grid's canonical order")
    params: dict[str, Any] = Field(description="Validated params, defaults filled in")
    params_hash: str = Field(pattern=SHA256_PATTERN, description="sha256 of canonical JSON")
    returns_sha256: str = Field(pattern=SHA256_PATTERN,
                                description="sha256 of the full per-bar net returns, "
                                "float64 little-endian")
    evaluation: ReturnSummary = Field(description="Every bar after warm-up")
    in_sample: ReturnSummary = Field(description="Bars in at least one fold's train set")
    out_of_sample: ReturnSummary = Field(description="Bars in at least one fold's test set")
    fold_train_sharpe: tuple[float | None, ...] = Field(description="Per fold, per period")
    fold_test_sharpe: tuple[float | None, ...] = Field(description="Per fold, per period")
    t_stat: float | None = Field(description="mean / (std / sqrt(n)) over the evaluation bars")
    p_value: float = Field(ge=0, le=1, description="One-sided, H0: mean return <= 0")
    p_holm: float = Field(ge=0, le=1)
    p_bh: float = Field(ge=0, le=1)


class InvalidPoint(Contract):
    schema_version: Literal["1.0"] = "1.0"
    params: dict[str, Any]
    reason: str


class Window(Contract):
    """Span of a fold's train or test set (inclusive positions on the bar clock)."""

    schema_version: Literal["1.0"] = "1.0"
    first: int = Field(ge=0)
    last: int = Field(ge=0)
    first_ts: datetime
    last_ts: datetime
    n_bars: int = Field(ge=1, description="Bars actually in the set (purged bars excluded)")


class FoldRecord(Contract):
    """One fold: the grid point chosen on its train window, scored on its test window."""

    schema_version: Literal["1.0"] = "1.0"
    index: int = Field(ge=0)
    name: str
    train: Window
    test: Window
    n_purged: int = Field(ge=0)
    n_embargoed: int = Field(ge=0)
    test_groups: tuple[int, ...] = ()
    selected_trial: int = Field(ge=0)
    selected_params: dict[str, Any]
    train_sharpe: float = Field(description="Per period, of the selected trial")
    test_returns: ReturnSummary
    decisions: int = Field(ge=0, description="Exposure changes decided in the test window")
    trades: int = Field(ge=0, description="Fills in the test window")
    gross_pnl: float
    net_pnl: float
    costs: float = Field(ge=0)
    max_drawdown: float = Field(le=0)
    turnover: float = Field(ge=0, description="Traded notional / mean equity, per year of "
                            "test bars (bars / periods per year)")
    cost_bps: float | None = Field(description="Costs / traded notional × 1e4")
    regime: str = Field(description="Label of the test window (torghut.research.regimes)")


class PboRecord(Contract):
    schema_version: Literal["1.0"] = "1.0"
    pbo: float = Field(ge=0, le=1)
    slope: float | None
    intercept: float | None
    prob_loss: float = Field(ge=0, le=1)
    n_partitions: int
    n_combinations: int
    n_rows_used: int
    metric: str
    logits: tuple[float, ...]


class SensitivityRecord(Contract):
    schema_version: Literal["1.0"] = "1.0"
    score: float = Field(ge=0, le=1)
    selected_score: float = Field(description="Evaluation Sharpe (per period) of the point")
    neighbour_median: float | None
    n_neighbours: int = Field(ge=0)


class Statistics(Contract):
    """Overfitting statistics of the out-of-sample record and the trial family."""

    schema_version: Literal["1.0"] = "1.0"
    estimator: str = Field(description="Sharpe standard-error estimator of PSR/DSR/MinTRL")
    n_trials: int = Field(ge=1, description="N used to deflate (explicit; default: trials "
                          "in this run)")
    n_trials_run: int = Field(ge=1)
    oos: ReturnSummary
    oos_skew: float | None
    oos_kurtosis: float | None = Field(description="Non-excess (3 = Gaussian)")
    psr: float | None = Field(description="P(true per-period SR > 0)")
    dsr: float | None
    expected_max_sharpe: float = Field(description="SR0, per period")
    var_trial_sharpe: float = Field(ge=0, description="Of per-period evaluation Sharpes")
    var_trial_sharpe_ddof: Literal[1] = 1
    min_track_record_length: float | None = Field(
        description="Bars needed for PSR(0) >= 0.95; None when the OOS Sharpe is <= 0")
    min_track_record_alpha: float = 0.05
    pbo: PboRecord | None = Field(description="None for a single trial")
    reality_check_pvalue: float | None
    spa_pvalue_lower: float | None
    spa_pvalue_consistent: float | None
    spa_pvalue_upper: float | None
    bootstrap_reps: int
    bootstrap_block: int | None
    sensitivity: SensitivityRecord | None = Field(description="None without a grid")
    cpcv_path_sharpes: tuple[float | None, ...] = Field(
        default=(), description="CPCV only: per-period Sharpe of each stitched path")


class StressRecord(Contract):
    schema_version: Literal["1.0"] = "1.0"
    name: str
    params: dict[str, Any]
    metrics: BacktestMetrics
    delta: dict[str, float | None] = Field(description="Scenario − baseline")
    relative: dict[str, float | None] = Field(description="delta / |baseline|")


class StressSuite(Contract):
    schema_version: Literal["1.0"] = "1.0"
    trial_id: int = Field(description="The trial stressed: the final fold's selection")
    params: dict[str, Any]
    baseline: BacktestMetrics
    scenarios: tuple[StressRecord, ...]


class RunInputs(Contract):
    """Everything the result depends on, by content hash."""

    schema_version: Literal["1.0"] = "1.0"
    candidate_hash: str = Field(pattern=SHA256_PATTERN)
    strategy: str = Field(description="TYPE@VERSION")
    dataset_id: str = Field(pattern=SHA256_PATTERN, description="Resolved from the spec")
    dataset_name: str
    bars_sha256: str = Field(pattern=SHA256_PATTERN)
    execution_model: ExecutionModel
    execution_model_hash: str = Field(pattern=SHA256_PATTERN)
    cost_model: CostModel
    cost_model_hash: str = Field(pattern=SHA256_PATTERN)
    split_hash: str = Field(pattern=SHA256_PATTERN)
    seed: int


class Evaluation(Contract):
    """The bar clock the run used."""

    schema_version: Literal["1.0"] = "1.0"
    n_bars: int = Field(ge=1)
    warmup_bars: int = Field(ge=0, description="Feature warm-up + plugin warm-up + latency")
    periods_per_year: float = Field(gt=0)
    first_ts: datetime
    last_ts: datetime
    symbols: tuple[str, ...]


class RunInfo(Contract):
    """The only part of a bundle that may differ between runs of the same inputs."""

    schema_version: Literal["1.0"] = "1.0"
    started_at: datetime
    finished_at: datetime
    seconds: float = Field(ge=0)
    executor: str
    workers: int = Field(ge=1)


class MetricsBundle(Contract):
    """A research run's complete, versioned evidence (what Gate 1 reads)."""

    schema_version: Literal["1.0"] = "1.0"
    code_version: str
    candidate: CandidateSpec
    inputs: RunInputs
    evaluation: Evaluation
    n_grid_points: int = Field(ge=1)
    invalid_points: tuple[InvalidPoint, ...] = Field(
        description="Grid points the plugin's Params rejected (not trials)")
    trials: tuple[TrialRecord, ...] = Field(min_length=1)
    folds: tuple[FoldRecord, ...] = Field(min_length=1)
    selected_trial: int = Field(ge=0, description="The final fold's selection")
    selected_metrics: BacktestMetrics = Field(description="Full sample, selected params")
    statistics: Statistics
    stress: StressSuite | None
    run: RunInfo

    def stable_json(self) -> str:
        """Canonical JSON without :attr:`run`: equal for equal inputs, bit for bit."""
        return canonical_json(self.model_dump(mode="json", exclude={"run"}))
