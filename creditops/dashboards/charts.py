"""Chart geometry for server-drawn SVG: the templates in templates/dashboards/charts/ draw what these
functions lay out, so the same chart appears in the page and in the PDF report, with no script. Axes carry
round ticks labelled as the tables print the same values (money with separators and currency, rates in
per cent), and a chart of several lines carries a legend."""

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext

from creditops.core.money import format_money

WIDTH, HEIGHT = 640, 260
# Colours go on the SVG elements themselves (WeasyPrint ignores stylesheet colours inside SVG).
# Twelve colours apart, one per vintage of a year.
INK, PALETTE = "#1d4e89", [
    "#1d4e89", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a21caf", "#c2410c", "#334155",
    "#0369a1", "#854d0e",
]  # fmt: skip
# The left margin holds the y labels ("12,000,000.00 CNY"); the bottom one the x labels and the legend.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM, MARGIN_TOP = 124, 16, 44, 12
Y_TICKS = 4
LEGEND_SPACING, LEGEND_ROW = 80, 16

# How a value on the y axis is printed: as money, as a rate, or as a count.
MONEY, PERCENT, COUNT = "money", "percent", "count"


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: object


def nice_top(largest: float, ticks: int = Y_TICKS) -> float:
    """The smallest round number (1, 2, 2.5 or 5 times a power of ten, times `ticks`) not below `largest`."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= raw)
    return step * ticks


def tick_label(value: float, kind: str, currency: str = "") -> str:
    if kind == PERCENT:
        return f"{value * 100:.3g} %"
    if kind == MONEY:
        return format_money(Decimal(str(round(value, 2))), currency)
    return f"{value:,.0f}"


def _y_axis(top: float, kind: str, currency: str, plot_height: float) -> list[dict]:
    return [
        {"y": round(MARGIN_TOP + plot_height * (1 - index / Y_TICKS), 1),
         "label": tick_label(top * index / Y_TICKS, kind, currency)}
        for index in range(Y_TICKS + 1)
    ]  # fmt: skip


def _frame(top: float, kind: str, currency: str) -> dict:
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    return {
        "width": WIDTH, "height": HEIGHT, "left": MARGIN_LEFT, "right_edge": WIDTH - MARGIN_RIGHT,
        "baseline": MARGIN_TOP + plot_height, "top": top, "y_ticks": _y_axis(top, kind, currency, plot_height),
    }  # fmt: skip


def bar_chart(items: list[tuple[str, object]], *, kind: str = MONEY, currency: str = "") -> dict:
    """Vertical bars for (label, value) pairs, on an axis from 0 to a round number above the largest."""
    top = nice_top(max((float(value or 0) for _label, value in items), default=0))
    plot_width, plot_height = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_width / max(len(items), 1)
    bars = []
    for index, (label, value) in enumerate(items):
        height = plot_height * float(value or 0) / top
        bars.append(Bar(
            x=round(MARGIN_LEFT + index * slot + slot * 0.15, 1), y=round(MARGIN_TOP + plot_height - height, 1),
            width=round(slot * 0.7, 1), height=round(height, 1), label=label, value=value,
        ))  # fmt: skip
    return {**_frame(top, kind, currency), "bars": bars, "color": INK}


def line_chart(
    points: list[tuple[datetime.date, object]], *, label: str = "", kind: str = MONEY, currency: str = ""
) -> dict:
    """One series over days as a line, each point placed by its date (a missing day leaves a gap in the
    spacing, not a wrong slope); dates under the first, middle and last points."""
    start = points[0][0] if points else None
    chart = lines_chart(
        [(label, [((day - start).days, value) for day, value in points])] if points else [],
        kind=kind, currency=currency,
    )  # fmt: skip
    chart["x_ticks"] = [
        {"x": x, "label": f"{start + datetime.timedelta(days=offset):%Y-%m-%d}", "anchor": anchor}
        for x, offset, anchor in _date_ticks(chart, points)
    ]
    return chart


def _date_ticks(chart, points):
    if not points:
        return []
    span = (points[-1][0] - points[0][0]).days
    if span == 0:
        return [(chart["left"], 0, "start")]
    plot_width = chart["right_edge"] - chart["left"]
    chosen = [(0, "start"), (span // 2, "middle"), (span, "end")]
    return [(round(chart["left"] + plot_width * offset / span, 1), offset, anchor) for offset, anchor in chosen]


def lines_chart(
    series: list[tuple[str, list[tuple[int, object]]]], *, kind: str = PERCENT, currency: str = "",
    x_unit: str = "", x_caption: str = "",
) -> dict:  # fmt: skip
    """Several series over a shared numeric x axis (e.g. months on book), each a line with its colour in
    the legend, scaled from 0 to the largest x and to a round number above the largest y."""
    xs = [x for _label, points in series for x, value in points if value is not None]
    ys = [float(value) for _label, points in series for _x, value in points if value is not None]
    right, top = max(xs, default=0) or 1, nice_top(max(ys, default=0))
    frame = _frame(top, kind, currency)
    plot_width, plot_height = frame["right_edge"] - MARGIN_LEFT, frame["baseline"] - MARGIN_TOP
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
    step = max(1, math.ceil(right / 6))
    x_ticks = [
        {"x": round(MARGIN_LEFT + plot_width * x / right, 1), "label": f"{x}{x_unit}", "anchor": "middle"}
        for x in range(0, right + 1, step)
    ]
    legend = _legend([line for line in lines if line["label"]])
    height = HEIGHT + LEGEND_ROW * max(0, (legend[-1]["row"] if legend else 0))
    return {**frame, "height": height, "right": right, "lines": lines, "x_ticks": x_ticks, "legend": legend,
            "x_caption": x_caption}  # fmt: skip


def _legend(lines: list[dict]) -> list[dict]:
    """One entry per named line, as many to a row as fit under the plot; the chart grows by a row each."""
    per_row = max(1, (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) // LEGEND_SPACING)
    return [
        {"x": MARGIN_LEFT + (index % per_row) * LEGEND_SPACING, "y": HEIGHT - 8 + (index // per_row) * LEGEND_ROW,
         "row": index // per_row, "label": line["label"], "color": line["color"]}
        for index, line in enumerate(lines)
    ]  # fmt: skip


def vintage_chart(curves: list[dict]) -> dict:
    """The 30+ rate of each origination month by months on book, one line per month, named in the legend."""
    return lines_chart(
        [(f"{curve['vintage']:%Y-%m}", curve["points"]) for curve in curves], kind=PERCENT,
        x_caption=gettext("months on book"),
    )  # fmt: skip
