"""The admin overview page: the last 7 days of e-mails and deliveries, and the queue right now."""

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from configuration.selectors import time_zone_configured
from core.times import seconds_since
from ingress.models import InboundEmail
from ingress.selectors import answer_ms_percentiles_by_hour, email_counts_by_hour, email_counts_by_provider
from ops.charts import Series, horizontal_bar_chart, percentile_bar_chart, stacked_bar_chart
from ops.selectors import alerts_for_overview
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    attempt_failure_reason_counts,
    attempt_ms_percentiles,
    delivery_counts_by_day,
    delivery_queue_summary,
    heartbeat_last_at,
    lanes_health,
    queue_oldest_due,
)

OVERVIEW_DAYS = 7
PROVIDERS = ("dropbox", "wetransfer", "swisstransfer", "fromsmash")  # SPEC §4
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
# Ingress answer times: the last 24 local hours, p50 drawn over p95.
ANSWER_HOURS = 24
ANSWER_SERIES = {50: Series("p50", "p50 (median)", "#3f7fbf"), 95: Series("p95", "p95", "#a9c6e8")}
LATENCY_WINDOW = timedelta(hours=24)


class Latency(NamedTuple):
    p50: int
    p95: int


def _local_midnight(day, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def overview_build(now: datetime | None = None) -> dict:
    """Everything the overview shows, in the configured time zone; one query per chart."""
    now = now or timezone.now()
    tz = ZoneInfo(time_zone_configured())
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=offset) for offset in range(OVERVIEW_DAYS - 1, -1, -1)]
    since = _local_midnight(days[0], tz)
    per_hour = _emails_per_hour(since, now, tz)
    emails_today = _day_total(per_hour, today)
    per_day = _deliveries_per_day(days, since, tz)
    day_buckets = [(day.strftime("%a %d %b"), day.strftime("%a %d"), per_day[day]) for day in days]
    providers = email_counts_by_provider(since, PROVIDERS)
    reasons = attempt_failure_reason_counts(since)
    queue = delivery_queue_summary(now)
    return {
        "time_zone": str(tz),
        "generated_at": now.astimezone(tz),
        "since": since,
        "days": OVERVIEW_DAYS,
        "emails_chart": stacked_bar_chart(_hour_buckets(per_hour), EMAIL_SERIES),
        "deliveries_chart": stacked_bar_chart(day_buckets, DELIVERY_SERIES, width=420, gap=12),
        "providers_chart": horizontal_bar_chart([(p, providers[p], PROVIDER_COLORS[p]) for p in PROVIDERS]),
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
        "lanes": _lanes(now),
        "answer_chart": _answer_times_chart(now, tz),
        "answer_hours": ANSWER_HOURS,
        "alerts": alerts_for_overview(now),
    }


def _emails_per_hour(since: datetime, now: datetime, tz: ZoneInfo) -> dict[datetime, dict[str, int]]:
    """E-mail counts by status per local hour (naive), from `since` to the current hour; empty hours included."""
    per_hour: dict[datetime, dict[str, int]] = {}
    moment = since.astimezone(UTC)  # step in absolute hours: local wall time may skip or repeat one
    while moment <= now:
        per_hour.setdefault(moment.astimezone(tz).replace(minute=0, second=0, microsecond=0, tzinfo=None), {})
        moment += timedelta(hours=1)
    for hour, status, count in email_counts_by_hour(since, tz):
        per_hour.setdefault(hour, {})[status] = count
    return per_hour


def _hour_buckets(per_hour: dict[datetime, dict[str, int]]) -> list[tuple]:
    """Chart buckets in time order: a label per hour, and a tick label at each local midnight."""
    return [
        (hour.strftime("%a %d %b %H:00"), hour.strftime("%a %d") if hour.hour == 0 else None, counts)
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


def _deliveries_per_day(days: list[date], since: datetime, tz: ZoneInfo) -> dict:
    """Delivery counts by status per local day; every one of `days` is present."""
    per_day: dict = {day: {} for day in days}
    for day, status, count in delivery_counts_by_day(since, tz):
        per_day.setdefault(day, {})[status] = count
    return per_day


def _answer_times_chart(now: datetime, tz: ZoneInfo):
    """p50 and p95 of the ingress answer time per local hour, the current one last; an hour without a push is empty."""
    current = now.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    hours = [current - timedelta(hours=back) for back in range(ANSWER_HOURS - 1, -1, -1)]
    found = answer_ms_percentiles_by_hour(hours[0], tz)
    buckets = []
    for moment in hours:
        local = moment.astimezone(tz).replace(tzinfo=None)
        buckets.append((local.strftime("%a %d %b %H:00"), local.strftime("%H:00") if local.hour % 3 == 0 else None,
                        found.get(local, {})))
    return percentile_bar_chart(buckets, ANSWER_SERIES)


def _lanes(now: datetime) -> list[tuple]:
    """Each endpoint with its lane's health and its attempts' latency over 24 h (None without attempts)."""
    endpoints = list(WebhookEndpoint.objects.order_by("-is_active", "name"))
    health = lanes_health(endpoints, now)
    latencies = attempt_ms_percentiles(now - LATENCY_WINDOW)
    found = {pk: Latency(values[50], values[95]) for pk, values in latencies.items()}
    return [(endpoint, health[endpoint.pk], found.get(endpoint.pk)) for endpoint in endpoints]


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
