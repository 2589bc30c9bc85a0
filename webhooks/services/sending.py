"""Sending one claimed delivery (SPEC §7): its payload, its HTTP tries, and what the answer changes.

Every try is recorded before it goes out and closed with its answer; the delivery then moves on
(succeeded, failed, a retry at its scheduled time, or paused when its endpoint is gone or inactive),
and the endpoint's lane learns the outcome, in one transaction. Whatever a receiver answers, and
whatever raises inside one send, ends as a recorded attempt: a receiver cannot crash a worker.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webhooks import lanes, outcomes, signing
from webhooks.models import DeliveryAttempt, EndpointLane, WebhookDelivery, WebhookEndpoint, WebhookSettings
from webhooks.payloads import payload_build
from webhooks.schedule import retry_after_seconds, retry_delay
from webhooks.services.endpoints import endpoint_deactivate
from webhooks.services.queue import Claim, lane_limits, lane_of, lane_store, try_lease
from webhooks.transport import HttpResult, webhook_post

logger = logging.getLogger("webhooks")

Status = WebhookDelivery.Status
Reason = WebhookEndpoint.DeactivatedReason
CONTENT_TYPES = {
    WebhookEndpoint.DeliveryMode.JSON: "application/json",
    WebhookEndpoint.DeliveryMode.LEGACY_FORM_HEADER: "application/x-www-form-urlencoded",
}
REDACTED = "***"
REDACTED_HEADERS = {"webhook-signature", "authorization", "proxy-authorization", "cookie", "x-api-key"}
SNIPPET_BYTES = 1024
RECOVER_BATCH = 200


class ClaimLost(Exception):
    """The delivery was taken back (its lease expired) while this worker still held it."""


def delivery_send(claim: Claim) -> str | None:
    """Run the claimed attempt (plus the immediate 415 fallback) and record it; the delivery's new status."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=claim.delivery_id)
    if delivery.status != Status.SENDING or delivery.claim_token != claim.token:
        return None
    save_payload = not delivery.payload_json
    if save_payload:
        delivery.payload = _payload_for(delivery)
    endpoint = delivery.endpoint
    body = delivery.payload_json.encode("utf-8")
    modes = [endpoint.delivery_mode]
    if endpoint.fallback_on_415:
        modes += [m for m in CONTENT_TYPES if m != endpoint.delivery_mode]
    try:
        for index, mode in enumerate(modes):
            headers = _request_headers(delivery, mode, body)
            attempt = _attempt_begin(delivery, claim, mode, headers, len(body), save_payload=save_payload)
            save_payload = False
            result = _post(endpoint, body, headers)
            if result.status_code == 415 and index + 1 < len(modes):
                _attempt_close(attempt, result, outcomes.attempt_judge(415, result.text, requires_json=False))
                _log_failure(delivery, attempt, result, outcomes.UNSUPPORTED_MEDIA_TYPE, "trying the other mode now")
                continue
            return _attempt_settle(delivery, claim, attempt, result)
    except ClaimLost:
        logger.warning(
            "WEBHOOK_SENDER: delivery #%s was taken back while this worker still sent it (lease expired); "
            "its state is left to the new attempt", delivery.pk,
        )
    return None


def _post(endpoint: WebhookEndpoint, body: bytes, headers: dict) -> HttpResult:
    """The HTTP try; an exception raised inside it becomes the attempt's error, never the worker's."""
    try:
        return webhook_post(
            endpoint.url, body=body, headers=headers, timeout=endpoint.timeout_seconds, verify_tls=endpoint.verify_tls
        )
    except Exception as exc:
        logger.exception("WEBHOOK_SENDER: the send to %s raised", endpoint.name)
        return HttpResult(None, "", f"internal error: {type(exc).__name__}: {exc}"[:500], 0, internal=True)


def _payload_for(delivery: WebhookDelivery) -> dict:
    from transfers.services import links_offload

    email = delivery.email
    links = email.links or []
    if links:
        try:
            links = links_offload(links)
        except Exception:
            # SPEC §8: an offload failure keeps the original links and the delivery goes out anyway.
            logger.exception("R2_TRANSFER: offload failed for delivery #%s; sending the original links", delivery.pk)
            links = email.links
    return payload_build(email, links=links, routing_rule=delivery.routing_rule)


def _request_headers(delivery: WebhookDelivery, mode: str, body: bytes) -> dict:
    endpoint = delivery.endpoint
    headers = {
        **endpoint.headers,
        "Content-Type": CONTENT_TYPES[mode],
        "User-Agent": settings.WEBHOOK_USER_AGENT,
        "Accept": "application/json, text/plain, */*",
    }
    if endpoint.secret:
        headers.update(signing.signature_headers(endpoint.secret, delivery.webhook_id, body, timezone.now()))
    return headers


def headers_redact(headers: dict, custom: dict) -> dict:
    """What an attempt records: header names all kept; signatures, credentials and custom values hidden."""
    custom_names = {name.lower() for name in custom}
    return {
        name: REDACTED if (name.lower() in REDACTED_HEADERS or name.lower() in custom_names) else value
        for name, value in headers.items()
    }


def _attempt_begin(delivery, claim: Claim, mode, headers, size, *, save_payload: bool) -> DeliveryAttempt:
    """Record the try before it goes out, so a worker dying mid-request leaves a visible trace."""
    now = timezone.now()
    changes = {
        "attempt_count": F("attempt_count") + 1,
        "last_attempt_at": now,
        "lease_expires_at": now + try_lease(delivery.endpoint),
        "updated_at": now,
    }
    if save_payload:
        changes["payload_json"] = delivery.payload_json
    with transaction.atomic():
        if not _held(delivery.pk, claim).update(**changes):
            raise ClaimLost(delivery.pk)
        delivery.attempt_count += 1
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            series=delivery.series,
            started_at=now,
            url=delivery.endpoint.url,
            delivery_mode=mode,
            request_headers=headers_redact(headers, delivery.endpoint.headers),
            request_size=size,
        )
    return attempt


def _held(delivery_id: int, claim: Claim):
    return WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SENDING, claim_token=claim.token)


def _attempt_close(attempt: DeliveryAttempt, result: HttpResult, verdict: outcomes.Verdict) -> None:
    attempt.finished_at = timezone.now()
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.response_snippet = _snippet(result.text)
    attempt.succeeded = verdict.succeeded
    attempt.failure_reason = verdict.reason
    attempt.error = "" if verdict.succeeded else _error_text(result)
    attempt.save(
        update_fields=[
            "finished_at", "duration_ms", "status_code", "response_snippet", "succeeded", "failure_reason", "error",
        ]
    )


def _attempt_settle(delivery: WebhookDelivery, claim: Claim, attempt: DeliveryAttempt, result: HttpResult) -> str:
    """Record the answer, move the delivery on, and tell its lane, in one transaction."""
    endpoint = delivery.endpoint
    if result.internal:
        verdict = outcomes.Verdict(False, outcomes.INTERNAL_ERROR, True, lanes.Outcome.FAILURE)
    else:
        verdict = outcomes.attempt_judge(
            result.status_code, result.text, requires_json=endpoint.success_requires_json, blocked=result.blocked
        )
    now = timezone.now()
    retry_after = retry_after_seconds(result.headers.get("retry-after"), now)
    with transaction.atomic():
        _attempt_close(attempt, result, verdict)
        deactivation = _lane_learn(delivery, claim, verdict.lane, now) if not delivery.is_test else None
        if verdict.gone and not delivery.is_test:
            deactivation = (Reason.GONE, f"HTTP 410 Gone answered to delivery #{delivery.pk} at {now:%Y-%m-%d %H:%M:%S} UTC")
        state = _next_state(delivery, verdict, retry_after, paused=deactivation is not None, now=now)
        moved = _held(delivery.pk, claim).update(
            **state, last_status_code=result.status_code, last_error="" if verdict.succeeded else _error_text(result),
            failure_reason=verdict.reason, claim_token="", lease_expires_at=None, updated_at=now,
        )
        if moved and deactivation is not None:
            endpoint_deactivate(endpoint.pk, reason=deactivation[0], note=deactivation[1], now=now)
    if not moved:
        # The attempt and the lane keep what really happened; the delivery belongs to whoever holds it now.
        raise ClaimLost(delivery.pk)
    _log_settled(delivery, attempt, result, verdict, state)
    return state["status"]


def _next_state(delivery, verdict: outcomes.Verdict, retry_after: float | None, *, paused: bool, now: datetime) -> dict:
    if verdict.succeeded:
        return {"status": Status.SUCCEEDED, "next_attempt_at": None, "completed_at": now}
    if verdict.gone and not delivery.is_test:
        return {"status": Status.PAUSED, "next_attempt_at": now, "completed_at": None}
    retry_in = None
    if verdict.retryable:
        schedule = WebhookSettings.load().retry_schedule_seconds
        retry_in = retry_delay(schedule, delivery.series_attempt_count, retry_after)
    if retry_in is None:
        return {"status": Status.FAILED, "next_attempt_at": None, "completed_at": now}
    waiting = Status.PAUSED if paused or not _endpoint_active(delivery.endpoint_id) else Status.PENDING
    return {"status": waiting, "next_attempt_at": now + timedelta(seconds=retry_in), "completed_at": None}


def _endpoint_active(endpoint_id: int) -> bool:
    return WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).exists()


def _lane_learn(delivery: WebhookDelivery, claim: Claim, outcome: lanes.Outcome, now: datetime):
    """Update the lane with this outcome; (reason, note) when the endpoint must now be deactivated."""
    endpoint = delivery.endpoint
    row, _ = EndpointLane.objects.select_for_update().get_or_create(endpoint_id=endpoint.pk)
    lane = lanes.lane_after_attempt(lane_of(row), lane_limits(endpoint), outcome, delivery_id=delivery.pk, now=now)
    lane_store(row, lane)
    hours = settings.ENDPOINT_DISABLE_AFTER_HOURS
    if hours and endpoint.is_active and lanes.lane_is_failing_for(lane, timedelta(hours=hours), now):
        return Reason.FAILING, f"every attempt failed since {lane.failing_since:%Y-%m-%d %H:%M:%S} UTC ({hours} h or more)"
    return None


# --- taking a delivery back from its worker ------------------------------------------------------------------
def deliveries_recover_expired(*, now: datetime | None = None) -> int:
    """Deliveries whose lease ran out (their worker died or hung) become claimable again; how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.DELIVERY_LEASE_GRACE_SECONDS)
    expired = WebhookDelivery.objects.filter(status=Status.SENDING, lease_expires_at__lt=cutoff).exclude(claim_token="")
    rows = list(expired.order_by("lease_expires_at").values_list("pk", "endpoint_id", "claim_token")[:RECOVER_BATCH])
    return sum(
        delivery_interrupt(Claim(pk, endpoint_id, token), reason="the worker stopped during this attempt")
        for pk, endpoint_id, token in rows
    )


def delivery_interrupt(claim: Claim, *, reason: str) -> bool:
    """Close the interrupted try and put the delivery back on its schedule (failed when none is left).

    For a worker that died (its lease expired) or one stopping before its attempt finished. The try
    counts as made: the request may have reached the receiver.
    """
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=claim.delivery_id).first()
    if delivery is None:
        return False
    error = f"interrupted: {reason}, before the answer was recorded"
    verdict = outcomes.Verdict(False, outcomes.REQUEST_FAILED, True, lanes.Outcome.FAILURE)
    with transaction.atomic():
        state = _next_state(delivery, verdict, None, paused=False, now=now)
        moved = _held(delivery.pk, claim).update(
            **state, failure_reason=outcomes.REQUEST_FAILED, last_error=error, last_status_code=None,
            claim_token="", lease_expires_at=None, updated_at=now,
        )
        if not moved:
            return False
        DeliveryAttempt.objects.filter(delivery_id=delivery.pk, finished_at__isnull=True).update(
            finished_at=now, error=error, failure_reason=outcomes.REQUEST_FAILED, succeeded=False
        )
        if not delivery.is_test:
            _lane_learn(delivery, claim, lanes.Outcome.FAILURE, now)
    logger.warning(
        "WEBHOOK_SENDER: Error sending webhook to %s: delivery #%s interrupted (%s); %s", delivery.endpoint.name,
        delivery.pk, reason, "giving up" if state["status"] == Status.FAILED else "back in the queue",
    )
    return True


# --- log lines ---------------------------------------------------------------------------------------------
def _log_settled(delivery, attempt, result: HttpResult, verdict: outcomes.Verdict, state: dict) -> None:
    endpoint = delivery.endpoint
    if verdict.succeeded:
        logger.info(
            "WEBHOOK_SENDER: Webhook sent successfully to %s (%s): delivery #%s attempt %s, HTTP %s in %d ms",
            endpoint.name, endpoint.url_masked, delivery.pk, attempt.number, result.status_code, result.duration_ms,
        )
    elif state["status"] == Status.FAILED:
        _log_failure(delivery, attempt, result, verdict.reason, "giving up")
    elif state["status"] == Status.PAUSED:
        _log_failure(delivery, attempt, result, verdict.reason, "paused until the endpoint is active again")
    else:
        retry_in = (state["next_attempt_at"] - timezone.now()).total_seconds()
        _log_failure(delivery, attempt, result, verdict.reason, f"retry in {max(0, retry_in):.0f} s")


def _log_failure(delivery, attempt, result: HttpResult, reason: str, then: str) -> None:
    endpoint = delivery.endpoint
    logger.warning(
        "WEBHOOK_SENDER: Error sending webhook to %s (%s): delivery #%s attempt %s, %s (%s); %s",
        endpoint.name, endpoint.url_masked, delivery.pk, attempt.number,
        f"HTTP {result.status_code}" if result.status_code else result.error or "no response", reason, then,
    )


def _snippet(text: str) -> str:
    """The answer's first KB (whitespace folded), cut on a character boundary."""
    folded = " ".join((text or "").split())
    return folded.encode("utf-8")[:SNIPPET_BYTES].decode("utf-8", errors="ignore")


def _error_text(result: HttpResult) -> str:
    if result.error:
        return result.error[:500]
    if result.status_code is None:
        return "no response"
    return f"HTTP {result.status_code}: {_snippet(result.text)[:200]}".rstrip(": ")[:500]
