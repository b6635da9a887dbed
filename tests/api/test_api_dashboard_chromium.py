"""The dashboard in real headless Chromium (Debian ``chromium``): every page loads from a real
``torghut serve``, its charts are in the DOM Chromium built (SVG with data points), and the
screenshot is not blank. In CI (``CI=true``) a missing Chromium fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from tests.api.api_helpers import real_server, seed_governance, seed_runtime
from torghut.api import kill
from torghut.workspace import init_workspace

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--no-first-run",
                  "--disable-component-update", "--disable-sync")
# page → the chart kinds it must draw with data
PAGES = {"/": ("bar",), "/tca": ("histogram", "line", "bar"), "/promotions": ("bar",)}


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("Debian chromium is required in CI for the dashboard test")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    return path


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ws = init_workspace(tmp_path_factory.mktemp("chromium") / "ws")
    seed_runtime(ws)
    seed_governance(ws)
    with real_server(ws) as server:
        signed = kill.sign_request(ws, "oscar", op="engage", scope="symbol:AAA",
                                   state="halted", reason="browser test")
        assert kill.post_request(server.url, signed).status_code == 200
        yield server.url


def _browse(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}",
                           *args, url], capture_output=True, text=True, timeout=120)


class _Dom(HTMLParser):
    """Charts (svg.chart) in Chromium's serialised DOM and the data marks inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, object]] = []
        self._open: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        if tag == "svg" and "chart" in classes:
            self._open = {"kind": next(c[6:] for c in classes if c.startswith("chart-")),
                          "declared": int(attr.get("data-points") or 0), "marks": 0}
            self.charts.append(self._open)
        elif self._open is not None and "point" in classes:
            self._open["marks"] = int(str(self._open["marks"])) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._open = None


@pytest.mark.parametrize("path", list(PAGES))
def test_api_dashboard_chromium_renders_charts(server_url: str, path: str,
                                               tmp_path: Path) -> None:
    dumped = _browse(tmp_path, server_url + path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)
    kinds = [c["kind"] for c in dom.charts]
    for kind in PAGES[path]:
        assert kind in kinds, (path, kinds)
    for chart in dom.charts:
        assert int(str(chart["declared"])) > 0, (path, chart)
        assert int(str(chart["marks"])) > 0, (path, chart)
    if path == "/":
        assert "symbol:AAA" in dumped.stdout and "halted" in dumped.stdout


@pytest.mark.parametrize("path", list(PAGES))
def test_api_dashboard_chromium_screenshot_is_not_blank(server_url: str, path: str,
                                                        tmp_path: Path) -> None:
    shot = tmp_path / "x.png"
    proc = _browse(tmp_path, server_url + path, f"--screenshot={shot}",
                   "--window-size=1280,900", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
    assert len(colours) >= 8, len(colours)  # text, header, badges, chart fills…
    background = max(colours)[0]
    assert background < 0.97 * 1280 * 900  # a blank page is one colour
