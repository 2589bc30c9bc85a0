"""Ops reads: what the alert rules look at, and the alerts as the overview lists them."""

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
from ops.models import Alert
from transfers.models import LinkPair
from webhooks.models import EndpointLane, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import queue_oldest_due

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
