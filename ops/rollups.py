"""Hourly rollups of the history (ops.HourlyRollup), kept by the delivery workers, so that the overview reads
a few hundred small rows whatever the size of the history.

An hour's figures are always counted again whole from that hour's rows (one index range per source), never
incremented: counting an hour twice is harmless, so any worker may take over, late rows are caught, and
the backfill of an older history is the same work as a tick. On each `worker_tick`, the worker holding
the rollup lease, within a time budget:

- counts the current and the previous hour again (rows committed late, attempts that finished, deliveries
  that moved on), the current one up to the moment of the tick (`rolled_at`): the overview reads what came
  after it live;
- counts the hours of the rows past each source's high-water mark (ids), and, newest first, of the rows
  below its low mark (the backfill of a history older than the rollups);
- counts a few hours of deliveries of the last days again, round-robin: a retry, replay or cancel changes
  the status of a delivery created earlier.

Hours are UTC hours, worked out in Python (SQLite runs time-zone functions in Python per row, slowly).
Hours before the last purge's cutoff are never counted again: their rows are gone, their rollups stay.
"""

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ingress.models import InboundEmail
from ops.models import HourlyRollup, RollupState
from webhooks.models import DeliveryAttempt, WebhookDelivery

Metric = HourlyRollup.Metric
PROVIDERS = ("dropbox", "wetransfer", "swisstransfer", "fromsmash")  # SPEC §4
TICK_BUDGET_SECONDS = 0.2
FOLLOW_BATCH = 500  # rows read past a mark per step
SWEEP_HOURS_PER_TICK = 6
SWEEP_DAYS = 8  # the overview's 7 local days, and a margin for the time zone
LEASE_SECONDS = 30
LIVE_WINDOW = timedelta(minutes=10)  # the most the overview reads live past the rollups


def hour_of(moment: datetime) -> int:
    return int(moment.timestamp() // 3600)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


def value_bucket(ms: int) -> int:
    """A duration kept exactly below one second, to 3 significant digits above: a distribution stays small."""
    if ms < 1000:
        return ms
    scale = 10 ** (len(str(ms)) - 3)
    return ms // scale * scale


class Figure:
    """A count and, for a distribution, how many of each value."""

    __slots__ = ("count", "values")

    def __init__(self, count: int = 0, values: Counter | None = None):
        self.count, self.values = count, values if values is not None else Counter()

    def add(self, value: int | None = None, n: int = 1) -> None:
        self.count += n
        if value is not None:
            self.values[value_bucket(value)] += n

    def merge(self, other: "Figure") -> None:
        self.count += other.count
        self.values.update(other.values)

    def percentiles(self, percents: tuple[int, ...] = (50, 95)) -> dict[int, int]:
        """{percent: the ⌈p·n/100⌉-th smallest value} (nearest rank); empty without values."""
        total = sum(self.values.values())
        if not total:
            return {}
        ordered, found = sorted(self.values.items()), {}
        for percent in percents:
            rank, seen = (total * percent + 99) // 100, 0
            for value, n in ordered:
                seen += n
                if seen >= rank:
                    found[percent] = value
                    break
        return found


Figures = dict  # {(hour, metric, key): Figure}


def _between(field: str, start: datetime, end: datetime | None) -> dict:
    return {f"{field}__gte": start} if end is None else {f"{field}__gte": start, f"{field}__lt": end}


def _email_rows(start: datetime, end: datetime | None, figures) -> None:
    rows = InboundEmail.objects.filter(**_between("received_at", start, end)).order_by()
    for at, status, answer_ms, links in rows.values_list("received_at", "status", "answer_ms", "links").iterator(
        chunk_size=2000
    ):
        hour = hour_of(at)
        figures[hour, Metric.EMAIL_STATUS, status].add()
        providers = {link.get("provider") for link in links or () if isinstance(link, dict)}
        for provider in providers.intersection(PROVIDERS):
            figures[hour, Metric.EMAIL_PROVIDER, provider].add()
        if answer_ms is not None:
            figures[hour, Metric.ANSWER_MS, ""].add(answer_ms)


def _delivery_rows(start: datetime, end: datetime | None, figures) -> None:
    rows = WebhookDelivery.objects.filter(**_between("created_at", start, end), is_test=False).order_by()
    for at, status in rows.values_list("created_at", "status").iterator(chunk_size=2000):
        figures[hour_of(at), Metric.DELIVERY_STATUS, status].add()


def _attempt_rows(start: datetime, end: datetime | None, figures) -> None:
    """Finished attempts: failures by reason (test sends too, as before), durations per endpoint (not)."""
    rows = DeliveryAttempt.objects.filter(**_between("started_at", start, end), finished_at__isnull=False)
    fields = ("started_at", "succeeded", "failure_reason", "duration_ms", "delivery__endpoint_id", "delivery__is_test")
    for at, succeeded, reason, duration_ms, endpoint_id, is_test in rows.order_by().values_list(*fields).iterator(
        chunk_size=2000
    ):
        hour = hour_of(at)
        if not succeeded:
            figures[hour, Metric.ATTEMPT_FAILED, reason or "unknown"].add()
        if not is_test:
            figures[hour, Metric.ATTEMPT_MS, str(endpoint_id)].add(duration_ms)
            if succeeded:
                figures[hour, Metric.ATTEMPT_SUCCEEDED, str(endpoint_id)].add()


class Source:
    def __init__(self, name: str, model, time_field: str, read, metrics: tuple[str, ...]):
        self.name, self.model, self.time_field, self.read, self.metrics = name, model, time_field, read, metrics


EMAILS = Source("emails", InboundEmail, "received_at", _email_rows,
                (Metric.EMAIL_STATUS, Metric.EMAIL_PROVIDER, Metric.ANSWER_MS))
DELIVERIES = Source("deliveries", WebhookDelivery, "created_at", _delivery_rows, (Metric.DELIVERY_STATUS,))
ATTEMPTS = Source("attempts", DeliveryAttempt, "started_at", _attempt_rows,
                  (Metric.ATTEMPT_FAILED, Metric.ATTEMPT_MS, Metric.ATTEMPT_SUCCEEDED))
SOURCES = (EMAILS, DELIVERIES, ATTEMPTS)


def figures_live(start: datetime) -> Figures:
    """Every source's figures of the rows since `start`, read from the history: one query each."""
    figures: Figures = defaultdict(Figure)
    for source in SOURCES:
        source.read(start, None, figures)
    return figures


def hour_roll(source: Source, hour: int, now: datetime) -> None:
    """Count the source's rows of `hour` (up to `now`) and store what differs; one short transaction, if any."""
    figures: Figures = defaultdict(Figure)
    source.read(hour_start(hour), min(hour_start(hour + 1), now), figures)
    counted = {(metric, key): figure for (_, metric, key), figure in figures.items()}
    stored = {(r.metric, r.key): r for r in HourlyRollup.objects.filter(metric__in=source.metrics, hour=hour)}
    changed = [
        HourlyRollup(hour=hour, metric=metric, key=key, count=figure.count, values=_values_dumped(figure.values))
        for (metric, key), figure in counted.items()
        if (metric, key) not in stored
        or (stored[metric, key].count, stored[metric, key].values) != (figure.count, _values_dumped(figure.values))
    ]
    gone = [row.pk for key, row in stored.items() if key not in counted]
    if not (changed or gone):
        return
    with transaction.atomic():
        HourlyRollup.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["metric", "hour", "key"], update_fields=["count", "values"]
        )
        HourlyRollup.objects.filter(pk__in=gone).delete()


def _values_dumped(values: Counter) -> dict[str, int]:
    return {str(value): n for value, n in sorted(values.items())}


class _Roller:
    """The hours rolled in one tick, each at most once, within the tick's budget."""

    def __init__(self, now: datetime, frozen_before: int, budget: float):
        self.now, self.current, self.frozen_before = now, hour_of(now), frozen_before
        self.deadline = time.monotonic() + budget
        self.done: set[tuple[str, int]] = set()

    def roll(self, source: Source, hour: int, *, forced: bool = False) -> bool:
        """Roll the hour (a future or purged hour needs none); False when the budget is spent first."""
        if (source.name, hour) in self.done or hour > self.current or hour < self.frozen_before:
            return True
        if not forced and time.monotonic() >= self.deadline:
            return False
        hour_roll(source, hour, self.now)
        self.done.add((source.name, hour))
        return True


def _follow(source: Source, roller: _Roller, mark: int, *, newer: bool) -> int:
    """Roll the hours of the rows past `mark` (newer: above it, oldest first; else below it, newest first);
    the new mark. Below, 0 means nothing is left to backfill."""
    rows = source.model.objects.filter(**{"pk__gt" if newer else "pk__lt": mark}).order_by("pk" if newer else "-pk")
    batch = list(rows.values_list("pk", source.time_field)[:FOLLOW_BATCH])
    for pk, moment in batch:
        if not roller.roll(source, hour_of(moment)):
            return mark
        mark = pk
    return 0 if not newer and len(batch) < FOLLOW_BATCH else mark


def _sweep(roller: _Roller, swept_hour: int) -> int:
    """Count a few hours of deliveries of the last SWEEP_DAYS again, newest first, round-robin; the last one."""
    newest, oldest = roller.current - 2, roller.current - SWEEP_DAYS * 24
    for _ in range(SWEEP_HOURS_PER_TICK):
        hour = swept_hour - 1 if oldest <= swept_hour - 1 <= newest else newest
        if not roller.roll(DELIVERIES, hour):
            break
        swept_hour = hour
    return swept_hour


def rollups_update(now: datetime | None = None, *, budget: float = TICK_BUDGET_SECONDS) -> bool:
    """One tick of rollup work; whether a backfill is still left to do."""
    now = now or timezone.now()
    state = RollupState.objects.filter(pk=1).first() or RollupState.objects.get_or_create(pk=1)[0]
    roller = _Roller(now, state.frozen_before_hour, budget)
    marks = dict(state.marks)
    for source in SOURCES:
        mark = marks.get(source.name) or _mark_start(source)
        for hour in (roller.current, roller.current - 1):
            roller.roll(source, hour, forced=True)
        mark["high"] = _follow(source, roller, mark["high"], newer=True)
        if mark["low"]:
            mark["low"] = _follow(source, roller, mark["low"], newer=False)
        marks[source.name] = mark
    swept_hour = _sweep(roller, state.swept_hour)
    RollupState.objects.filter(pk=1).update(marks=marks, swept_hour=swept_hour, rolled_at=now)
    return any(mark["low"] for mark in marks.values())


def _mark_start(source: Source) -> dict[str, int]:
    """A source seen for the first time: its rows so far are the backfill, newest first."""
    newest = source.model.objects.aggregate(newest=Max("pk"))["newest"] or 0
    return {"high": newest, "low": newest + 1 if newest else 0}


def rollups_build(now_func=timezone.now) -> int:
    """Run ticks until the backfill is done (`manage.py rollups_build`); how many it took."""
    ticks = 1
    while rollups_update(now_func(), budget=1.0):
        ticks += 1
    return ticks


def rollup_lease_take(holder: str, *, seconds: float = LEASE_SECONDS, now: datetime | None = None) -> bool:
    """Whether `holder` rolls up now: it holds the lease, or takes it once it has run out.

    Read first: a worker that sees another's valid lease writes nothing (SQLite's write lock stays free)."""
    now = now or timezone.now()
    holder = holder[:64]
    state = RollupState.objects.filter(pk=1).first() or RollupState.objects.get_or_create(pk=1)[0]
    if state.holder not in ("", holder) and state.expires_at is not None and state.expires_at > now:
        return False
    taken = RollupState.objects.filter(pk=1, holder=state.holder, expires_at=state.expires_at).update(
        holder=holder, expires_at=now + timedelta(seconds=seconds)
    )
    return taken == 1


def rollups_freeze_before(cutoff: datetime) -> None:
    """A purge deletes the rows before `cutoff`: the hours it may touch are never counted again."""
    hour = hour_of(cutoff) + 1
    state = RollupState.objects.filter(pk=1).first() or RollupState.objects.get_or_create(pk=1)[0]
    if hour > state.frozen_before_hour:
        RollupState.objects.filter(pk=1).update(frozen_before_hour=hour)
