"""Gate 0 — is the data fresh, complete and schema-compatible? (reads a QualityReport)."""

from __future__ import annotations

from torghut.contracts.datasets import FindingSeverity, QualityReport
from torghut.contracts.gates import GateId, GateResult
from torghut.gates.checks import Context, Findings, evidence_missing


def evaluate_gate0(report: QualityReport | None, ctx: Context, *,
                   dataset_id: str | None = None,
                   universe: tuple[str, ...] | None = None,
                   why: str | None = None) -> GateResult:
    """Judge the data-quality report of the snapshot a candidate was researched on.

    ``dataset_id`` / ``universe``, when given, are what the candidate used: the report must
    be about that snapshot and cover every symbol of that universe.
    """
    if report is None:
        return evidence_missing(GateId.DATA, "the data-quality report", ctx, why)
    p = ctx.policy.gate0
    out = Findings(GateId.DATA)
    out.ref("quality_report", report)
    out.observe("dataset_id", report.dataset_id)
    if dataset_id is not None and dataset_id != report.dataset_id:
        out.fail("DATASET_MISMATCH", "the quality report is about another snapshot",
                 report.dataset_id, dataset_id)
    if universe is not None:
        absent = sorted(set(universe) - set(report.universe))
        if absent:
            out.fail("UNIVERSE_NOT_COVERED", "symbols the report did not check: "
                     + ", ".join(absent), len(absent), 0)
    out.observe("report_passed", report.passed)
    if not report.passed:
        out.fail("QUALITY_REPORT_FAILED", "the quality report did not pass", False, True)
    for finding in report.findings:
        if finding.severity is FindingSeverity.FAIL:
            where = f" ({finding.symbol})" if finding.symbol else ""
            out.fail("QUALITY_FINDING", f"{finding.code}{where}: {finding.message}",
                     finding.code, None)
    m = report.metrics
    out.at_most("NULL_RATE", m.get("max_required_null_rate"), p.max_null_rate,
                what="max required-column null rate")
    out.at_most("DUPLICATE_RATIO", m.get("duplicate_ratio"), p.max_duplicate_ratio,
                what="duplicate ratio")
    out.at_least("SYMBOL_COVERAGE", m.get("symbol_coverage"), p.min_symbol_coverage,
                 what="symbol coverage")
    out.at_most("GAP_RATIO", m.get("gap_ratio"), p.max_gap_ratio, what="calendar gap ratio")
    if p.max_staleness_seconds is not None:
        out.at_most("STALENESS", m.get("staleness_seconds"), p.max_staleness_seconds,
                    what="staleness (s)")
    return out.result(ctx)
