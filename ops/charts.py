"""Chart geometry for server-rendered inline SVG (no JavaScript, no CDN): the templates only draw it."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str


@dataclass
class Segment:
    y: float
    height: float
    color: str
    title: str


@dataclass
class Bar:
    x: float
    width: float
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Tick:
    x: float
    text: str


@dataclass
class StackedChart:
    width: int
    height: int
    plot_height: int
    bars: list[Bar]
    ticks: list[Tick]
    max_value: int
    legend: list[tuple[Series, int]]  # each series with its total
    total: int


def stacked_bar_chart(
    buckets: list[tuple[str, str | None, dict[str, int]]],
    series: list[Series],
    *,
    width: int = 840,
    plot_height: int = 160,
    gap: float = 1.0,
) -> StackedChart:
    """One bar per bucket `(title, tick label or None, {series key: count})`, segments stacked in series order."""
    max_value = max([sum(counts.values()) for _, _, counts in buckets] + [1])
    slot = width / max(len(buckets), 1)
    bars, ticks = [], []
    totals = {s.key: 0 for s in series}
    for index, (title, tick, counts) in enumerate(buckets):
        x = index * slot
        bar = Bar(x=round(x + gap / 2, 2), width=round(max(slot - gap, 1.0), 2))
        top = float(plot_height)
        for s in series:
            count = counts.get(s.key, 0)
            if not count:
                continue
            totals[s.key] += count
            height = count / max_value * plot_height
            top -= height
            bar.segments.append(Segment(round(top, 2), round(height, 2), s.color, f"{title} — {s.label}: {count}"))
        bars.append(bar)
        if tick:
            ticks.append(Tick(round(x, 2), tick))
    return StackedChart(
        width=width,
        height=plot_height + 20,
        plot_height=plot_height,
        bars=bars,
        ticks=ticks,
        max_value=max_value,
        legend=[(s, totals[s.key]) for s in series],
        total=sum(totals.values()),
    )


@dataclass
class HBar:
    x: float  # where the bar starts (after the label column)
    y: float  # top of the row
    width: float
    label: str
    count: int
    color: str
    row: int = 24

    @property
    def bar_y(self) -> float:
        return self.y + self.row * 0.2

    @property
    def bar_height(self) -> float:
        return self.row * 0.6

    @property
    def text_y(self) -> float:
        return self.y + self.row * 0.7

    @property
    def count_x(self) -> float:
        return self.x + self.width + 6


@dataclass
class HorizontalChart:
    width: int
    height: int
    label_width: int
    bars: list[HBar]
    total: int


def horizontal_bar_chart(
    items: list[tuple[str, int, str]], *, width: int = 400, label_width: int = 170, row: int = 24
) -> HorizontalChart:
    """One bar per `(label, count, color)`, longest for the largest count."""
    max_value = max([count for _, count, _ in items] + [1])
    room = width - label_width - 50  # space left for the count after the bar
    bars = [
        HBar(
            x=label_width, y=index * row, width=round(max(count / max_value * room, 1.0 if count else 0.0), 2),
            label=label, count=count, color=color, row=row,
        )
        for index, (label, count, color) in enumerate(items)
    ]
    return HorizontalChart(
        width=width, height=max(len(items), 1) * row, label_width=label_width, bars=bars,
        total=sum(count for _, count, _ in items),
    )


@dataclass
class PercentileChart:
    width: int
    height: int
    plot_height: int
    bars: list[Bar]
    ticks: list[Tick]
    max_value: int
    series: list[Series]


def percentile_bar_chart(
    buckets: list[tuple[str, str | None, dict[int, int]]],
    series: dict[int, Series],
    *,
    width: int = 840,
    plot_height: int = 120,
    gap: float = 1.0,
) -> PercentileChart:
    """One bar per bucket `(title, tick label or None, {percent: value})`, each percent rising from the axis,
    the highest behind: a p50 bar drawn over its p95 bar. A bucket without values has no bar."""
    max_value = max([value for _, _, values in buckets for value in values.values()] + [1])
    slot = width / max(len(buckets), 1)
    bars, ticks = [], []
    for index, (title, tick, values) in enumerate(buckets):
        x = index * slot
        bar = Bar(x=round(x + gap / 2, 2), width=round(max(slot - gap, 1.0), 2))
        for percent in sorted(values, reverse=True):
            height = values[percent] / max_value * plot_height
            label = f"{title} — {series[percent].label}: {values[percent]}"
            bar.segments.append(Segment(round(plot_height - height, 2), round(height, 2), series[percent].color, label))
        bars.append(bar)
        if tick:
            ticks.append(Tick(round(x, 2), tick))
    return PercentileChart(
        width=width, height=plot_height + 20, plot_height=plot_height, bars=bars, ticks=ticks, max_value=max_value,
        series=[series[percent] for percent in sorted(series)],
    )
