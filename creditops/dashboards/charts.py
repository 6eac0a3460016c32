"""Chart geometry for server-drawn SVG: the templates in templates/dashboards/charts/ draw what these
functions lay out, so the same chart appears in the page and (later) in the PDF report, with no script."""

from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
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
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "baseline": MARGIN_TOP + plot_height, "top": top}


def line_chart(points: list[tuple[str, object]]) -> dict:
    """One series as a polyline from (label, value) pairs, equally spaced, scaled from 0 to the maximum;
    the first and last labels are kept for the axis."""
    values = [float(value) for _label, value in points if value is not None]
    top = max(values, default=0) or 1.0
    plot_width, plot_height = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_width / max(len(points) - 1, 1)
    coordinates = [
        (round(MARGIN_LEFT + index * step, 1), round(MARGIN_TOP + plot_height * (1 - float(value) / top), 1))
        for index, (_label, value) in enumerate(points)
        if value is not None
    ]
    return {
        "width": WIDTH, "height": HEIGHT, "baseline": MARGIN_TOP + plot_height, "top": top,
        "polyline": " ".join(f"{x},{y}" for x, y in coordinates),
        "first_label": points[0][0] if points else "", "last_label": points[-1][0] if points else "",
    }  # fmt: skip


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
        lines.append({"label": label, "polyline": " ".join(f"{x},{y}" for x, y in coordinates), "shade": index % 6})
    return {"width": WIDTH, "height": HEIGHT, "baseline": MARGIN_TOP + plot_height, "top": top, "right": right,
            "lines": lines}  # fmt: skip
