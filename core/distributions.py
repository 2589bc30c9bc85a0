"""Distributions computed by the database, one query each: percentiles and histograms per group of rows."""

from dataclasses import dataclass

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import RowNumber


def percentiles_by_group(
    queryset: QuerySet, *, group, value: str, percents: tuple[int, ...] = (50, 95)
) -> dict[object, dict[int, int]]:
    """{group: {percent: value}} by nearest rank (the ⌈p·n/100⌉-th smallest value of the group's n rows).

    `group` is an expression (a field, a truncated date) the rows are partitioned by. The database sorts
    each group's values once and returns at most one row per group and percent, whatever the row count.
    """
    rank = Window(RowNumber(), partition_by=[group], order_by=F(value).asc())
    total = Window(Count("pk"), partition_by=[group])
    ranked = queryset.order_by().annotate(group_key=group, rank=rank, total=total)
    # The percent each row stands for (0: none); an OR of window conditions cannot be filtered on directly.
    wanted = Case(
        *[When(rank=(F("total") * percent + 99) / 100, then=Value(percent)) for percent in percents],
        default=Value(0), output_field=IntegerField(),
    )
    found: dict[object, dict[int, int]] = {}
    rows = ranked.annotate(percent=wanted).filter(percent__gt=0).values_list("group_key", "rank", "total", value)
    for key, row_rank, row_total, row_value in rows:
        for percent in percents:  # two percents may fall on one row (a group of one)
            if row_rank == (row_total * percent + 99) // 100:
                found.setdefault(key, {})[percent] = row_value
    return found


def nearest_rank_percentiles(values: list[int], percents: tuple[int, ...] = (50, 95)) -> dict[int, int]:
    """{percent: the ⌈p·n/100⌉-th smallest of the n values}, the same rank percentiles_by_group picks."""
    ordered = sorted(values)
    return {percent: ordered[(len(ordered) * percent + 99) // 100 - 1] for percent in percents} if ordered else {}


@dataclass(frozen=True)
class Histogram:
    key: tuple  # the values of the grouping fields
    buckets: tuple[int, ...]  # rows with a value at or below each bound, cumulative as Prometheus wants them
    count: int
    total: int  # the sum of the values


def histogram_by_group(
    queryset: QuerySet, *, groups: tuple[str, ...], value: str, bounds: tuple[int, ...]
) -> list[Histogram]:
    """Cumulative bucket counts of `value` per group of the `groups` fields (none: one histogram of every row),
    counted by the database."""
    figures = {
        "n": Count("pk"),
        "total": Sum(value),
        **{f"le_{index}": Count("pk", filter=Q(**{f"{value}__lte": bound})) for index, bound in enumerate(bounds)},
    }
    # Without groups, one row for the whole queryset (values() of no field would group by every field).
    rows = queryset.order_by().values(*groups).annotate(**figures) if groups else [queryset.aggregate(**figures)]
    return [
        Histogram(
            key=tuple(row[name] for name in groups),
            buckets=tuple(row[f"le_{index}"] for index in range(len(bounds))),
            count=row["n"],
            total=row["total"] or 0,
        )
        for row in rows
    ]
