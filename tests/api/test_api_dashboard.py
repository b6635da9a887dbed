"""Dashboard pages rendered by the server (no browser): content, escaping, empty states."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.api.api_helpers import (
    EVIL,
    client_for,
    commit_main,
    enable_tsmom,
    seed_governance,
    seed_runtime,
)
from torghut.api import kill
from torghut.gitops.manifests import CATALOG_PATH
from torghut.workspace import Workspace

PAGES = ("/", "/tca", "/promotions")


class _Svgs(HTMLParser):
    """Collects each <svg>'s attributes and whether anything external is referenced."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "svg":
            self.svgs.append(attr)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            value = attr.get(key) or ""
            if value.startswith(("http:", "https:", "//")) and tag != "a":
                self.external.append(value)
        if tag == "link":
            self.external.append(str(attr.get("href")))


def _parse(html: str) -> _Svgs:
    parser = _Svgs()
    parser.feed(html)
    return parser


def _chart(parsed: _Svgs, kind: str) -> list[dict[str, str | None]]:
    return [s for s in parsed.svgs if f"chart-{kind}" in (s.get("class") or "")]


def test_api_dashboard_empty_workspace_says_no_data_yet(ws: Workspace) -> None:
    with client_for(ws) as (client, _):
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"].startswith("text/html")
            parsed = _parse(response.text)
            assert "no data yet" in response.text, path
            assert parsed.svgs and all(s["data-points"] == "0" for s in parsed.svgs), path
            assert parsed.scripts == 0 and parsed.external == [], path


def test_api_dashboard_overview_shows_controls_strategies_and_gates(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws, params={"lookback": "sixty"})})
    seed_runtime(ws)
    seed_governance(ws)
    with client_for(ws) as (client, _):
        before = client.get("/api/orders").json()["orders"]
        signed = kill.sign_request(ws, "oscar", op="engage", scope="strategy:tsmom",
                                   state="halted", reason="bad fills <b>x</b>")
        assert client.post("/api/kill-switch", json=signed.model_dump(mode="json")
                           ).status_code == 200
        html = client.get("/").text
        after = client.get("/api/orders").json()["orders"]
    assert after == before  # no runtime in this service: the engage writes no order events
    assert "strategy:tsmom" in html and 'class="badge halted"' in html
    assert "bad fills &lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    # the disabled entry and its reason (type mismatch) are shown
    assert 'class="badge disabled"' in html and "lookback" in html
    # gates: the newest result per gate wins (cand-1 gate1 failed, then passed)
    row = re.search(r"cand-1</span></td>(.*?)</tr>", html, re.S)
    assert row is not None
    assert row.group(1).count('class="badge pass"') == 2 and "pr_open" in row.group(1)
    risk = _chart(_parse(html), "bar")
    assert len(risk) == 1 and risk[0]["data-points"] == "3"  # ACCEPTED, PRICE_COLLAR, RATE_LIMIT


def test_api_dashboard_tca_charts_carry_the_fills(ws: Workspace) -> None:
    plan = seed_runtime(ws)
    with client_for(ws) as (client, _):
        everything = _parse(client.get("/tca").text)
        one = _parse(client.get("/tca", params={"session": "sess-b"}).text)
    assert _chart(everything, "histogram")[0]["data-points"] == str(len(plan))
    assert _chart(everything, "line")[0]["data-points"] == str(len(plan))
    assert _chart(everything, "bar")[0]["data-points"] == str(len({f.strategy_id
                                                                   for f in plan}))
    in_b = sum(f.session_id == "sess-b" for f in plan)
    assert _chart(one, "histogram")[0]["data-points"] == str(in_b)


def test_api_dashboard_promotions_escapes_ledger_text(ws: Workspace) -> None:
    seed_governance(ws, title=EVIL)
    with client_for(ws) as (client, _):
        html = client.get("/promotions").text
    assert EVIL not in html and "&lt;script&gt;" in html
    assert _parse(html).scripts == 0
    assert "codex/promote-1" in html and "codex/identity-bob" in html
    assert 'class="badge approved"' in html and "alice" in html
    assert _chart(_parse(html), "bar")[0]["data-points"] == "2"  # approved, open
