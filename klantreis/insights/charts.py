"""Charts as inline SVG, drawn on the server.

No JavaScript library and no outside asset (the CSP allows neither): each
chart is an <svg role="img"> with a <title> and a <desc> that says in words
what it shows; the page puts the same figures in a table beside it, so a
screen reader or a text browser loses nothing. Colours and fonts come from
classes in insights.css (inline styles are refused by the CSP).
"""

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 240
LEFT = 56  # room for the value axis' labels
RIGHT = 16
TOP = 16
BOTTOM = 48  # room for the category labels


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None  # None: no cases, drawn as a gap, not as zero


def figure(value: float | None, unit: str = "") -> str:
    """A value as the chart and its table write it: 87.5 %, 3.2 h, 12."""
    if value is None:
        return "–"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if unit == "%":
        return f"{text} %"
    return text


def _ceiling(largest: float) -> float:
    """A round top for the value axis (1, 2, 2.5, 5 × 10ⁿ) above the largest value."""
    if largest <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(largest))) - 1) if largest >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if largest <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _axis(top: float, bottom: float = 0.0, ticks: int = 4) -> tuple[list[SafeString], float, float]:
    """Horizontal grid lines with their labels; returns them and the scale."""
    plot_height = HEIGHT - TOP - BOTTOM
    scale = plot_height / (top - bottom) if top != bottom else 1.0
    lines = []
    for i in range(ticks + 1):
        value = bottom + (top - bottom) * i / ticks
        y = TOP + plot_height - (value - bottom) * scale
        lines.append(
            format_html(
                '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="chart-tick" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 6,
                f"{y + 4:.1f}",
                figure(value),
            )
        )
    return lines, scale, bottom


def _label(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(*, title: str, desc: str, body: Sequence[SafeString], css: str = "chart") -> SafeString:
    ident = f"chart-{zlib.crc32(title.encode()):08x}"
    return format_html(
        '<svg class="{}" role="img" viewBox="0 0 {} {}" aria-labelledby="{} {}" focusable="false">'
        '<title id="{}">{}</title><desc id="{}">{}</desc>{}</svg>',
        css,
        WIDTH,
        HEIGHT,
        f"{ident}-title",
        f"{ident}-desc",
        f"{ident}-title",
        title,
        f"{ident}-desc",
        desc,
        mark_safe("".join(body)),  # noqa: S308 - every part was built by format_html
    )


def _describe(points: Sequence[Point], unit: str) -> str:
    return "; ".join(f"{point.label}: {figure(point.value, unit)}" for point in points)


def bar_chart(*, title: str, points: Sequence[Point], unit: str = "") -> SafeString:
    """Vertical bars, one per category (a month, a technician, a version)."""
    values = [point.value for point in points if point.value is not None]
    top = 100.0 if unit == "%" else _ceiling(max(values, default=0.0))
    grid, scale, _bottom = _axis(top)
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(len(points), 1)
    bar = min(slot * 0.7, 48)
    parts = list(grid)
    for i, point in enumerate(points):
        x = LEFT + slot * i + (slot - bar) / 2
        centre = LEFT + slot * i + slot / 2
        if point.value is not None:
            height = max(point.value, 0.0) * scale
            parts.append(
                format_html(
                    '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}: {}</title></rect>",
                    f"{x:.1f}",
                    f"{HEIGHT - BOTTOM - height:.1f}",
                    f"{bar:.1f}",
                    f"{height:.1f}",
                    point.label,
                    figure(point.value, unit),
                )
            )
        parts.append(
            format_html(
                '<text class="chart-label" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{centre:.1f}",
                HEIGHT - BOTTOM + 16,
                _label(point.label, max(int(slot / 7), 4)),
            )
        )
    return _svg(title=title, desc=_describe(points, unit), body=parts)


def line_chart(*, title: str, points: Sequence[Point], unit: str = "") -> SafeString:
    """A line through the months; a month without cases breaks the line."""
    values = [point.value for point in points if point.value is not None]
    top = 100.0 if unit == "%" else _ceiling(max(values, default=0.0))
    grid, scale, _bottom = _axis(top)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / max(len(points) - 1, 1)
    parts = list(grid)
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, point in enumerate(points):
        x = LEFT + step * i if len(points) > 1 else LEFT + plot_width / 2
        if point.value is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            y = HEIGHT - BOTTOM - max(point.value, 0.0) * scale
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                format_html(
                    '<circle class="chart-dot" cx="{}" cy="{}" r="4"><title>{}: {}</title></circle>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    point.label,
                    figure(point.value, unit),
                )
            )
        parts.append(
            format_html(
                '<text class="chart-label" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{x:.1f}",
                HEIGHT - BOTTOM + 16,
                _label(point.label, 8),
            )
        )
    if segment:
        segments.append(segment)
    lines = format_html_join(
        "", '<polyline class="chart-line" points="{}"/>', ((" ".join(s),) for s in segments if len(s) > 1)
    )
    return _svg(title=title, desc=_describe(points, unit), body=[lines, *parts])


@dataclass(frozen=True)
class SentimentPoint:
    label: str
    designed: float | None  # -2 … +2, as the journey definition sets it
    measured: float | None  # already on the designed scale
    peak: bool = False
    end: bool = False


def sentiment_chart(*, title: str, desc: str, points: Sequence[SentimentPoint]) -> SafeString:
    """Designed (dashed) against measured (solid) sentiment per touchpoint,
    on the definition's −2 … +2 scale; the peak and the end moments carry a marker."""
    grid, scale, bottom = _axis(2.0, -2.0)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / max(len(points) - 1, 1)
    parts = list(grid)

    def y_of(value: float) -> float:
        return HEIGHT - BOTTOM - (value - bottom) * scale

    for series, css in (("designed", "chart-line chart-line-designed"), ("measured", "chart-line")):
        coordinates = [
            f"{LEFT + step * i:.1f},{y_of(value):.1f}"
            for i, point in enumerate(points)
            if (value := getattr(point, series)) is not None
        ]
        if len(coordinates) > 1:
            parts.append(format_html('<polyline class="{}" points="{}"/>', css, " ".join(coordinates)))
    for i, point in enumerate(points):
        x = LEFT + step * i if len(points) > 1 else LEFT + plot_width / 2
        if point.measured is not None:
            parts.append(
                format_html(
                    '<circle class="chart-dot" cx="{}" cy="{}" r="4"/>',
                    f"{x:.1f}",
                    f"{y_of(point.measured):.1f}",
                )
            )
        if point.designed is not None:
            parts.append(
                format_html(
                    '<rect class="chart-dot-designed" x="{}" y="{}" width="7" height="7"/>',
                    f"{x - 3.5:.1f}",
                    f"{y_of(point.designed) - 3.5:.1f}",
                )
            )
        if point.end:
            parts.append(
                format_html(
                    '<line class="chart-end" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                    f"{x:.1f}",
                    f"{x:.1f}",
                    TOP,
                    HEIGHT - BOTTOM,
                )
            )
        marker = "★ " if point.peak else ""
        parts.append(
            format_html(
                '<text class="chart-label" x="{}" y="{}" text-anchor="middle">{}{}</text>',
                f"{x:.1f}",
                HEIGHT - BOTTOM + 16,
                marker,
                _label(point.label, max(int(step / 7), 3)),
            )
        )
    return _svg(title=title, desc=desc, body=parts)
