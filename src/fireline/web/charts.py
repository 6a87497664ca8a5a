"""Chart geometry for server-rendered SVG: stacked bars over time and ranked horizontal bars.

Templates draw the shapes computed here, so a chart needs no JavaScript and every label goes
through Jinja's escaping. Coordinates are in the SVG's viewBox units; the SVG scales to the
width of its container (phones included). Series colours are CSS classes `series-0` …
`series-8` (the last is for "Other"), never inline styles, which the CSP forbids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from fireline.domain.trends import OTHER, BucketSize, StackedSeries

WIDTH = 720
HEIGHT = 260
LEFT = 40  # room for y-axis numbers
RIGHT = 8
TOP = 10
BOTTOM = 30  # room for x-axis dates
PALETTE_SIZE = 8
MAX_X_LABELS = 8


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class LegendItem:
    css: str
    name: str
    total: int


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    rects: list[Rect]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[LegendItem]


def series_classes(series: StackedSeries) -> list[str]:
    """A CSS class per key: `series-0` … `series-7` in order for named keys; the neutral
    `series-none` for the unassigned key ("No service") and `series-8` for "Other"."""
    classes = []
    named = 0
    for key in series.keys:
        if key == series.unassigned:
            classes.append("series-none")
        elif key == OTHER:
            classes.append(f"series-{PALETTE_SIZE}")
        else:
            classes.append(f"series-{named % PALETTE_SIZE}")
            named += 1
    return classes


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def bucket_label(day: date, size: BucketSize) -> str:
    """`Mar 2` for a day, `w/c Mar 2` (week commencing) for a week."""
    text = f"{day:%b} {day.day}"
    return f"w/c {text}" if size is BucketSize.WEEK else text


def stacked_bars(series: StackedSeries) -> BarChart:
    """One bar per bucket, stacked bottom-up in key order; each segment carries its label."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    bottom = HEIGHT - BOTTOM
    top_value = nice_ceiling(series.peak)
    slots = max(1, len(series.buckets))
    slot = plot_width / slots
    bar = max(1.0, slot * 0.72)
    classes = series_classes(series)
    rects: list[Rect] = []
    for i, (day, row) in enumerate(zip(series.buckets, series.counts, strict=True)):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(bottom)
        for j, count in enumerate(row):
            if not count:
                continue
            height = plot_height * count / top_value
            y -= height
            when = bucket_label(day, series.size)
            noun = "incident" if count == 1 else "incidents"
            rects.append(
                Rect(
                    x=round(x, 2),
                    y=round(y, 2),
                    width=round(bar, 2),
                    height=round(height, 2),
                    css=classes[j],
                    label=f"{when}: {series.keys[j]}, {count} {noun}",
                )
            )
    marks = [0, top_value] + ([top_value // 2] if top_value % 2 == 0 and top_value > 2 else [])
    y_ticks = [
        Tick(at=round(bottom - plot_height * v / top_value, 2), text=str(v)) for v in sorted(marks)
    ]
    every = max(1, math.ceil(slots / MAX_X_LABELS))
    x_ticks = [
        Tick(at=round(LEFT + i * slot + slot / 2, 2), text=bucket_label(day, series.size))
        for i, day in enumerate(series.buckets)
        if i % every == 0
    ]
    legend = [
        LegendItem(css=classes[j], name=name, total=total)
        for j, (name, total) in enumerate(zip(series.keys, series.key_totals, strict=True))
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_bottom=bottom,
        rects=rects,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        legend=legend,
    )


def shares(values: list[int]) -> list[float]:
    """Each value as a percentage of the largest (all 0 when everything is 0)."""
    peak = max(values, default=0)
    return [round(100 * v / peak, 2) if peak else 0.0 for v in values]
