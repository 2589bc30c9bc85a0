"""Distributions computed by the database, one query each: histograms per group of rows."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum


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
