"""The report's two charts: decisions over time, and results per control family.

Both are reportlab drawings in the report's fonts, sized to the text width, with integer axes, a
legend, and as many category labels as fit without overlapping. A period is drawn day by day,
week by week or month by month, whichever keeps the bars readable; the caption says which.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from reports.model import DayCount, FamilyCount, Period
from reports.pdf_layout import (
    INK,
    MUTED,
    PALETTE,
    TEXT_WIDTH,
)
from reports.pdf_text import (
    FONT,
    printable,
)

__all__ = [
    "MAX_FAMILIES",
    "Bucket",
    "Timeline",
    "charted_families",
    "decisions_chart",
    "families_chart",
    "last_day",
    "timeline",
]

#: The longest period drawn day by day, and week by week; longer ones are drawn by month.
DAILY_DAYS = 45
WEEKLY_DAYS = 371
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: The most bars the results-per-family chart draws (the table under it lists every family).
MAX_FAMILIES = 30
_LABEL_SIZE = 7
_GRID = colors.HexColor("#d9e2ec")

Unit = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Bucket:
    """Decisions from ``first`` to ``last`` (days, UTC, inclusive), by outcome."""

    first: date
    last: date
    allow: int
    deny: int
    error: int


@dataclass(frozen=True)
class Timeline:
    """The period cut into days, weeks (7 days from the period's first day) or calendar months."""

    unit: Unit
    buckets: list[Bucket]


def _day(moment: str) -> date:
    return date.fromisoformat(moment[:10])


def last_day(period: Period) -> date:
    """The last day the period touches (its end is exclusive)."""
    end = _day(period.end)
    midnight = period.end[10:].strip("T:.0Z") == ""
    return end - timedelta(days=1) if midnight else end


def _month_start(day: date, months: int = 0) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _cuts(first: date, last: date, unit: Unit) -> Iterator[tuple[date, date]]:
    start = first
    while start <= last:
        if unit == "month":
            end = _month_start(start, 1) - timedelta(days=1)
        else:
            end = start + timedelta(days=0 if unit == "day" else 6)
        yield start, min(end, last)
        start = end + timedelta(days=1)


def timeline(days: Sequence[DayCount], period: Period) -> Timeline:
    """Every day of the period (days without decisions too), in as few bars as read well."""
    counts = {_day(d.day): d for d in days}
    first = min([_day(period.start), *counts])
    last = max([last_day(period), first, *counts])
    span = (last - first).days + 1
    unit: Unit = "day" if span <= DAILY_DAYS else "week" if span <= WEEKLY_DAYS else "month"
    buckets = []
    for start, end in _cuts(first, last, unit):
        inside = [
            counts[d]
            for d in (start + timedelta(days=i) for i in range((end - start).days + 1))
            if d in counts
        ]
        buckets.append(
            Bucket(
                start,
                end,
                sum(d.allow for d in inside),
                sum(d.deny for d in inside),
                sum(d.error for d in inside),
            )
        )
    return Timeline(unit, buckets)


def _nice_axis(maximum: int) -> tuple[int, int]:
    """An integer step and a top for a value axis reaching ``maximum`` in about five ticks."""
    raw = max(maximum, 1) / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return step, step * max(math.ceil(maximum / step), 1)


def _legend(items: Sequence[tuple[str, colors.Color]], x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.boxAnchor = "ne"
    legend.columnMaximum = 1
    legend.deltax = 62
    legend.dx = legend.dy = 7
    legend.fontName = FONT
    legend.fontSize = _LABEL_SIZE + 0.5
    legend.fillColor = INK
    legend.strokeWidth = 0
    legend.strokeColor = None
    legend.colorNamePairs = [(color, name) for name, color in items]
    return legend


def _style_value_axis(axis: Any, maximum: int) -> None:
    step, top = _nice_axis(maximum)
    axis.valueMin = 0
    axis.valueMax = top
    axis.valueStep = step
    axis.labelTextFormat = _thousands
    axis.labels.fontName = FONT
    axis.labels.fontSize = _LABEL_SIZE
    axis.labels.fillColor = MUTED
    axis.strokeColor = _GRID
    axis.visibleGrid = 1
    axis.gridStrokeColor = _GRID
    axis.gridStrokeWidth = 0.4


def _stack(chart: Any, series: dict[str, list[int]]) -> None:
    """Stack ``series`` (palette key → one value per category) in ``chart``, in that order."""
    chart.data = list(series.values())
    for i, key in enumerate(series):
        chart.bars[i].fillColor = PALETTE[key]
        chart.bars[i].strokeColor = None


def _style_category_axis(axis: Any, names: list[str], colour: Any) -> None:
    """A stacked category axis with ``names`` as labels, in the report's label font."""
    axis.style = "stacked"
    axis.categoryNames = names
    axis.labels.fontName = FONT
    axis.labels.fontSize = _LABEL_SIZE
    axis.labels.fillColor = colour


def _caption(chart: Any, caption: str) -> String:
    """The axis caption, centred under ``chart``."""
    return String(
        chart.x + chart.width / 2,
        2,
        caption,
        fontName=FONT,
        fontSize=7.5,
        fillColor=MUTED,
        textAnchor="middle",
    )


def _label(bucket: Bucket, unit: Unit) -> str:
    d = bucket.first
    if unit == "month":
        return f"{_MONTHS[d.month - 1]} {d.year}"
    return f"{d.day} {_MONTHS[d.month - 1]}"


def decisions_chart(line: Timeline) -> Drawing:
    """Stacked bars of allowed, denied and errored decisions per day, week or month."""
    buckets = line.buckets
    height = 68 * mm
    drawing = Drawing(TEXT_WIDTH, height, initialFontName=FONT)
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 24
    chart.width, chart.height = TEXT_WIDTH - chart.x - 6, height - chart.y - 26
    _stack(
        chart,
        {
            "allow": [b.allow for b in buckets],
            "deny": [b.deny for b in buckets],
            "error": [b.error for b in buckets],
        },
    )
    # Bars about twice as wide as the gaps between them.
    chart.groupSpacing = 1
    chart.barSpacing = 0
    chart.barWidth = 2
    cat = chart.categoryAxis
    # One label every `every` bars, each given 40 pt: labels never overlap.
    every = max(1, math.ceil(len(buckets) * 40 / chart.width))
    _style_category_axis(
        cat, [_label(b, line.unit) if i % every == 0 else "" for i, b in enumerate(buckets)], MUTED
    )
    cat.labels.boxAnchor = "n"
    cat.labels.dy = -3
    cat.strokeColor = MUTED
    cat.tickDown = 0
    totals = [b.allow + b.deny + b.error for b in buckets]
    _style_value_axis(chart.valueAxis, max(totals, default=0))
    drawing.add(chart)
    drawing.add(
        String(chart.x - 28, height - 12, "Decisions", fontName=FONT, fontSize=7.5, fillColor=MUTED)
    )
    items = [("Allow", PALETTE["allow"]), ("Deny", PALETTE["deny"]), ("Error", PALETTE["error"])]
    drawing.add(_legend(items, TEXT_WIDTH - 4, height - 4))
    first, last = buckets[0].first, buckets[-1].last
    years = str(first.year) if first.year == last.year else f"{first.year}–{last.year}"
    caption = {
        "day": f"Day (UTC), {years}",
        "week": f"Week: 7 days from the date shown (UTC), {years}",
        "month": "Calendar month (UTC)",
    }[line.unit]
    drawing.add(_caption(chart, caption))
    return drawing


def charted_families(families: Sequence[FamilyCount]) -> list[FamilyCount]:
    """The families the chart draws: all, or the MAX_FAMILIES with most results, in order."""
    if len(families) <= MAX_FAMILIES:
        return list(families)
    ranked = sorted(
        range(len(families)),
        key=lambda i: (-(families[i].passed + families[i].failed + families[i].other), i),
    )
    return [families[i] for i in sorted(ranked[:MAX_FAMILIES])]


def _fit(label: str, width: float) -> str:
    """``label``, cut with an ellipsis to ``width`` (the table under the chart has it whole)."""
    if stringWidth(label, FONT, _LABEL_SIZE) <= width:
        return label
    while label and stringWidth(label + "…", FONT, _LABEL_SIZE) > width:
        label = label[:-1]
    return label + "…"


def families_chart(families: Sequence[FamilyCount]) -> Drawing:
    """Horizontal stacked bars of passed, failed and other results per control family.

    At most MAX_FAMILIES bars (:func:`charted_families`), labels at most 40% of the width.
    """
    families = charted_families(families)
    room = TEXT_WIDTH * 0.4
    names = [_fit(printable(f.family), room) for f in families]
    label_width = max(stringWidth(name, FONT, _LABEL_SIZE) for name in names)
    row = 15
    height = len(families) * row + 52
    drawing = Drawing(TEXT_WIDTH, height, initialFontName=FONT)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width + 10, 26
    chart.width, chart.height = TEXT_WIDTH - chart.x - 8, len(families) * row
    # reportlab draws the first category at the bottom: reverse, so the table order reads down.
    ordered = list(reversed(families))
    _stack(
        chart,
        {
            "passed": [f.passed for f in ordered],
            "failed": [f.failed for f in ordered],
            "other": [f.other for f in ordered],
        },
    )
    chart.barSpacing = 0
    chart.groupSpacing = 4
    cat = chart.categoryAxis
    _style_category_axis(cat, list(reversed(names)), INK)
    cat.labels.boxAnchor = "e"
    cat.labels.dx = -4
    cat.strokeColor = MUTED
    cat.tickLeft = 0
    totals = [f.passed + f.failed + f.other for f in families]
    _style_value_axis(chart.valueAxis, max(totals, default=0))
    drawing.add(chart)
    items = [
        ("Passed", PALETTE["passed"]),
        ("Failed", PALETTE["failed"]),
        ("Other", PALETTE["other"]),
    ]
    drawing.add(_legend(items, TEXT_WIDTH - 4, height - 4))
    drawing.add(_caption(chart, "Control results (one per control per decision)"))
    return drawing


def _thousands(value: float) -> str:
    return f"{value:,.0f}"
