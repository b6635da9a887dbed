"""The dashboard's SVG charts: deterministic, well-formed, escaped, honest about their data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from torghut.api import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _points(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter() if "point" in el.get("class", "").split()]


def test_api_charts_histogram_counts_every_value() -> None:
    values = [float(v % 17) - 3.5 for v in range(101)]
    root = _parse(charts.histogram(values, title="slippage", x_label="bps", bins=10))
    assert root.get("data-points") == str(len(values))
    bars = _points(root)
    assert len(bars) == 10
    assert sum(int(b.get("data-y", "0")) for b in bars) == len(values)
    assert root.find(f"{SVG}title").text == "slippage"  # type: ignore[union-attr]


def test_api_charts_histogram_ignores_non_finite_and_handles_a_flat_sample() -> None:
    root = _parse(charts.histogram([2.0, 2.0, math.nan, math.inf], title="t", x_label="x"))
    assert root.get("data-points") == "2"
    assert sum(int(b.get("data-y", "0")) for b in _points(root)) == 2


def test_api_charts_bar_chart_labels_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    svg = charts.bar_chart([(evil, 3.0), ("OK", -1.0)], title="codes & more", x_label="code",
                           y_label="n")
    assert "<script>" not in svg
    root = _parse(svg)  # still well-formed XML
    assert [p.get("data-x") for p in _points(root)] == [evil, "OK"]
    assert root.get("data-points") == "2"


def test_api_charts_line_chart_series_and_points() -> None:
    series = {"AAA": [(3.0, 1.0), (1.0, 0.5), (2.0, -1.0)], "BBB": [(1.0, 2.0)]}
    root = _parse(charts.line_chart(series, title="shortfall", x_label="t", y_label="ccy"))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert [(g.get("data-series"), g.get("data-points")) for g in groups] == [("AAA", "3"),
                                                                            ("BBB", "1")]
    assert root.get("data-points") == "4"
    first = groups[0].find(f"{SVG}polyline")
    assert first is not None
    xs = [float(p.split(",")[0]) for p in first.get("points", "").split()]
    assert xs == sorted(xs)  # drawn in time order whatever the input order


def test_api_charts_empty_data_says_no_data_yet() -> None:
    for svg in (charts.histogram([], title="h", x_label="x"),
                charts.bar_chart([], title="b", x_label="x", y_label="y"),
                charts.line_chart({"A": []}, title="l", x_label="x", y_label="y")):
        root = _parse(svg)
        assert root.get("data-points") == "0"
        assert charts.NO_DATA in svg and not _points(root)


def test_api_charts_are_deterministic() -> None:
    values = [math.sin(k) * 10 for k in range(50)]
    assert charts.histogram(values, title="a", x_label="b") == charts.histogram(
        list(values), title="a", x_label="b")
    series = {"X": [(float(k), math.cos(k)) for k in range(20)]}
    assert charts.line_chart(series, title="a", x_label="b", y_label="c") == \
        charts.line_chart(dict(series), title="a", x_label="b", y_label="c")


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_api_charts_nice_ticks_cover_the_range(lo: float, span: float) -> None:
    hi = lo + span
    ticks = charts.nice_ticks(lo, hi)
    assert ticks[0] <= lo + 1e-9 * max(1.0, abs(lo))
    assert ticks[-1] >= hi - 1e-9 * max(1.0, abs(hi))
    assert ticks == sorted(ticks) and 2 <= len(ticks) <= 12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=200), st.integers(1, 30))
def test_api_charts_bins_partition_the_sample(values: list[float], bins: int) -> None:
    edges = charts.bin_edges(values, bins)
    counts = charts.bin_counts(values, edges)
    assert sum(counts) == len(values) and len(counts) == bins
