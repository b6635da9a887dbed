"""Inline SVG charts for the dashboard: histogram, line chart, bar chart.

Pure and deterministic: the same data gives the same bytes (fixed number formatting, no
randomness, no clock), so pages can be compared and cached. No JavaScript and no external
resources — the dashboard works offline and behind strict CSPs. Every chart is an ``<svg>``
with ``class="chart chart-<kind>"`` and a ``data-points`` attribute (how many data marks
it drew); each mark carries ``class="point"`` and ``data-x``/``data-y``, so a test (or a
screen reader, via ``<title>``) can read what was plotted. Text from the ledger is escaped.
Empty data draws the axes frame with a "no data yet" message and ``data-points="0"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 280
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
NO_DATA = "no data yet"


@dataclass(frozen=True)
class Frame:
    """Plot area inside the SVG (margins leave room for tick labels and axis titles)."""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = 64
    right: int = 16
    top: int = 32
    bottom: int = 48

    @property
    def x0(self) -> float:
        return float(self.left)

    @property
    def x1(self) -> float:
        return float(self.width - self.right)

    @property
    def y0(self) -> float:  # bottom of the plot area (SVG y grows downward)
        return float(self.height - self.bottom)

    @property
    def y1(self) -> float:
        return float(self.top)


def fmt(value: float) -> str:
    """A short, fixed representation (same input, same text on every machine)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.2e}"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def _c(value: float) -> str:
    """An SVG coordinate with two decimals."""
    return f"{value:.2f}"


def nice_ticks(lo: float, hi: float, count: int = 5, *, min_step: float = 0.0) -> list[float]:
    """Round tick values covering [lo, hi] with a 1-2-5 step (Heckbert, Graphics Gems 1990).

    A range too narrow to divide in floating point (a flat series) is widened around its
    value first, so the axis still has at least two ticks. ``min_step=1`` keeps counts on
    whole numbers.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-9 * max(1.0, abs(lo), abs(hi)):
        pad = max(abs(lo) * 0.01, 1.0)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    base = 10.0 ** math.floor(math.log10(raw))
    step = max(next(m * base for m in (1.0, 2.0, 5.0, 10.0) if m * base >= raw), min_step)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [float(f"{k * step:.12g}") for k in range(first, max(last, first + 1) + 1)]


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = hi - lo or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _open(kind: str, title: str, points: int, frame: Frame) -> list[str]:
    label = escape(title, quote=True)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
            f'width="{frame.width}" height="{frame.height}" '
            f'viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{label}" '
            f'data-points="{points}">',
            f"<title>{escape(title)}</title>",
            f'<rect x="0" y="0" width="{frame.width}" height="{frame.height}" fill="#ffffff"/>',
            f'<text x="{frame.width / 2:.1f}" y="18" text-anchor="middle" font-size="14" '
            f'font-weight="bold" fill="#222">{escape(title)}</text>']


def _axes(frame: Frame, x_label: str, y_label: str) -> list[str]:
    midx = (frame.x0 + frame.x1) / 2
    midy = (frame.y0 + frame.y1) / 2
    return [f'<line class="axis x-axis" x1="{_c(frame.x0)}" y1="{_c(frame.y0)}" '
            f'x2="{_c(frame.x1)}" y2="{_c(frame.y0)}" stroke="#333"/>',
            f'<line class="axis y-axis" x1="{_c(frame.x0)}" y1="{_c(frame.y0)}" '
            f'x2="{_c(frame.x0)}" y2="{_c(frame.y1)}" stroke="#333"/>',
            f'<text class="axis-label" x="{_c(midx)}" y="{frame.height - 6}" '
            f'text-anchor="middle" font-size="12" fill="#333">{escape(x_label)}</text>',
            f'<text class="axis-label" x="14" y="{_c(midy)}" text-anchor="middle" '
            f'font-size="12" fill="#333" transform="rotate(-90 14 {_c(midy)})">'
            f"{escape(y_label)}</text>"]


def _y_ticks(frame: Frame, ticks: Sequence[float], y: Callable[[float], float]) -> list[str]:
    out: list[str] = []
    for t in ticks:
        yy = _c(y(t))
        out.append(f'<line class="grid" x1="{_c(frame.x0)}" y1="{yy}" x2="{_c(frame.x1)}" '
                   f'y2="{yy}" stroke="#e5e5e5"/>')
        out.append(f'<text class="tick y-tick" x="{_c(frame.x0 - 6)}" y="{yy}" '
                   f'text-anchor="end" dominant-baseline="middle" font-size="11" '
                   f'fill="#333">{escape(fmt(t))}</text>')
    return out


def _x_tick(frame: Frame, xx: float, text: str) -> str:
    return (f'<text class="tick x-tick" x="{_c(xx)}" y="{_c(frame.y0 + 16)}" '
            f'text-anchor="middle" font-size="11" fill="#333">{escape(text)}</text>')


def _empty(kind: str, title: str, x_label: str, y_label: str, frame: Frame) -> str:
    parts = _open(kind, title, 0, frame) + _axes(frame, x_label, y_label)
    parts.append(f'<text class="no-data" x="{_c((frame.x0 + frame.x1) / 2)}" '
                 f'y="{_c((frame.y0 + frame.y1) / 2)}" text-anchor="middle" font-size="14" '
                 f'fill="#777">{NO_DATA}</text>')
    return "\n".join([*parts, "</svg>"])


# ----------------------------------------------------------------------------- histogram


def bin_edges(values: Sequence[float], bins: int) -> list[float]:
    """``bins`` equal-width edges over the finite values' range (one unit wide if flat)."""
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / bins
    return [lo + i * width for i in range(bins)] + [hi]


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin; the last bin includes its right edge (numpy.histogram's rule)."""
    counts = [0] * (len(edges) - 1)
    lo, hi = edges[0], edges[-1]
    width = (hi - lo) / len(counts)
    for v in values:
        k = len(counts) - 1 if v >= hi else int((v - lo) / width)
        counts[max(0, min(k, len(counts) - 1))] += 1
    return counts


def histogram(values: Sequence[float], *, title: str, x_label: str, y_label: str = "count",
              bins: int = 20, frame: Frame | None = None, color: str = PALETTE[0]) -> str:
    """Distribution of ``values`` (non-finite values are ignored) as equal-width bars."""
    frame = frame or Frame()
    finite = [float(v) for v in values if math.isfinite(v)]
    if not finite:
        return _empty("histogram", title, x_label, y_label, frame)
    edges = bin_edges(finite, max(1, bins))
    counts = bin_counts(finite, edges)
    yt = nice_ticks(0.0, float(max(counts)), min_step=1.0)
    x = _scale(edges[0], edges[-1], frame.x0, frame.x1)
    y = _scale(0.0, yt[-1], frame.y0, frame.y1)
    parts = _open("histogram", title, len(finite), frame) + _y_ticks(frame, yt, y)
    for k, count in enumerate(counts):
        left, right = x(edges[k]), x(edges[k + 1])
        top = y(count)
        parts.append(f'<rect class="point bar" x="{_c(left)}" y="{_c(top)}" '
                     f'width="{_c(max(right - left - 1, 0.5))}" height="{_c(frame.y0 - top)}" '
                     f'fill="{color}" data-x="{fmt(edges[k])}" data-x2="{fmt(edges[k + 1])}" '
                     f'data-y="{count}"><title>[{escape(fmt(edges[k]))}, '
                     f'{escape(fmt(edges[k + 1]))}): {count}</title></rect>')
    for t in nice_ticks(edges[0], edges[-1]):
        if edges[0] <= t <= edges[-1]:
            parts.append(_x_tick(frame, x(t), fmt(t)))
    parts += _axes(frame, x_label, y_label)
    return "\n".join([*parts, "</svg>"])


# ----------------------------------------------------------------------------- bar chart


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, x_label: str, y_label: str,
              frame: Frame | None = None, colors: Sequence[str] = PALETTE,
              counts: bool = False) -> str:
    """One bar per (label, value), in the order given; negative values hang below zero.
    ``counts``: the values are counts (whole-number ticks)."""
    frame = frame or Frame()
    data = [(str(label), float(v)) for label, v in bars if math.isfinite(v)]
    if not data:
        return _empty("bar", title, x_label, y_label, frame)
    yt = nice_ticks(min(0.0, *(v for _, v in data)), max(0.0, *(v for _, v in data)),
                    min_step=1.0 if counts else 0.0)
    y = _scale(yt[0], yt[-1], frame.y0, frame.y1)
    slot = (frame.x1 - frame.x0) / len(data)
    parts = _open("bar", title, len(data), frame) + _y_ticks(frame, yt, y)
    zero = y(0.0)
    for k, (label, value) in enumerate(data):
        left = frame.x0 + k * slot + slot * 0.15
        top, bottom = sorted((y(value), zero))
        parts.append(f'<rect class="point bar" x="{_c(left)}" y="{_c(top)}" '
                     f'width="{_c(slot * 0.7)}" height="{_c(max(bottom - top, 0.5))}" '
                     f'fill="{colors[k % len(colors)]}" data-x="{escape(label, quote=True)}" '
                     f'data-y="{fmt(value)}"><title>{escape(label)}: {escape(fmt(value))}'
                     f"</title></rect>")
        parts.append(_x_tick(frame, left + slot * 0.35, _short(label)))
    parts += _axes(frame, x_label, y_label)
    return "\n".join([*parts, "</svg>"])


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


# ----------------------------------------------------------------------------- line chart


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str,
               x_label: str, y_label: str, x_format: Callable[[float], str] = fmt,
               frame: Frame | None = None, colors: Sequence[str] = PALETTE) -> str:
    """One polyline per named series of (x, y) points (sorted by x), with a legend."""
    frame = frame or Frame(right=128)
    clean = {name: sorted((float(a), float(b)) for a, b in pts
                          if math.isfinite(a) and math.isfinite(b))
             for name, pts in sorted(series.items())}
    clean = {name: pts for name, pts in clean.items() if pts}
    n = sum(len(p) for p in clean.values())
    if not n:
        return _empty("line", title, x_label, y_label, frame)
    xs = [a for pts in clean.values() for a, _ in pts]
    ys = [b for pts in clean.values() for _, b in pts]
    xlo, xhi = min(xs), max(xs)
    if xhi == xlo:
        xlo, xhi = xlo - 1.0, xhi + 1.0
    yt = nice_ticks(min(ys), max(ys))
    x = _scale(xlo, xhi, frame.x0, frame.x1)
    y = _scale(yt[0], yt[-1], frame.y0, frame.y1)
    parts = _open("line", title, n, frame) + _y_ticks(frame, yt, y)
    for k, tx in enumerate((xlo, (xlo + xhi) / 2, xhi)):
        anchor = ("start", "middle", "end")[k]
        parts.append(_x_tick(frame, x(tx), x_format(tx)).replace(
            'text-anchor="middle"', f'text-anchor="{anchor}"'))
    for k, (name, pts) in enumerate(clean.items()):
        color = colors[k % len(colors)]
        coords = " ".join(f"{_c(x(a))},{_c(y(b))}" for a, b in pts)
        label = escape(name, quote=True)
        parts.append(f'<g class="series" data-series="{label}" data-points="{len(pts)}">')
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                     f'stroke-width="2"/>')
        for a, b in pts:
            parts.append(f'<circle class="point" cx="{_c(x(a))}" cy="{_c(y(b))}" r="3" '
                         f'fill="{color}" data-x="{escape(x_format(a), quote=True)}" '
                         f'data-y="{fmt(b)}"><title>{escape(name)} {escape(x_format(a))}: '
                         f"{escape(fmt(b))}</title></circle>")
        parts.append("</g>")
        ly = frame.y1 + 14 * k
        parts.append(f'<rect x="{_c(frame.x1 + 8)}" y="{_c(ly)}" width="10" height="10" '
                     f'fill="{color}"/>')
        parts.append(f'<text class="legend" x="{_c(frame.x1 + 22)}" y="{_c(ly + 9)}" '
                     f'font-size="11" fill="#333">{escape(_short(name))}</text>')
    parts += _axes(frame, x_label, y_label)
    return "\n".join([*parts, "</svg>"])
