"""Endpoint writes: activation and deactivation (with the deliveries they pause and resume), secret
rotation, and seeding."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.signals import configuration_changed
from webhooks import signing
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


@dataclass(frozen=True)
class Rotation:
    """A rotated endpoint's new secret (to give to the receiver, once) and until when the old one signs too."""

    endpoint: WebhookEndpoint
    secret: str
    previous_valid_until: datetime | None  # None: nothing to overlap (unsigned before, or an overlap of 0 h)


def endpoint_secret_rotate(endpoint: WebhookEndpoint, *, secret: str = "", now: datetime | None = None) -> Rotation:
    """Give the endpoint a new secret (`secret`, else a generated one) and keep the current one signing for
    SECRET_ROTATION_OVERLAP_HOURS, while the receiver moves to the new one. A rotation during an overlap
    ends the older secret's at once: deliveries carry two signatures at most."""
    now = now or timezone.now()
    secret = secret.strip() or signing.secret_generate()
    signing.secret_validate(secret)
    if secret in (endpoint.secret, endpoint.previous_secret):
        raise ValidationError("That secret is already in use by this endpoint: rotate to a new one.")
    overlap = timedelta(hours=settings.SECRET_ROTATION_OVERLAP_HOURS)
    until = now + overlap if endpoint.secret and overlap else None
    endpoint.previous_secret = endpoint.secret if until else ""
    endpoint.secret, endpoint.previous_secret_expires_at = secret, until
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    logger.info(
        "WEBHOOK_SENDER: signing secret of %s rotated; the previous one signs too until %s", endpoint.name,
        f"{until:%Y-%m-%d %H:%M:%S} UTC" if until else "now (no overlap)",
    )
    return Rotation(endpoint, secret, until)


def endpoints_previous_secrets_clear(now: datetime | None = None) -> int:
    """Forget the previous secrets whose overlap ended (signing already ignores them); how many."""
    now = now or timezone.now()
    expired = WebhookEndpoint.objects.exclude(previous_secret="").filter(previous_secret_expires_at__lte=now)
    if not expired.exists():  # read first: an UPDATE would take SQLite's write lock even when it changes nothing
        return 0
    return expired.update(previous_secret="", previous_secret_expires_at=None)
