"""Bar charts drawn on the server as inline SVG: no JavaScript, no CDN, prints well.

``bar_chart`` turns a series of ``(day, value)`` into coordinates in a fixed viewBox;
``templates/includes/bar_chart.html`` draws them. The SVG scales with its container.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 28


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what the bar's tooltip and the table fallback say


@dataclass
class BarChart:
    title: str
    description: str
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    empty: bool = False


def nice_step(maximum: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` gridlines."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power  # pragma: no cover - the loop always returns


def plain_number(value) -> str:
    """``3`` rather than ``3.0``; at most two decimals otherwise."""
    value = value or 0
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def bar_chart(
    series,
    *,
    title,
    description,
    fmt=plain_number,
    integer=False,
    label=None,
    label_every=7,
    scale_top=None,
) -> BarChart:
    """``series`` is ``[(day, value or None)]``; ``label(day, value)`` names a bar.

    Every ``label_every``-th day (counted back from the last) is written under the axis;
    ``scale_top`` fixes the top of the scale (a 1-5 rating), else the data sets it."""
    values = [v or 0 for _, v in series]
    top = scale_top or max(values, default=0)
    step = nice_step(top)
    if scale_top and scale_top % step:
        step = 1  # a fixed scale (1 to 5) in whole steps
    if integer:
        step = max(1, math.ceil(step))
    scale_max = step * max(1, math.ceil(top / step)) if top else step * 4
    chart = BarChart(title=title, description=description, empty=not any(values))
    plot_height = chart.baseline - TOP
    slot = (chart.plot_right - chart.plot_left) / max(len(series), 1)
    for i, (day, value) in enumerate(series):
        height = (value or 0) / scale_max * plot_height
        x = chart.plot_left + i * slot
        text = label(day, value) if label else f"{day:%b %-d}: {fmt(value)}"
        bar_x, bar_y = round(x + slot * 0.15, 1), round(chart.baseline - height, 1)
        chart.bars.append(Bar(bar_x, bar_y, round(slot * 0.7, 1), round(height, 1), text))
        if (len(series) - 1 - i) % label_every == 0:  # today, and a week apart before it
            chart.x_labels.append((round(x + slot / 2, 1), f"{day:%b %-d}"))
    for n in range(round(scale_max / step) + 1):
        tick = n * step
        y = chart.baseline - tick / scale_max * plot_height
        chart.y_ticks.append((round(y, 1), fmt(tick)))
    return chart


# Units of a chart of durations, the largest first: (seconds, short label, below which
# the next smaller unit reads better).
DURATION_UNITS = [(86400, "d", 3 * 86400), (3600, "h", 2 * 3600), (60, "min", 0)]


def duration_unit(seconds: list) -> tuple[int, str]:
    """The unit that suits the largest of ``seconds``: minutes under two hours, hours
    under three days, else days, so an axis of 20-minute medians does not read "0 h"."""
    top = max((s for s in seconds if s is not None), default=0)
    for size, short, below in DURATION_UNITS:
        if top >= below:
            return size, short
    return DURATION_UNITS[-1][:2]  # pragma: no cover - the last threshold is 0


def duration_chart(series, *, title, description, label) -> BarChart:
    """``series`` is ``[(day, timedelta or None)]``; the axis in the unit that fits.

    ``label(day, timedelta or None)`` names a bar (in words: ``duration_words``).
    """
    seconds = [None if d is None else d.total_seconds() for _, d in series]
    size, short = duration_unit(seconds)
    values = [
        (day, None if s is None else s / size) for (day, _), s in zip(series, seconds, strict=True)
    ]
    by_day = dict(series)
    return bar_chart(
        values,
        title=title,
        description=description,
        fmt=lambda v: f"{plain_number(v)} {short}",
        label=lambda day, _: label(day, by_day[day]),
    )
