"""GateReport → Markdown for reviewers (the JSON form is the report's canonical JSON)."""

from __future__ import annotations

from torghut.contracts.gates import GateReport, GateResult, Scalar

TITLES = {"gate0": "Gate 0 — data", "gate1": "Gate 1 — robustness", "gate2": "Gate 2 — paper",
          "gate3": "Gate 3 — TCA", "gate4": "Gate 4 — live review",
          "hard_stops": "Hard stops"}


def _fmt(value: Scalar) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _result(r: GateResult) -> list[str]:
    lines = [f"## {TITLES[r.gate_id.value]}: **{r.status.value.upper()}**", ""]
    if r.reasons:
        lines += ["| code | message | observed | threshold |", "|---|---|---|---|"]
        lines += [f"| `{x.code}` | {_cell(x.message)} | {_cell(_fmt(x.observed))} | "
                  f"{_cell(_fmt(x.threshold))} |" for x in r.reasons]
        lines.append("")
    if r.observations:
        lines += ["| observed | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(_fmt(v))} |" for k, v in r.observations.items()]
        lines.append("")
    if r.artifact_refs:
        lines += ["Evidence: " + ", ".join(f"{a.kind} `{a.sha256[:12]}`"
                                           for a in r.artifact_refs), ""]
    return lines


def render_markdown(report: GateReport) -> str:
    head = [
        f"# Gate report: {report.candidate_id} → {report.target.value}", "",
        f"**Decision: {report.decision.value.upper()}**", "",
        f"- evaluated at: {report.evaluated_at.isoformat()}",
        f"- policy: {report.policy_version} (`{report.policy_checksum}`)",
        f"- code version: {report.code_version}",
        "- required: " + ", ".join(g.value for g in report.required_gates), "",
    ]
    body = [line for r in report.results for line in _result(r)]
    return "\n".join(head + body).rstrip() + "\n"
