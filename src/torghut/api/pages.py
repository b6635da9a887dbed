"""Server-rendered dashboard pages: overview, TCA, promotions.

Plain HTML with inline CSS and inline SVG charts (:mod:`torghut.api.charts`): no JavaScript,
no CDN, nothing fetched by the browser but the page itself. Every value that comes from the
ledger or GitOps is HTML-escaped here, once, by :func:`e`. Each function takes plain data
(what :mod:`torghut.api.readers` returns) and returns a complete document, so pages are pure
and testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from torghut.api import charts

NO_DATA = "no data yet"
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#13294b;color:#fff;padding:10px 24px;display:flex;gap:24px;
align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header a.current{text-decoration:underline}
header .brand{font-size:18px;font-weight:700;margin-right:16px}
main{padding:16px 24px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;
margin-bottom:16px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;
font-weight:600;color:#fff;background:#546e7a}
.ok,.pass,.active,.enabled,.merged,.approved{background:#2e7d32}
.fail,.halted,.disabled,.rejected,.closed{background:#c62828}
.reducing,.open,.warn{background:#ef6c00}
.muted{color:#666}.empty{color:#777;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.errors li{color:#c62828}
"""
PAGES = (("/", "Overview"), ("/tca", "TCA"), ("/promotions", "Promotions"))


def e(value: Any) -> str:
    """Escape for HTML text and attributes (None renders as an em dash)."""
    return "—" if value is None else escape(str(value), quote=True)


def badge(value: Any) -> str:
    text = str(value) if value is not None else "—"
    css = "".join(ch for ch in text.lower() if ch.isalnum() or ch == "_")
    return f'<span class="badge {e(css)}">{e(text)}</span>'


def short(sha: str | None, n: int = 12) -> str:
    return f'<span class="mono" title="{e(sha)}">{e(sha[:n] if sha else None)}</span>'


def page(title: str, path: str, body: str) -> str:
    current = ' class="current"'
    nav = "".join(f'<a href="{href}"{current if href == path else ""}>{label}</a>'
                  for href, label in PAGES)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)} · Torghut</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<style>{CSS}</style></head><body>"
            f'<header><span class="brand">Torghut</span>{nav}'
            '<a href="/api/status">status</a><a href="/metrics">metrics</a></header>'
            f"<main><h1>{e(title)}</h1>{body}</main></body></html>\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """Cells are pre-rendered HTML (callers escape with :func:`e`)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td class="empty" colspan="{len(headers)}">{NO_DATA}</td></tr>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    return f'<table class="{e(cls)}">{thead}<tbody>{body}</tbody></table>'


def section(title: str, content: str, *, ident: str = "") -> str:
    anchor = f' id="{e(ident)}"' if ident else ""
    return f"<section{anchor}><h2>{e(title)}</h2>{content}</section>"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _time_label(x: float) -> str:
    return datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------- overview


def overview(status: Mapping[str, Any], kill: Sequence[Mapping[str, Any]],
             gates: Sequence[Mapping[str, Any]], gate_ids: Sequence[str],
             risk_codes: Sequence[tuple[str, int]]) -> str:
    """Kill switch per scope, strategies (mode, enabled or why not), gate status, risk codes."""
    parts = [section("Runtime", _runtime_summary(status), ident="runtime"),
             section("Kill switch", _kill_table(kill), ident="kill-switch"),
             section("Strategies", _strategy_table(status), ident="strategies"),
             section("Gate status per candidate", _gate_table(gates, gate_ids), ident="gates"),
             section("Pre-trade risk decisions", '<div class="charts">' + charts.bar_chart(
                 [(c, float(n)) for c, n in risk_codes], title="Risk decisions by reason code",
                 x_label="reason code", y_label="decisions", counts=True) + "</div>", ident="risk")]
    return page("Overview", "/", "".join(parts))


def _runtime_summary(status: Mapping[str, Any]) -> str:
    rows = [("mode", badge(status.get("mode"))),
            ("config sha256", short(status.get("config_sha256"), 16)),
            ("GitOps main", short(status.get("commit"))),
            ("applied at", e(status.get("applied_at"))),
            ("open circuits", e(status.get("telemetry", {}).get("circuits_open")))]
    session = status.get("last_session")
    rows.append(("last session", e(None) if not session else
                 f'{e(session["id"])} <span class="muted">({e(session["mode"])}, '
                 f'{e(session["created_at"])})</span>'))
    html = table(("", ""), rows)
    problems = [*status.get("errors", ()), *([status["last_error"]]
                                              if status.get("last_error") else [])]
    if problems:
        html += '<ul class="errors">' + "".join(f"<li>{e(p)}</li>" for p in problems) + "</ul>"
    return html


def _kill_table(kill: Sequence[Mapping[str, Any]]) -> str:
    return table(("scope", "state", "reason", "actor", "trigger", "incident", "since"),
                 ([e(k["scope"]), badge(k["state"]), e(k.get("reason")), e(k.get("actor")),
                   e(k.get("trigger")), e(k.get("incident_id")), e(k.get("since"))]
                  for k in kill))


def _strategy_table(status: Mapping[str, Any]) -> str:
    plugins = status.get("telemetry", {}).get("plugins", {})
    rows = []
    for s in status.get("strategies", ()):
        t = plugins.get(s["strategy_id"], {})
        reason = e(s.get("reason")) if s.get("reason") or s["enabled"] else \
            '<span class="muted">switched off in the catalog</span>'
        rows.append([e(s["strategy_id"]), f'<span class="mono">{e(s["ref"])}</span>',
                     e(s["mode"]), badge("enabled" if s["enabled"] else "disabled"), reason,
                     e(t.get("events", 0)), e(t.get("errors", 0)),
                     badge("open") if t.get("circuit_open") else e("closed")])
    return table(("strategy", "plugin", "mode", "status", "reason", "events", "errors",
                  "circuit"), rows)


def _gate_table(gates: Sequence[Mapping[str, Any]], gate_ids: Sequence[str]) -> str:
    rows = ([f'<span class="mono">{e(g["candidate_id"])}</span>', badge(g["state"]),
             *(badge(g["gates"][gid]) if gid in g["gates"] else e(None) for gid in gate_ids),
             e(g.get("evaluated_at"))] for g in gates)
    return table(("candidate", "state", *gate_ids, "last evaluated"), rows)


# ----------------------------------------------------------------------------- TCA


def tca(slippages: Sequence[float], shortfall: Mapping[str, Sequence[tuple[float, float]]],
        by_symbol: Sequence[Mapping[str, Any]], by_strategy: Sequence[Mapping[str, Any]],
        by_session: Sequence[Mapping[str, Any]], session_id: str | None) -> str:
    """Slippage distribution, shortfall by symbol over time, aggregates by symbol/strategy."""
    scope = f" (session {session_id})" if session_id else ""
    chart_row = '<div class="charts">' + "".join((
        charts.histogram(slippages, title=f"Arrival-mid slippage per fill{scope}",
                         x_label="slippage (bps)", y_label="fills"),
        charts.line_chart(shortfall, title=f"Cumulative implementation shortfall{scope}",
                          x_label="time (UTC)", y_label="shortfall", x_format=_time_label),
        charts.bar_chart([(str(r["strategy"]), r["slippage_bps"])
                          for r in by_strategy if r["slippage_bps"] is not None],
                         title="Slippage by strategy", x_label="strategy",
                         y_label="bps"))) + "</div>"
    parts = [section("Execution quality", chart_row, ident="charts"),
             section("By symbol", _tca_table("symbol", by_symbol), ident="by-symbol"),
             section("By strategy", _tca_table("strategy", by_strategy), ident="by-strategy"),
             section("By session", _tca_table("session", by_session), ident="by-session")]
    return page("Transaction cost analysis", "/tca", "".join(parts))


def _tca_table(key: str, rows: Sequence[Mapping[str, Any]]) -> str:
    return table((key, "orders", "fills", "filled qty", "slippage (bps)", "p50", "p95",
                  "shortfall", "shortfall (bps)", "crossing (bps)", "fill ratio", "churn"),
                 ([e(r[key]), e(r["orders"]), e(r["fills"]), _num(r["filled_qty"]),
                   _num(r["slippage_bps"]), _num(r["slippage_p50_bps"]),
                   _num(r["slippage_p95_bps"]), _num(r["shortfall"]),
                   _num(r["shortfall_bps"]), _num(r["crossing_cost_bps"]),
                   _num(r["fill_ratio"], 3), _num(r["churn"], 3)]
                  for r in rows))


# ----------------------------------------------------------------------------- promotions


def promotions(prs: Sequence[Mapping[str, Any]], states: Sequence[tuple[str, float]]) -> str:
    """Pull requests with their events and the candidate's lifecycle state."""
    rows = []
    for pr in prs:
        events = "<br>".join(f"{badge(ev['event'])} {e(ev['actor'])} "
                             f'<span class="muted">{e(ev["at"])}</span>'
                             for ev in pr["events"]) or '<span class="muted">none</span>'
        title = e(pr["title"]) if not pr.get("url") else (
            f'<a href="{e(pr["url"])}" rel="noreferrer">{e(pr["title"])}</a>')
        rows.append([e(pr["id"]), e(pr["kind"]), title,
                     f'<span class="mono">{e(pr["branch"])}</span>', e(pr["proposer"]),
                     f'<span class="mono">{e(pr.get("candidate_id"))}</span>',
                     badge(pr["state"]), events,
                     badge(pr["candidate_state"]) if pr.get("candidate_state") else e(None)])
    chart = charts.bar_chart(states, title="Pull requests by state", x_label="state",
                             y_label="pull requests", counts=True)
    parts = [section("Pull requests", table(("#", "kind", "title", "branch", "proposer",
                                              "candidate", "state", "events",
                                              "candidate state"), rows), ident="prs"),
             section("Summary", f'<div class="charts">{chart}</div>', ident="summary")]
    return page("Promotions", "/promotions", "".join(parts))
