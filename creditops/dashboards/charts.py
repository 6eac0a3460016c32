"""Chart geometry for server-drawn SVG: the templates in templates/dashboards/charts/ draw what these
functions lay out, so the same chart appears in the page and in the PDF report, with no script."""

import datetime
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
# Colours go on the SVG elements themselves (WeasyPrint ignores stylesheet colours inside SVG).
INK, PALETTE = "#1d4e89", ["#1d4e89", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490"]
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 56, 36, 12


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: object


def bar_chart(items: list[tuple[str, object]]) -> dict:
    """Vertical bars for (label, value) pairs, scaled to the largest value."""
    top = max((float(value or 0) for _label, value in items), default=0) or 1.0
    plot_width, plot_height = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_width / max(len(items), 1)
    bars = []
    for index, (label, value) in enumerate(items):
        height = plot_height * float(value or 0) / top
        bars.append(Bar(
            x=round(MARGIN_LEFT + index * slot + slot * 0.15, 1), y=round(MARGIN_TOP + plot_height - height, 1),
            width=round(slot * 0.7, 1), height=round(height, 1), label=label, value=value,
        ))  # fmt: skip
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "baseline": MARGIN_TOP + plot_height, "top": top,
            "color": INK}  # fmt: skip


def line_chart(points: list[tuple[datetime.date, object]]) -> dict:
    """One series over days as a polyline, each point placed by its date (a missing day leaves a gap in
    the spacing, not a wrong slope), scaled from 0 to the maximum."""
    chart = lines_chart([("", [((day - points[0][0]).days, value) for day, value in points])] if points else [])
    chart["first_label"] = f"{points[0][0]:%Y-%m-%d}" if points else ""
    chart["last_label"] = f"{points[-1][0]:%Y-%m-%d}" if points else ""
    chart["polyline"] = chart["lines"][0]["polyline"] if points else ""
    return chart


def lines_chart(series: list[tuple[str, list[tuple[int, object]]]]) -> dict:
    """Several series over a shared numeric x axis (e.g. months on book), each a polyline, scaled from 0
    to the largest x and y of all series."""
    xs = [x for _label, points in series for x, value in points if value is not None]
    ys = [float(value) for _label, points in series for _x, value in points if value is not None]
    right, top = max(xs, default=0) or 1, max(ys, default=0) or 1.0
    plot_width, plot_height = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    lines = []
    for index, (label, points) in enumerate(series):
        coordinates = [
            (round(MARGIN_LEFT + plot_width * x / right, 1), round(MARGIN_TOP + plot_height * (1 - float(v) / top), 1))
            for x, v in points
            if v is not None
        ]
        lines.append({
            "label": label, "polyline": " ".join(f"{x},{y}" for x, y in coordinates), "dots": coordinates,
            "color": PALETTE[index % len(PALETTE)],
        })  # fmt: skip
    return {"width": WIDTH, "height": HEIGHT, "baseline": MARGIN_TOP + plot_height, "top": top, "right": right,
            "lines": lines}  # fmt: skip
