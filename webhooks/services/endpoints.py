"""Endpoint writes: activation and deactivation (with the deliveries they pause and resume), and seeding."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.signals import configuration_changed
from webhooks.models import EndpointLane, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("webhooks")

Status = WebhookDelivery.Status
Reason = WebhookEndpoint.DeactivatedReason


def _config_changed() -> None:
    configuration_changed.send(sender=WebhookEndpoint)


def endpoints_activate(endpoints) -> int:
    """Activate the given endpoints: their paused deliveries resume, and their lanes start closed."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(endpoints.filter(is_active=False).values_list("pk", flat=True))
        count = WebhookEndpoint.objects.filter(pk__in=ids).update(
            is_active=True, deactivated_reason="", deactivated_note="", deactivated_at=None, updated_at=now
        )
        resumed = WebhookDelivery.objects.filter(endpoint_id__in=ids, status=Status.PAUSED).update(
            status=Status.PENDING, updated_at=now
        )
        EndpointLane.objects.filter(endpoint_id__in=ids).update(
            state=EndpointLane.State.CLOSED, state_since=now, consecutive_failures=0, cooldown_seconds=0,
            open_until=None, probe_delivery_id=None, failing_since=None,
        )
        _config_changed()
    if count:
        logger.info("WEBHOOK_SENDER: %d endpoint(s) activated; %d paused deliveries resumed", count, resumed)
    return count


def endpoints_deactivate(endpoints, *, reason: str, note: str = "", now: datetime | None = None) -> int:
    """Deactivate the given endpoints; their pending deliveries wait as paused (never failed, never dropped)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(endpoints.filter(is_active=True).values_list("pk", flat=True))
        count = WebhookEndpoint.objects.filter(pk__in=ids, is_active=True).update(
            is_active=False, deactivated_reason=reason, deactivated_note=note[:200], deactivated_at=now,
            updated_at=now,
        )
        paused = WebhookDelivery.objects.filter(endpoint_id__in=ids, status=Status.PENDING).update(
            status=Status.PAUSED, updated_at=now
        )
        _config_changed()
    if count:
        logger.warning(
            "WEBHOOK_SENDER: %d endpoint(s) deactivated (%s); %d pending deliveries paused", count, reason, paused
        )
    return count


def deliveries_pause_align() -> int:
    """Paused exactly while the endpoint is inactive: a push that read the configuration just before its
    endpoint was deactivated (or activated) may have left one the other way round. How many moved."""
    now = timezone.now()
    waiting = WebhookDelivery.objects.filter(is_test=False)
    moved = 0
    for stale, status in (
        (waiting.filter(status=Status.PENDING, endpoint__is_active=False), Status.PAUSED),
        (waiting.filter(status=Status.PAUSED, endpoint__is_active=True), Status.PENDING),
    ):
        if stale.exists():  # read first: an UPDATE would take SQLite's write lock even when it changes nothing
            with transaction.atomic():
                moved += stale.update(status=status, updated_at=now)
    return moved
