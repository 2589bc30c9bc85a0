"""Delivery writes: creating deliveries, sending them, scheduling retries (SPEC §7)."""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from webhooks import outcomes
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookSettings
from webhooks.payloads import payload_build, payload_serialize
from webhooks.transport import HttpResult, webhook_post

logger = logging.getLogger("webhooks")

CONTENT_TYPES = {
    WebhookEndpoint.DeliveryMode.JSON: "application/json",
    WebhookEndpoint.DeliveryMode.LEGACY_FORM_HEADER: "application/x-www-form-urlencoded",
}
RETRY_JITTER = 0.2
RETRY_AFTER_MAX_SECONDS = 6 * 3600
REDACTED_HEADERS = {"webhook-signature", "authorization", "x-api-key", "cookie"}


def deliveries_create(email, targets, *, run_after: datetime | None = None) -> list[WebhookDelivery]:
    """One pending delivery per target endpoint, enqueued in the caller's transaction."""
    from webhooks.tasks import delivery_send_task

    deliveries = [
        WebhookDelivery.objects.create(
            email=email, endpoint_id=target.endpoint_id, routing_rule=target.rule, next_attempt_at=run_after
        )
        for target in targets
    ]
    task = delivery_send_task.using(run_after=run_after) if run_after else delivery_send_task
    for delivery in deliveries:
        task.enqueue(delivery.pk)
    return deliveries


def delivery_claim(delivery_id: int) -> bool:
    """Move a due pending delivery to `sending`; False if another worker has it or it is not due."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .exclude(next_attempt_at__gt=now)
        .update(status=WebhookDelivery.Status.SENDING, last_attempt_at=now, updated_at=now)
    )
    return claimed == 1


def delivery_send(delivery_id: int) -> str | None:
    """Run one attempt of a delivery and record it; schedule the next one when it may be retried."""
    if not delivery_claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "email").get(pk=delivery_id)
    if delivery.payload is None:
        delivery.payload = _payload_for(delivery)
        delivery.save(update_fields=["payload", "updated_at"])
    result, mode, headers, size = _post_with_fallback(delivery)
    return _attempt_record(delivery, result, mode, headers, size)


def _payload_for(delivery: WebhookDelivery) -> dict:
    from transfers.services import links_offload

    email = delivery.email
    links = links_offload(email.links) if email.links else []
    return payload_build(email, links=links, routing_rule=delivery.routing_rule)


def _request_headers(delivery: WebhookDelivery, mode: str, body: bytes) -> dict:
    endpoint = delivery.endpoint
    headers = {**endpoint.headers, "Content-Type": CONTENT_TYPES[mode], "User-Agent": settings.WEBHOOK_USER_AGENT}
    headers["Accept"] = "application/json, text/plain, */*"
    if endpoint.secret:
        now = timezone.now()
        headers["webhook-id"] = delivery.webhook_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = Webhook(endpoint.secret).sign(
            msg_id=delivery.webhook_id, timestamp=now, data=body.decode("utf-8")
        )
    return headers


def _post_with_fallback(delivery: WebhookDelivery) -> tuple[HttpResult, str, dict, int]:
    endpoint = delivery.endpoint
    body = payload_serialize(delivery.payload)
    modes = [endpoint.delivery_mode]
    if endpoint.fallback_on_415:
        modes += [m for m in CONTENT_TYPES if m != endpoint.delivery_mode]
    for mode in modes:
        headers = _request_headers(delivery, mode, body)
        result = webhook_post(
            endpoint.url, body=body, headers=headers, timeout=endpoint.timeout_seconds, verify_tls=endpoint.verify_tls
        )
        if result.status_code != 415:
            break
    return result, mode, headers, len(body)


def _attempt_record(delivery: WebhookDelivery, result: HttpResult, mode: str, headers: dict, size: int) -> str:
    endpoint = delivery.endpoint
    now = timezone.now()
    succeeded = result.status_code is not None and outcomes.response_is_success(
        result.status_code, result.text, endpoint.success_requires_json
    )
    if succeeded:
        reason = ""
    elif result.blocked:
        reason = outcomes.BLOCKED_TARGET
    else:
        reason = outcomes.failure_reason_classify(result.status_code, result.text)
    number = delivery.attempt_count + 1
    snippet = " ".join(result.text.split())[:1024]
    error = result.error or ("" if succeeded else snippet[:200] or f"HTTP {result.status_code}")

    schedule = WebhookSettings.load().retry_schedule_seconds
    retry_in = None
    if not succeeded and not result.blocked and outcomes.status_is_retryable(result.status_code):
        retry_in = retry_delay(schedule, number, result.headers.get("Retry-After"))

    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=delivery.last_attempt_at or now,
            duration_ms=result.duration_ms,
            url=endpoint.url,
            delivery_mode=mode,
            request_headers={k: ("***" if k.lower() in REDACTED_HEADERS else v) for k, v in headers.items()},
            request_size=size,
            status_code=result.status_code,
            response_snippet=snippet,
            error=error[:500],
            failure_reason=reason,
            succeeded=succeeded,
        )
        delivery.attempt_count = number
        delivery.last_status_code = result.status_code
        delivery.last_error = "" if succeeded else error[:500]
        delivery.failure_reason = reason
        if succeeded:
            delivery.status, delivery.completed_at, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, now, None
        elif retry_in is not None:
            delivery.status = WebhookDelivery.Status.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        else:
            delivery.status, delivery.completed_at, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, now, None
        if result.status_code == 410 and endpoint.is_active:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                is_active=False, is_default=False, deactivated_reason=f"HTTP 410 Gone on delivery #{delivery.pk}"
            )
            from ingress.selectors import ingress_config_invalidate

            ingress_config_invalidate()
        delivery.save()
        if delivery.status == WebhookDelivery.Status.PENDING:
            from webhooks.tasks import delivery_send_task

            delivery_send_task.using(run_after=delivery.next_attempt_at).enqueue(delivery.pk)

    ref = f"delivery #{delivery.pk} ({endpoint.name}) attempt {number}"
    if succeeded:
        logger.info("WEBHOOK_SENDER: Webhook sent successfully to %s: %s HTTP %s in %d ms", endpoint.name, ref, result.status_code, result.duration_ms)
    else:
        logger.warning(
            "WEBHOOK_SENDER: Error sending webhook to %s: %s %s (%s)%s",
            endpoint.name,
            ref,
            result.status_code or "no response",
            reason,
            f", retry in {retry_in:.0f} s" if retry_in is not None else ", giving up",
        )
    return delivery.status


def retry_delay(schedule: list[int], attempts_done: int, retry_after: str | None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is exhausted.

    `schedule[i]` is the delay before attempt i+1; jitter spreads retries of many deliveries apart,
    and a receiver's Retry-After (seconds) is honoured when longer, up to six hours.
    """
    if attempts_done >= len(schedule):
        return None
    delay = schedule[attempts_done] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(int(retry_after.strip()), RETRY_AFTER_MAX_SECONDS))
    return delay


def config_seed_from_env() -> list[str]:
    """Seed what the environment offers, once: the default endpoint and the settings row."""
    notes = []
    if not WebhookSettings.objects.exists():
        prefs = WebhookSettings(sender_allowlist=list(settings.GMAIL_SENDER_ALLOWLIST))
        prefs.full_clean()
        prefs.save()
        notes.append(f"Created webhook settings (time zone {prefs.time_zone}, {len(prefs.sender_allowlist)} allowed senders).")
    if settings.WEBHOOK_URL and not WebhookEndpoint.objects.exists():
        endpoint = WebhookEndpoint(name="default", url=settings.WEBHOOK_URL, is_default=True)
        try:
            endpoint.full_clean()
        except ValidationError as exc:
            notes.append(f"WEBHOOK_URL not used: {'; '.join(exc.messages)}")
        else:
            endpoint.save()
            notes.append(f"Created the default endpoint from WEBHOOK_URL ({endpoint.url}).")
    return notes
