"""Gate 1 — is the edge real out of sample, after costs, after every trial tried?

Reads a research run's :class:`MetricsBundle` and the strategy family's trial record from
the ledger. The Deflated Sharpe Ratio (Bailey & López de Prado 2014, J. Portfolio
Management 40(5)) is recomputed here with N = every trial the ledger holds for the family
and the variance of their Sharpe ratios — not the run's own N — so re-running a sweep costs
the researcher its trials again.
"""

from __future__ import annotations

from torghut.contracts.gates import GateId, GateResult, TrialFamily
from torghut.contracts.research import MetricsBundle, StressSuite
from torghut.errors import TorghutError
from torghut.gates.checks import Context, Findings, evidence_missing
from torghut.research.stats import ESTIMATORS, deflated_sharpe_ratio


def evaluate_gate1(bundle: MetricsBundle | None, family: TrialFamily | None,
                   ctx: Context, *, why: str | None = None,
                   family_why: str | None = None) -> GateResult:
    """``why`` / ``family_why``: why the bundle / the trial family is absent, if known."""
    if bundle is None:
        return evidence_missing(GateId.ROBUSTNESS, "the research metrics bundle", ctx, why)
    p = ctx.policy.gate1
    out = Findings(GateId.ROBUSTNESS)
    out.ref("metrics_bundle", bundle)
    folds = bundle.folds
    out.at_least("FOLDS", len(folds), p.min_folds, what="folds")
    out.at_least("TRADES", sum(f.trades for f in folds), p.min_trades,
                 what="out-of-sample fills")
    out.at_least("OOS_NET_PNL", sum(f.net_pnl for f in folds), p.min_oos_net_pnl,
                 what="out-of-sample net PnL", strict=True)
    negative = sum(f.net_pnl < 0 for f in folds) / len(folds)
    out.at_most("NEGATIVE_FOLD_RATIO", negative, p.max_negative_fold_ratio,
                what="share of losing folds")
    s = bundle.statistics
    out.at_most("PBO", s.pbo.pbo if s.pbo else None, p.max_pbo, what="PBO")
    _deflated_sharpe(bundle, family, out, ctx, family_why)
    out.at_most("REALITY_CHECK_PVALUE", s.reality_check_pvalue, p.max_reality_check_pvalue,
                what="reality-check p-value", strict=True)
    out.at_most("SPA_PVALUE", s.spa_pvalue_consistent, p.max_spa_pvalue,
                what="SPA p-value", strict=True)
    out.at_least("SENSITIVITY", s.sensitivity.score if s.sensitivity else None,
                 p.min_sensitivity, what="parameter sensitivity score")
    m = bundle.selected_metrics
    out.at_most("COST_BPS", m.cost_bps, p.max_cost_bps, what="cost (bps)")
    out.at_most("DRAWDOWN", -min(m.max_drawdown, s.oos.max_drawdown), p.max_drawdown,
                what="max drawdown (fraction)")
    out.at_most("TURNOVER", m.turnover, p.max_turnover, what="annualised turnover")
    _stress(bundle.stress, out, ctx)
    return out.result(ctx)


def _deflated_sharpe(bundle: MetricsBundle, family: TrialFamily | None, out: Findings,
                     ctx: Context, why: str | None) -> None:
    s = bundle.statistics
    if family is None:
        out.missing("TRIAL_FAMILY", "the ledger's trial count for the strategy family", why)
        return
    out.ref("trial_family", family)
    out.observe("n_trials_family", family.n_trials)
    out.observe("var_trial_sharpe_family", family.var_trial_sharpe)
    strategy_type = bundle.candidate.strategy_type
    if family.strategy_type != strategy_type or family.n_trials < s.n_trials_run:
        out.fail("TRIAL_FAMILY_INCONSISTENT",
                 f"the family record ({family.strategy_type}, N={family.n_trials}) must be "
                 f"{strategy_type}'s and hold at least this run's {s.n_trials_run} trials",
                 family.n_trials, s.n_trials_run)
        return
    dsr = None
    estimator = next((e for e in ESTIMATORS if e == s.estimator), None)
    if (estimator is not None and s.oos.sharpe is not None and s.oos_skew is not None
            and s.oos_kurtosis is not None):
        try:
            dsr = deflated_sharpe_ratio(s.oos.sharpe, s.oos.n_obs, s.oos_skew, s.oos_kurtosis,
                                        family.n_trials, var_trials_sr=family.var_trial_sharpe,
                                        estimator=estimator).dsr
        except TorghutError:
            dsr = None  # moments inconsistent: the DSR is undefined, which fails closed
    out.at_least("DSR", dsr, ctx.policy.gate1.min_dsr, what=f"DSR (N={family.n_trials})")


def _stress(suite: StressSuite | None, out: Findings, ctx: Context) -> None:
    p = ctx.policy.gate1
    ran = {r.name: r for r in suite.scenarios} if suite is not None else {}
    for name in p.required_stress:
        record = ran.get(name)
        if record is None:
            out.fail("STRESS_SCENARIO_MISSING", f"required stress scenario {name!r} did not "
                     "run", name, None)
            continue
        pnl = record.metrics.net_pnl
        out.observe(f"stress.{name}.net_pnl", pnl)
        if not pnl > 0:
            out.fail("STRESS_NET_PNL_BELOW_MIN", f"net PnL under {name} is {pnl:.6g}",
                     pnl, 0.0)
        rel = record.relative.get("sharpe")
        loss = -rel if rel is not None else None
        out.observe(f"stress.{name}.sharpe_degradation", loss)
        if loss is None:
            out.fail("STRESS_SHARPE_DEGRADATION_MISSING",
                     f"Sharpe degradation under {name} is undefined")
        elif loss > p.max_stress_sharpe_degradation:
            out.fail("STRESS_SHARPE_DEGRADATION_ABOVE_MAX",
                     f"Sharpe falls {loss:.1%} under {name}", loss,
                     p.max_stress_sharpe_degradation)
