"""``report.md`` of an audit pack: the human-readable summary of what the files prove.

Pure: renders what the builder gathered. Nothing here is evidence by itself — every number
comes from a pack file that the manifest hashes, and the report names those files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Rows = Mapping[str, Sequence[Mapping[str, Any]]]


def _cell(value: Any) -> str:
    text = "—" if value in (None, "", []) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""] if len(lines) > 2 else ["(none)", ""]


def _summary(meta: Mapping[str, Any], rows: Rows, head: Mapping[str, Any],
             missing: Sequence[str]) -> list[str]:
    lines = [f"# Audit pack: {meta['kind']} `{meta['subject']}`", "",
             f"- created: {meta['created_at']} by torghut {meta['torghut_version']}",
             f"- audit chain head at pack time: seq {head['seq']}, `{head['hash']}`"]
    lines += [f"- {k.replace('_', ' ')}: {_cell(meta[k])}" for k in (
        "strategy", "strategy_id", "params", "run_id", "dataset_id", "execution_model_id",
        "cost_model_id", "code_version", "feature_schema_version", "seed", "started_at",
        "finished_at", "policy_versions", "first_seen", "last_update") if k in meta]
    lines += ["- ledger rows: " + ", ".join(f"{t} {len(r)}" for t, r in sorted(rows.items()))]
    if missing:
        lines.append("- **artifacts missing from the store** (the verifier flags them): "
                     + ", ".join(f"`{d[:12]}…`" for d in missing))
    lines += ["", "Check this pack offline: `torghut audit pack verify DIR`.", ""]
    return lines


def _gates(rows: Rows) -> list[str]:
    out = ["## Gate decisions", ""]
    out += _table(["decision", "target", "decision at", "allowed", "reasons", "report"],
                  ([d["id"][:12], d["target"], d["decided_at"], d["allowed"],
                    ", ".join(map(str, d["reasons"])), (d["report_hash"] or "")[:12]]
                   for d in rows.get("promotion_decisions", [])))
    out += ["### Gate results", ""]
    out += _table(["decision", "gate", "status", "reason codes"],
                  ([(g["decision_id"] or "")[:12], g["gate_id"], g["status"],
                    ", ".join(r.get("code", "") for r in g["result"].get("reasons", []))]
                   for g in rows.get("gate_results", [])))
    return out


def _approvals(rows: Rows) -> list[str]:
    out = ["## Pull requests, approvals and lifecycle", ""]
    out += _table(["PR", "branch", "base", "head", "proposer", "diff"],
                  ([p["id"], p["branch"], p["base_sha"][:12], p["head_sha"][:12],
                    p["proposer"], f"gitops/pr-{p['id']}.diff"]
                   for p in rows.get("pull_requests", [])))
    out += _table(["PR", "event", "actor", "head", "merge", "signed"],
                  ([e["pull_request_id"], e["event"], e["actor"], e["head_sha"][:12],
                    (e["merge_sha"] or "")[:12], "yes" if e["signature"] else "no"]
                   for e in rows.get("pull_request_events", [])))
    out += _table(["approval", "approver", "role", "verdict", "signed"],
                  ([a["id"], a["approver"], a["role"], a["verdict"],
                    "yes" if a["signature"] else "no"] for a in rows.get("approvals", [])))
    out += _table(["move", "state", "mode", "actor", "at", "ref"],
                  ([p["id"], p["state"], p["requested_mode"], p["actor"], p["created_at"],
                    p["patch_ref"]] for p in rows.get("promotions", [])))
    return out


def _runtime(rows: Rows, strategy_id: str | None) -> list[str]:
    out = ["## Runtime and operations", ""]
    out += _table(["session", "mode", "operator", "window", "config"],
                  ([s["id"], s["mode"], s["operator"],
                    f"{s['window_start']} .. {s['window_end']}", s["config_sha256"][:12]]
                   for s in rows.get("runtime_sessions", [])))
    mine = [(s["id"], (s["summary"] or {}).get("strategies", {}).get(strategy_id))
            for s in rows.get("runtime_sessions", [])]
    out += _table(["session", "net PnL", "paper-vs-sim PnL divergence", "intent agreement",
                   "orders", "fills", "slippage (bps)"],
                  ([sid, m.get("net_pnl"), m.get("pnl_divergence"), m.get("intent_agreement"),
                    m.get("orders"), m.get("fills"), m.get("slippage_bps")]
                   for sid, m in mine if isinstance(m, dict)))
    codes: dict[str, int] = {}
    for r in rows.get("risk_decisions", []):
        codes[f"{r['action']} {r['code']}"] = codes.get(f"{r['action']} {r['code']}", 0) + 1
    out += ["Risk decisions by code:", "", *_table(["decision", "count"], sorted(codes.items()))]
    out += [f"Order events: {len(rows.get('order_events', []))}; fills: "
            f"{len(rows.get('fills', []))}.", ""]
    out += ["Kill-switch events:", ""]
    out += _table(["kill switch", "action", "scope", "state", "trigger", "actor", "incident",
                   "at"],
                  ([k["id"], k["action"], k["scope"], k["state"], k["trigger"], k["actor"],
                    k["incident_id"], k["created_at"]]
                   for k in rows.get("kill_switch_events", [])))
    if rows.get("incidents"):
        out += ["Incident history:", ""]
        out += _table(["incident row", "class", "severity", "status", "actor", "at", "summary"],
                      ([i["id"], i["incident_class"], i["severity"], i["status"], i["actor"],
                        i["created_at"], i["summary"]] for i in rows["incidents"]))
    return out


def _controls(mapping: Mapping[str, Any]) -> list[str]:
    out = ["## Control mapping (../shared/CONTROLS.md)", ""]
    out += _table(["control", "source", "status", "evidence in this pack"],
                  ([cid, c["source"], c["status"],
                    ", ".join(f"{e['path']} ({e['records']})" for e in c["evidence"])]
                   for cid, c in mapping.items()))
    return out


def render_report(meta: Mapping[str, Any], rows: Rows, head: Mapping[str, Any],
                  mapping: Mapping[str, Any], files: Sequence[tuple[str, str]],
                  missing: Sequence[str]) -> str:
    lines = [*_summary(meta, rows, head, missing), *_gates(rows), *_approvals(rows),
             *_runtime(rows, meta.get("strategy_id")), *_controls(mapping), "## Files", "",
             "sha256 of every file written before this report (`manifest.json` lists every "
             "file, this one included).", ""]
    lines += _table(["file", "sha256"], ((path, f"`{digest}`") for path, digest in files))
    return "\n".join(lines)
