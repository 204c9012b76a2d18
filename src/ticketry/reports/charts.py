"""Charts as geometry: numbers in, coordinates, ticks and texts out, for a template to draw as SVG.

Pure (no I/O, no markup): every text here is plain and reaches the page through the template's
autoescaping, so a department called `<script>` is drawn as those characters, never run. Each
chart carries a one-sentence `description` for `aria-label`; the template also prints the same
numbers as a table for anyone who cannot see the drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Formatter = Callable[[float], str]

WIDTH = 640
LABEL_CHARS = 22
BAR_HEIGHT = 22
BAR_GAP = 10


def count_text(value: float) -> str:
    return f"{value:,.0f}"


def hours_text(value: float) -> str:
    text = f"{value:,.1f}"
    return f"{text.removesuffix('.0')} h"


def short(label: str, limit: int = LABEL_CHARS) -> str:
    """An axis label that fits; the full text stays in the tooltip and the table."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def nice_ticks(maximum: float, *, count: int = 4, integers: bool = True) -> list[float]:
    """Round tick values from 0 to at least `maximum` (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integers:
        step = max(1.0, float(math.ceil(step)))
    steps = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class Bar:
    label: str
    axis_label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float
    series: int

    @property
    def tooltip(self) -> str:
        return f"{self.label}: {self.text}"

    @property
    def text_y(self) -> float:
        return round(self.y + self.height / 2, 1)


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars: one row per category, the value axis along the bottom."""

    title: str
    description: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Formatter = count_text,
    integers: bool = True,
    width: int = WIDTH,
) -> BarChart:
    longest = max((len(short(label)) for label, _ in items), default=0)
    left = float(min(180, max(56, round(longest * 6.8 + 14))))  # room for the axis labels
    right, top = width - 60.0, 10.0
    bottom = top + max(1, len(items)) * (BAR_HEIGHT + BAR_GAP)
    maximum = max((value for _, value in items), default=0.0)
    ticks = nice_ticks(maximum, integers=integers)
    scale = (right - left) / ticks[-1]
    bars = [
        Bar(
            label=label,
            axis_label=short(label),
            value=value,
            text=fmt(value),
            x=left,
            y=round(top + index * (BAR_HEIGHT + BAR_GAP) + BAR_GAP / 2, 1),
            width=round(max(0.0, value) * scale, 1),
            height=BAR_HEIGHT,
            series=0,
        )
        for index, (label, value) in enumerate(items)
    ]
    summary = ", ".join(f"{label} {fmt(value)}" for label, value in items) or "no data"
    return BarChart(
        title=title,
        description=f"{title}: {summary}.",
        width=width,
        height=int(bottom + 30),
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        bars=bars,
        ticks=[Tick(round(left + t * scale, 1), fmt(t)) for t in ticks],
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: float
    text: str


@dataclass(frozen=True)
class Line:
    name: str
    series: int
    points: list[Point]

    @property
    def path(self) -> str:
        """The SVG path data: numbers and M/L only."""
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))

    @property
    def total(self) -> float:
        return sum(p.value for p in self.points)


@dataclass(frozen=True)
class LineChart:
    """Series over ordered categories (days): the value axis on the left, labels along the bottom."""

    title: str
    description: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]

    @property
    def empty(self) -> bool:
        return not any(p.value for line in self.lines for p in line.points)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    axis_labels: Sequence[str] | None = None,
    fmt: Formatter = count_text,
    width: int = WIDTH,
    height: int = 240,
    max_x_labels: int = 10,
) -> LineChart:
    """`labels` name each point (tooltips, tables); `axis_labels`, if given, are shorter forms of
    them for the x axis."""
    axis = list(axis_labels) if axis_labels is not None else list(labels)
    if len(axis) != len(labels):
        raise ValueError(f"{len(axis)} axis labels for {len(labels)} labels.")
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"Series {name!r} has {len(values)} values for {len(labels)} labels.")
    left, right, top, bottom = 44.0, width - 28.0, 12.0, height - 28.0
    maximum = max((v for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(maximum)
    y_scale = (bottom - top) / ticks[-1]
    step = (right - left) / (len(labels) - 1) if len(labels) > 1 else 0.0

    def x_at(index: int) -> float:
        return round(left + index * step if len(labels) > 1 else (left + right) / 2, 1)

    lines = [
        Line(
            name=name,
            series=number,
            points=[
                Point(
                    x=x_at(index),
                    y=round(bottom - value * y_scale, 1),
                    label=labels[index],
                    value=value,
                    text=fmt(value),
                )
                for index, value in enumerate(values)
            ],
        )
        for number, (name, values) in enumerate(series)
    ]
    every = max(1, math.ceil(len(labels) / max_x_labels))
    shown = list(range(0, len(labels), every))
    if shown and shown[-1] != len(labels) - 1:
        if len(shown) > 1:
            shown.pop()  # closer to the last label than the others are to each other
        shown.append(len(labels) - 1)
    totals = "; ".join(f"{line.name} {fmt(line.total)} in total" for line in lines)
    span = f"{labels[0]} to {labels[-1]}" if labels else "no days"
    return LineChart(
        title=title,
        description=f"{title}, {span}: {totals or 'no data'}.",
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        lines=lines,
        y_ticks=[Tick(round(bottom - t * y_scale, 1), fmt(t)) for t in ticks],
        x_ticks=[Tick(x_at(i), axis[i]) for i in shown],
    )
