"""From a trials × bars return matrix to folds, the out-of-sample record and statistics.

Pure functions of arrays (no I/O, no simulation): :mod:`torghut.research.run` feeds them.

* Selection: per fold, the trial with the best per-period *train-window* Sharpe
  (:func:`~torghut.research.splits.select_on_train`; ties → lowest trial id; a trial with an
  undefined Sharpe, e.g. one that never traded, is never chosen), scored on the test window.
* Out-of-sample record: walk-forward — the chosen trials' test-window returns, concatenated
  in time order. CPCV — the splits' test returns are stitched into φ backtest paths
  (AFML §12.4.1); the record is the path with the median Sharpe (the lower median for an
  even count), a genuine single path with an honest observation count, and every path's
  Sharpe is reported.
* Statistics: PSR/DSR/MinTRL on the record with the Bailey–López de Prado (2012) standard
  error; DSR deflates by ``n_trials`` (explicit; the ledger's count later) and the ddof=1
  variance of the trials' per-period evaluation Sharpes (a trial with none counts as 0).
  PBO by CSCV on the evaluation bars with 16 partitions, or the largest even number below
  that leaving at least :data:`MIN_BLOCK_ROWS` rows per block. White's Reality Check and
  Hansen's SPA of the trials against a zero-return benchmark (trials that never trade are
  left out: their loss differential has no variance), seeded by the candidate's seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from torghut.contracts.research import (
    FoldRecord,
    PboRecord,
    SensitivityRecord,
    Statistics,
    TrialRecord,
    Window,
)
from torghut.contracts.splits import CPCV, AnyPolicy
from torghut.errors import TorghutError
from torghut.research.grid import Grid, hashable
from torghut.research.splits import Fold, select_on_train, stitch_paths
from torghut.research.stats import (
    DEFAULT_ESTIMATOR,
    adjust_pvalues,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    reality_check,
    return_moments,
    sensitivity_score,
    spa_test,
)
from torghut.research.summary import mean_t_test, optional, row_sharpes, summarise
from torghut.sim.engine import SimResult
from torghut.sim.metrics import drawdown

MAX_PARTITIONS = 16
MIN_BLOCK_ROWS = 4


def select_folds(returns: np.ndarray, folds: Sequence[Fold]) -> tuple[np.ndarray, np.ndarray]:
    """(chosen trial per fold, train Sharpe matrix folds × trials)."""
    train = np.stack([row_sharpes(returns, f.train) for f in folds])
    try:
        chosen = select_on_train(train)
    except TorghutError:
        bad = int(np.flatnonzero(np.isnan(train).all(axis=1))[0])
        raise TorghutError(f"no grid point has a defined Sharpe ratio (it never traded) in "
                           f"the train window of fold {folds[bad].name}",
                           field="param_grid") from None
    return chosen, train


def union(positions: Sequence[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(list(positions)))


def trial_records(returns: np.ndarray, grid: Grid, folds: Sequence[Fold], warmup: int,
                  periods_per_year: float, train_sharpe: np.ndarray) -> list[TrialRecord]:
    """Every trial's summaries, per-fold Sharpes and multiple-testing-adjusted p-values."""
    test_sharpe = np.stack([row_sharpes(returns, f.test) for f in folds])
    ins, oos = union([f.train for f in folds]), union([f.test for f in folds])
    tests = [mean_t_test(row[warmup:]) for row in returns]
    pvalues = np.array([p for _, p in tests])
    holm, bh = adjust_pvalues(pvalues, "holm"), adjust_pvalues(pvalues, "bh")
    records = []
    for i, point in enumerate(grid.points):
        row = returns[i]
        records.append(TrialRecord(
            trial_id=i, params=point.params, params_hash=point.params_hash,
            returns_sha256=returns_sha256(row),
            evaluation=summarise(row[warmup:], periods_per_year),
            in_sample=summarise(row[ins], periods_per_year),
            out_of_sample=summarise(row[oos], periods_per_year),
            fold_train_sharpe=tuple(optional(v) for v in train_sharpe[:, i]),
            fold_test_sharpe=tuple(optional(v) for v in test_sharpe[:, i]),
            t_stat=tests[i][0], p_value=float(pvalues[i]), p_holm=float(holm[i]),
            p_bh=float(bh[i])))
    return records


def returns_sha256(row: np.ndarray) -> str:
    """sha256 of the series as float64 little-endian bytes (what the ledger records)."""
    return hashlib.sha256(np.ascontiguousarray(row, dtype="<f8").tobytes()).hexdigest()


def window(fold_positions: np.ndarray, ts: Sequence[object]) -> Window:
    first, last = int(fold_positions[0]), int(fold_positions[-1])
    return Window(first=first, last=last, first_ts=ts[first], last_ts=ts[last],
                  n_bars=int(fold_positions.size))


def fold_record(fold: Fold, trial: int, params: dict[str, object], train_sharpe: float,
                result: SimResult, exposure: np.ndarray, regime: str,
                periods_per_year: float) -> FoldRecord:
    """The selected trial's test-window evidence, from its detailed simulation."""
    p = fold.test
    equity = result.equity
    prev = np.concatenate([[result.capital], equity[:-1]])
    r = equity / prev - 1.0
    fills = result.fills
    in_window = np.isin(fills["bar"].to_numpy(), p)
    window_fills = fills[in_window]
    costs = float(window_fills[["commission", "spread_cost", "impact_cost", "penalty"]]
                  .to_numpy().sum())
    notional = float((window_fills["qty"] * window_fills["price"]).sum())
    net = float(np.sum(equity[p] - prev[p]))
    changed = np.diff(np.nan_to_num(exposure), axis=0, prepend=0.0) != 0
    years = p.size / periods_per_year
    path = np.cumprod(1.0 + r[p])
    return FoldRecord(
        index=fold.index, name=fold.name, train=window(fold.train, result.ts),
        test=window(p, result.ts), n_purged=fold.n_purged, n_embargoed=fold.n_embargoed,
        test_groups=fold.test_groups, selected_trial=trial, selected_params=params,
        train_sharpe=train_sharpe, test_returns=summarise(r[p], periods_per_year),
        decisions=int(changed[p].sum()), trades=int(in_window.sum()), gross_pnl=net + costs,
        net_pnl=net, costs=costs, max_drawdown=min(0.0, float(drawdown(path, 1.0).min())),
        turnover=notional / float(equity[p].mean()) / years,
        cost_bps=costs / notional * 1e4 if notional > 0 else None, regime=regime)


def oos_record(returns: np.ndarray, folds: Sequence[Fold], chosen: np.ndarray,
               policy: AnyPolicy, warmup: int) -> tuple[np.ndarray, tuple[float | None, ...]]:
    """The out-of-sample return record and, for CPCV, every stitched path's Sharpe."""
    pieces = [returns[c, f.test] for f, c in zip(folds, chosen, strict=True)]
    if not isinstance(policy, CPCV):
        return np.concatenate(pieces), ()
    paths = stitch_paths(pieces, returns.shape[1], policy, warmup_bars=warmup)
    sharpes = row_sharpes(paths, np.arange(paths.shape[1]))
    ranked = np.argsort(np.nan_to_num(sharpes, nan=-np.inf), kind="stable")
    median = int(ranked[(len(ranked) - 1) // 2])
    return paths[median], tuple(optional(s) for s in sharpes)


def n_partitions(n_rows: int) -> int:
    """16, or the largest even S below it with >= MIN_BLOCK_ROWS rows per block (0: none)."""
    s = MAX_PARTITIONS
    while s >= 2 and n_rows // s < MIN_BLOCK_ROWS:
        s -= 2
    return s


def pbo_record(evaluation: np.ndarray) -> PboRecord | None:
    """PBO of the trials (columns) over the evaluation bars (rows); None for one trial."""
    s = n_partitions(evaluation.shape[0])
    if evaluation.shape[1] < 2 or s < 2:
        return None
    res = pbo_cscv(evaluation, s)
    return PboRecord(pbo=res.pbo, slope=optional(res.slope), intercept=optional(res.intercept),
                     prob_loss=res.prob_loss, n_partitions=res.n_partitions,
                     n_combinations=res.n_combinations, n_rows_used=res.n_rows_used,
                     metric=res.metric, logits=tuple(float(x) for x in res.logits))


def sensitivity_record(grid: Grid, scores: np.ndarray, selected: int
                       ) -> SensitivityRecord | None:
    """Neighbourhood robustness of the selected point by evaluation Sharpe (None: no grid)."""
    if not grid.axes:
        return None
    axes: Mapping[str, Sequence[Hashable]] = {
        name: [hashable(v) for v in values]
        for name, values in grid.axes.items()}
    grid_scores = {grid.coordinates(p): float(s) for p, s in zip(grid.points, scores,
                                                                 strict=True)}
    point = grid.points[selected]
    chosen = dict(zip(grid.axes, grid.coordinates(point), strict=True))
    res = sensitivity_score(grid_scores, chosen, grid=axes)
    return SensitivityRecord(score=res.score, selected_score=res.selected_score,
                             neighbour_median=optional(res.neighbour_median),
                             n_neighbours=res.n_neighbours)


def statistics(oos: np.ndarray, evaluation: np.ndarray, grid: Grid, selected: int, *,
               n_trials: int, periods_per_year: float, seed: int, reps: int,
               path_sharpes: tuple[float | None, ...]) -> Statistics:
    """Every overfitting statistic of the run (see the module docstring)."""
    trial_sr = np.nan_to_num(row_sharpes(evaluation.T, np.arange(evaluation.shape[0])))
    var = float(trial_sr.var(ddof=1)) if trial_sr.size > 1 else 0.0
    sr0 = expected_max_sharpe(n_trials, var)
    psr = dsr = mintrl = skew = kurt = None
    try:
        m = return_moments(oos)
        skew, kurt = m.skew, m.kurtosis
        psr = probabilistic_sharpe_ratio(m.sr, 0.0, m.n_obs, m.skew, m.kurtosis)
        dsr = deflated_sharpe_ratio(m.sr, m.n_obs, m.skew, m.kurtosis, n_trials,
                                    var_trials_sr=var).dsr
        mintrl = optional(min_track_record_length(m.sr, 0.0, m.skew, m.kurtosis))
    except TorghutError:
        pass  # no variance or inconsistent moments: the statistics are undefined
    rc, spa, block = _bootstrap(evaluation, seed, reps)
    return Statistics(
        estimator=DEFAULT_ESTIMATOR, n_trials=n_trials, n_trials_run=evaluation.shape[1],
        oos=summarise(oos, periods_per_year), oos_skew=optional(skew) if skew is not None
        else None, oos_kurtosis=optional(kurt) if kurt is not None else None, psr=psr,
        dsr=dsr, expected_max_sharpe=sr0, var_trial_sharpe=var,
        min_track_record_length=mintrl, pbo=pbo_record(evaluation),
        reality_check_pvalue=rc, spa_pvalue_lower=spa[0], spa_pvalue_consistent=spa[1],
        spa_pvalue_upper=spa[2], bootstrap_reps=reps, bootstrap_block=block,
        sensitivity=sensitivity_record(grid, trial_sr, selected),
        cpcv_path_sharpes=path_sharpes)


def _bootstrap(evaluation: np.ndarray, seed: int, reps: int
               ) -> tuple[float | None, tuple[float | None, ...], int | None]:
    """Reality Check and SPA p-values of the varying trials against zero returns."""
    varying = evaluation[:, evaluation.std(axis=0) > 0]
    if varying.shape[1] == 0 or varying.shape[0] < 10:
        return None, (None, None, None), None
    bench = np.zeros(varying.shape[0])
    rc = reality_check(bench, varying, reps=reps, seed=seed)
    spa = spa_test(bench, varying, reps=reps, seed=seed)
    return rc.pvalue, (spa.lower, spa.consistent, spa.upper), rc.block_size

