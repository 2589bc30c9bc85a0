"""Delivery writes outside the worker: creating deliveries, test webhooks, replays and cancellations."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from infrastructure.inserts import row_insert
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.payloads import test_payload_build

logger = logging.getLogger("webhooks")

Status = WebhookDelivery.Status
REPLAYABLE = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
CANCELLABLE = (Status.PENDING, Status.PAUSED)
BATCH = 500


class DeliveryNotReplayable(Exception):
    """The delivery cannot be replayed now (it is waiting or being sent, or its endpoint is inactive)."""


class DeliveryNotCancellable(Exception):
    """Only deliveries still waiting (pending or paused) can be cancelled."""


def deliveries_create(email, targets, *, inactive_ids=frozenset(), run_after: datetime | None = None) -> list:
    """One delivery per target endpoint in the caller's transaction: the rows are the queue.

    Deliveries to an inactive endpoint wait as paused until it is activated again.
    """
    due = run_after or timezone.now()
    return [
        row_insert(
            WebhookDelivery(
                email=email, endpoint_id=target.endpoint_id, routing_rule=target.rule, next_attempt_at=due,
                status=Status.PAUSED if target.endpoint_id in inactive_ids else Status.PENDING,
            )
        )
        for target in targets
    ]


def endpoint_test_send(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery (is_test, no e-mail) with the test payload, sent and recorded like any other.

    It goes out even to an inactive endpoint or one whose breaker is open: staff test before trusting it again.
    """
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, is_test=True, next_attempt_at=now,
        payload=test_payload_build(endpoint.name, now.isoformat(timespec="seconds")),
    )
    logger.info("WEBHOOK_SENDER: test webhook queued for %s (delivery #%s)", endpoint.name, delivery.pk)
    return delivery


def _reopen_changes(now: datetime) -> dict:
    return {
        "status": Status.PENDING, "series": F("series") + 1, "series_attempt_count": 0, "next_attempt_at": now,
        "completed_at": None, "failure_reason": "", "last_error": "", "last_status_code": None,
        "claim_token": "", "lease_expires_at": None, "replayed_at": now, "updated_at": now,
    }


def delivery_replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """Re-open a finished delivery: a new attempt series on the same delivery, same payload and `webhook-id`."""
    endpoint = delivery.endpoint
    if not endpoint.is_active and not delivery.is_test:
        raise DeliveryNotReplayable(f"Endpoint {endpoint.name} is inactive; activate it before replaying.")
    reopened = WebhookDelivery.objects.filter(pk=delivery.pk, status__in=REPLAYABLE).update(
        **_reopen_changes(timezone.now())
    )
    delivery.refresh_from_db()
    if not reopened:
        raise DeliveryNotReplayable(
            f"Delivery #{delivery.pk} is {delivery.status}; only succeeded, failed or cancelled deliveries can be "
            "replayed."
        )
    logger.info("WEBHOOK_SENDER: delivery #%s to %s replayed (series %s)", delivery.pk, endpoint.name, delivery.series)
    return delivery


def deliveries_replay_failed(endpoint: WebhookEndpoint, since: datetime, until: datetime) -> int:
    """Replay every failed (non-test) delivery of the endpoint created in [since, until); returns how many."""
    if since >= until:
        raise ValidationError("The start of the range must be before its end.")
    if not endpoint.is_active:
        raise DeliveryNotReplayable(f"Endpoint {endpoint.name} is inactive; activate it before replaying.")
    failed = WebhookDelivery.objects.filter(
        endpoint=endpoint, status=Status.FAILED, is_test=False, created_at__gte=since, created_at__lt=until
    )
    ids = list(failed.order_by("created_at", "pk").values_list("pk", flat=True))
    count = 0
    for start in range(0, len(ids), BATCH):
        now = timezone.now()
        with transaction.atomic():
            for offset, pk in enumerate(ids[start : start + BATCH]):
                # Due a microsecond apart in creation order: the lane sends the oldest first.
                changes = _reopen_changes(now) | {"next_attempt_at": now + timedelta(microseconds=offset)}
                count += WebhookDelivery.objects.filter(pk=pk, status=Status.FAILED).update(**changes)
    logger.info(
        "WEBHOOK_SENDER: replayed %d failed deliveries to %s created %s to %s",
        count, endpoint.name, since.isoformat(timespec="seconds"), until.isoformat(timespec="seconds"),
    )
    return count


def deliveries_cancel(deliveries, *, by: str = "") -> int:
    """Cancel waiting deliveries (pending or paused) for good; they stay in the history and can be replayed."""
    now = timezone.now()
    note = f"cancelled by {by}" if by else "cancelled"
    count = deliveries.filter(status__in=CANCELLABLE).update(
        status=Status.CANCELLED, next_attempt_at=None, completed_at=now, last_error=note, updated_at=now
    )
    if count:
        logger.info("WEBHOOK_SENDER: %d waiting deliveries %s", count, note)
    return count


def delivery_cancel(delivery: WebhookDelivery, *, by: str = "") -> WebhookDelivery:
    if not deliveries_cancel(WebhookDelivery.objects.filter(pk=delivery.pk), by=by):
        delivery.refresh_from_db()
        raise DeliveryNotCancellable(
            f"Delivery #{delivery.pk} is {delivery.status}; only pending or paused deliveries can be cancelled."
        )
    delivery.refresh_from_db()
    return delivery
