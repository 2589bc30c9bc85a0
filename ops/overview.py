"""The admin overview page: the last 7 days of e-mails and deliveries, and the queue right now.

The history's figures come from the hourly rollups the delivery workers keep (ops.rollups) and the last
minutes read live, so the page costs the same with a thousand e-mails or a million.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from configuration.selectors import time_zone_configured
from core.times import seconds_since
from ingress.models import InboundEmail
from ops.charts import Series, horizontal_bar_chart, percentile_bar_chart, stacked_bar_chart
from ops.models import HourlyRollup
from ops.rollups import PROVIDERS, Figure, Figures, hour_of, hour_start
from ops.selectors import alerts_for_overview, history_figures, retention_last_run
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    AttemptFigures,
    delivery_queue_summary,
    heartbeat_last_at,
    lanes_health,
    queue_oldest_due,
)

Metric = HourlyRollup.Metric
OVERVIEW_DAYS = 7
PROVIDER_COLORS = {"dropbox": "#0061fe", "wetransfer": "#409fff", "swisstransfer": "#d52b1e", "fromsmash": "#7b3fe4"}

_EMAIL_COLORS = {
    InboundEmail.Status.PROCESSED: "#2e9e4f",
    InboundEmail.Status.DEFERRED: "#3f7fbf",
    InboundEmail.Status.SKIPPED_NO_LINKS: "#c9a227",
    InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW: "#e07b39",
    InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED: "#9a9a9a",
    InboundEmail.Status.STOPPED_BY_ROUTING_RULE: "#8e5ba6",
}
EMAIL_SERIES = [Series(status.value, status.label, _EMAIL_COLORS[status]) for status in InboundEmail.Status]

_DELIVERY_COLORS = {
    WebhookDelivery.Status.SUCCEEDED: "#2e9e4f",
    WebhookDelivery.Status.FAILED: "#ba2121",
    WebhookDelivery.Status.PENDING: "#c9a227",
    WebhookDelivery.Status.SENDING: "#3f7fbf",
    WebhookDelivery.Status.PAUSED: "#8e5ba6",
    WebhookDelivery.Status.CANCELLED: "#9a9a9a",
}
DELIVERY_SERIES = [Series(s.value, s.label, _DELIVERY_COLORS[s]) for s in WebhookDelivery.Status]
REASON_COLOR = "#ba2121"
# Ingress answer times and endpoint latencies: the last 24 hours, the current one included.
ANSWER_HOURS = 24
ANSWER_SERIES = {50: Series("p50", "p50 (median)", "#3f7fbf"), 95: Series("p95", "p95", "#a9c6e8")}


class Latency(NamedTuple):
    p50: int
    p95: int


def _local_midnight(day, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def overview_build(now: datetime | None = None) -> dict:
    """Everything the overview shows, in the configured time zone; a fixed number of queries."""
    now = now or timezone.now()
    tz = ZoneInfo(time_zone_configured())
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=offset) for offset in range(OVERVIEW_DAYS - 1, -1, -1)]
    since = _local_midnight(days[0], tz)
    hours = range(hour_of(since), hour_of(now) + 1)
    recent = hours[-ANSWER_HOURS:]
    figures, freshness = history_figures(hours[0], recent[0], now)
    per_hour = _per_local_hour(figures, hours, Metric.EMAIL_STATUS, tz)
    emails_today = _day_total(per_hour, today)
    per_day = _deliveries_per_day(figures, hours, days, tz)
    day_buckets = [(day.strftime("%a %d %b"), day.strftime("%a %d"), per_day[day]) for day in days]
    providers = _totals(figures, Metric.EMAIL_PROVIDER)
    reasons = sorted(_totals(figures, Metric.ATTEMPT_FAILED).items(), key=lambda item: (-item[1], item[0]))
    queue = delivery_queue_summary(now)
    return {
        "time_zone": str(tz),
        "generated_at": now.astimezone(tz),
        "since": since,
        "days": OVERVIEW_DAYS,
        "freshness": freshness,
        "emails_chart": stacked_bar_chart(_hour_buckets(per_hour), EMAIL_SERIES),
        "deliveries_chart": stacked_bar_chart(day_buckets, DELIVERY_SERIES, width=420, gap=12),
        "providers_chart": horizontal_bar_chart([(p, providers.get(p, 0), PROVIDER_COLORS[p]) for p in PROVIDERS]),
        "reasons_chart": horizontal_bar_chart([(reason, count, REASON_COLOR) for reason, count in reasons]),
        "today": today,
        "emails_today": [(s, emails_today.get(s.key, 0)) for s in EMAIL_SERIES],
        "emails_today_total": sum(emails_today.values()),
        "deliveries_today": [(s, per_day[today].get(s.key, 0)) for s in DELIVERY_SERIES],
        "deliveries_today_total": sum(per_day[today].values()),
        "queue": queue,
        "oldest_pending_age": seconds_since(queue.oldest_pending_at, now),
        "oldest_due_age": seconds_since(queue_oldest_due(now), now),
        "heartbeat_age": seconds_since(heartbeat_last_at(), now),
        "lanes": _lanes(figures, recent, now),
        "answer_chart": _answer_times_chart(figures, recent, tz),
        "answer_hours": ANSWER_HOURS,
        "alerts": alerts_for_overview(now),
        "retention": retention_last_run(),
    }


def _local(hour: int, tz: ZoneInfo) -> datetime:
    """The local wall time (naive) an hour starts at."""
    return hour_start(hour).astimezone(tz).replace(tzinfo=None)


def _per_local_hour(figures: Figures, hours: range, metric: str, tz: ZoneInfo) -> dict[datetime, dict[str, int]]:
    """Counts by key per local hour, every hour present; an hour repeated when clocks go back is one bucket."""
    per_hour: dict[datetime, dict[str, int]] = {_local(hour, tz): {} for hour in hours}
    for (hour, found, key), figure in figures.items():
        if found == metric and hour in hours and figure.count:
            counts = per_hour[_local(hour, tz)]
            counts[key] = counts.get(key, 0) + figure.count
    return per_hour


def _hour_buckets(per_hour: dict[datetime, dict[str, int]]) -> list[tuple]:
    """Chart buckets in time order: a label per hour, and a tick label at each local midnight."""
    return [
        (hour.strftime("%a %d %b %H:%M"), hour.strftime("%a %d") if hour.hour == 0 else None, counts)
        for hour, counts in sorted(per_hour.items())
    ]


def _day_total(per_hour: dict[datetime, dict[str, int]], day: date) -> dict[str, int]:
    """Counts by status summed over the hours of `day`."""
    total: dict[str, int] = {}
    for hour, counts in per_hour.items():
        if hour.date() == day:
            for status, count in counts.items():
                total[status] = total.get(status, 0) + count
    return total


def _deliveries_per_day(figures: Figures, hours: range, days: list[date], tz: ZoneInfo) -> dict:
    """Delivery counts by status per local day; every one of `days` is present."""
    per_day: dict = {day: {} for day in days}
    for hour, counts in _per_local_hour(figures, hours, Metric.DELIVERY_STATUS, tz).items():
        for status, count in counts.items():
            per_day[hour.date()][status] = per_day[hour.date()].get(status, 0) + count
    return per_day


def _totals(figures: Figures, metric: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for (_, found, key), figure in figures.items():
        if found == metric and figure.count:
            totals[key] += figure.count
    return totals


def _answer_times_chart(figures: Figures, recent: range, tz: ZoneInfo):
    """p50 and p95 of the ingress answer time per hour, the current one last; an hour without a push is empty."""
    buckets = []
    for hour in recent:
        local = _local(hour, tz)
        values = figures[hour, Metric.ANSWER_MS, ""].percentiles() if (hour, Metric.ANSWER_MS, "") in figures else {}
        buckets.append((local.strftime("%a %d %b %H:%M"), local.strftime("%H:%M") if local.hour % 3 == 0 else None,
                        values))
    return percentile_bar_chart(buckets, ANSWER_SERIES)


def _lanes(figures: Figures, recent: range, now: datetime) -> list[tuple]:
    """Each endpoint with its lane's health and its attempts' latency over 24 h (None without attempts)."""
    durations: dict[int, Figure] = defaultdict(Figure)
    succeeded: dict[int, int] = defaultdict(int)
    for (hour, metric, key), figure in figures.items():
        if hour in recent and metric == Metric.ATTEMPT_MS:
            durations[int(key)].merge(figure)
        elif hour in recent and metric == Metric.ATTEMPT_SUCCEEDED:
            succeeded[int(key)] += figure.count
    counted = {pk: AttemptFigures(n=figure.count, ok=succeeded[pk]) for pk, figure in durations.items()}
    endpoints = list(WebhookEndpoint.objects.order_by("-is_active", "name"))
    health = lanes_health(endpoints, now, attempts=counted)
    latency = {pk: Latency(*figure.percentiles().values()) for pk, figure in durations.items() if figure.values}
    return [(endpoint, health[endpoint.pk], latency.get(endpoint.pk)) for endpoint in endpoints]


def overview_view(request):
    data = overview_build()
    today = data["today"]
    links = {
        "emails_today": reverse("admin:ingress_inboundemail_changelist")
        + f"?received_at__day={today.day}&received_at__month={today.month}&received_at__year={today.year}",
        "deliveries_today": reverse("admin:webhooks_webhookdelivery_changelist")
        + f"?created_at__day={today.day}&created_at__month={today.month}&created_at__year={today.year}",
        "failed_deliveries": reverse("admin:webhooks_webhookdelivery_changelist") + "?status__exact=failed",
        "pending_deliveries": reverse("admin:webhooks_webhookdelivery_changelist") + "?status__exact=pending",
        "paused_deliveries": reverse("admin:webhooks_webhookdelivery_changelist") + "?status__exact=paused",
        "oldest_pending": (
            reverse("admin:webhooks_webhookdelivery_change", args=[data["queue"].oldest_pending_id])
            if data["queue"].oldest_pending_id
            else None
        ),
    }
    context = {**admin.site.each_context(request), "title": "Overview", "links": links, **data}
    return TemplateResponse(request, "admin/overview.html", context)
