"""Ops reads: what the alert rules look at, the alerts as the overview lists them, the history's figures
(rollups and the last minutes live), and the last retention run."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Q

from configuration.models import IngressSettings, RuntimeFlags
from core.times import WEEKDAYS
from ingress.models import InboundEmail
from ops.alert_rules import (
    DELIVERY_FAILED_FOR,
    EndpointState,
    FailedDelivery,
    IngressState,
    ServiceState,
)
from ops.models import Alert, HourlyRollup, RetentionRun, RollupState
from ops.rollups import LIVE_WINDOW, Figure, Figures, figures_live
from transfers.models import LinkPair
from webhooks.models import EndpointLane, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import queue_oldest_due

Metric = HourlyRollup.Metric
OFFLOAD_WINDOW = timedelta(hours=1)
# Deliveries failed for good looked at per evaluation, newest first: a receiver down for a day does not
# turn one evaluation into thousands of rows.
FAILED_DELIVERIES_READ = 200


def service_state_read(now: datetime) -> ServiceState:
    """Everything the alert rules need, in a few small queries."""
    offload = LinkPair.objects.filter(updated_at__gte=now - OFFLOAD_WINDOW).aggregate(
        stored=Count("pk", filter=Q(status=LinkPair.Status.STORED)),
        failed=Count("pk", filter=Q(status=LinkPair.Status.FAILED)),
    )
    return ServiceState(
        now=now,
        endpoints=_endpoints(),
        failed_deliveries=_failed_deliveries(now),
        ingress=_ingress(now),
        offload_stored=offload["stored"],
        offload_failed=offload["failed"],
        oldest_due_at=queue_oldest_due(now),
        no_ingress_minutes=settings.ALERT_NO_INGRESS_MINUTES,
        queue_age_minutes=settings.ALERT_QUEUE_AGE_MINUTES,
    )


def _endpoints() -> list[EndpointState]:
    lanes = {row.endpoint_id: row for row in EndpointLane.objects.all()}
    states = []
    for e in WebhookEndpoint.objects.order_by("pk"):
        lane = lanes.get(e.pk)
        closed = lane is None or lane.state == EndpointLane.State.CLOSED
        states.append(EndpointState(
            id=e.pk, name=e.name, is_active=e.is_active, is_default=e.is_default,
            deactivated_reason=e.deactivated_reason, lane_state=EndpointLane.State.CLOSED if closed else lane.state,
            # A lane opened before the column existed: its current state's start is the best known.
            lane_opened_at=None if closed else (lane.opened_at or lane.state_since),
        ))
    return states


def _failed_deliveries(now: datetime) -> list[FailedDelivery]:
    rows = (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.FAILED, is_test=False, completed_at__gte=now - DELIVERY_FAILED_FOR
        )
        .order_by("-completed_at")
        .values_list("pk", "endpoint__name", "completed_at", "failure_reason")[:FAILED_DELIVERIES_READ]
    )
    return [FailedDelivery(*row) for row in rows]


def _ingress(now: datetime) -> IngressState:
    prefs, flags = IngressSettings.load(), RuntimeFlags.load()
    now_local = now.astimezone(ZoneInfo(prefs.time_zone))
    absent = prefs.absence_enabled and WEEKDAYS[now_local.weekday()] in prefs.absence_days
    return IngressState(
        last_push_at=InboundEmail.objects.aggregate(last=Max("received_at"))["last"],
        now_local=now_local,
        window_start=prefs.window_start,
        window_end=prefs.window_end,
        quiet=not (flags.ingress_enabled and prefs.sending_enabled) or absent,
    )


def alerts_open_keys() -> dict[tuple[str, str, int], Alert]:
    """The open alerts by (kind, subject type, subject id)."""
    return {(a.kind, a.subject_type, a.subject_id): a for a in Alert.objects.filter(resolved_at__isnull=True)}


def alerts_for_overview(now: datetime, limit: int = 20) -> list[Alert]:
    """Open alerts first (the latest seen first), then those resolved in the last day."""
    since = now - timedelta(days=1)
    return list(
        Alert.objects.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
        .annotate(failed_notifications=Count("notifications", filter=Q(notifications__succeeded=False)))
        .order_by(*Alert._meta.ordering)[:limit]
    )


# --- The history as the overview reads it: hourly rollups, and the last minutes live ----------------------

COUNTED = (Metric.EMAIL_STATUS, Metric.EMAIL_PROVIDER, Metric.DELIVERY_STATUS, Metric.ATTEMPT_FAILED)
DISTRIBUTED = (Metric.ANSWER_MS, Metric.ATTEMPT_MS, Metric.ATTEMPT_SUCCEEDED)


@dataclass(frozen=True)
class Freshness:
    rolled_at: datetime | None  # the rollups count the rows before it (None: never rolled up)
    live_from: datetime  # the rows since then are read live
    backfilling: bool  # some older history is not rolled up yet

    @property
    def missing(self) -> bool:
        """Rows between the last roll up and the live window are in neither."""
        return self.rolled_at is None or self.rolled_at < self.live_from


def history_figures(first_hour: int, recent_hour: int, now: datetime) -> tuple[Figures, Freshness]:
    """The counts of every hour from `first_hour`, and the distributions from `recent_hour`, to `now`: the
    rollups plus at most LIVE_WINDOW of rows read live. Six queries, whatever the history's size."""
    figures: Figures = defaultdict(Figure)
    counted = HourlyRollup.objects.filter(metric__in=COUNTED, hour__gte=first_hour)
    for hour, metric, key, count in counted.values_list("hour", "metric", "key", "count"):
        figures[hour, metric, key].count += count
    distributed = HourlyRollup.objects.filter(metric__in=DISTRIBUTED, hour__gte=recent_hour)
    for hour, metric, key, count, values in distributed.values_list("hour", "metric", "key", "count", "values"):
        figures[hour, metric, key].merge(Figure(count, Counter({int(v): n for v, n in values.items()})))
    state = RollupState.objects.filter(pk=1).first()
    rolled_at = state.rolled_at if state else None
    live_from = max(rolled_at, now - LIVE_WINDOW) if rolled_at else now - LIVE_WINDOW
    for key, figure in figures_live(live_from).items():
        figures[key].merge(figure)
    backfilling = state is None or any(mark.get("low") for mark in state.marks.values())
    return figures, Freshness(rolled_at, live_from, backfilling)


def retention_last_run() -> RetentionRun | None:
    """The last history purge (None: never), as the overview shows it."""
    return RetentionRun.objects.filter(pk=1, started_at__isnull=False).first()
