"""Sending claimed deliveries (SPEC §7): their payloads, their HTTP tries, and what the answers change.

Sending and recording are apart. `delivery_attempt` builds the payload (at the first attempt; later ones
renew its bucket links) and makes the HTTP tries; it writes nothing (but the file offload's own records),
so the worker runs it in sender threads that never queue for the database's write lock.
`attempts_record` then records a batch of finished attempts in one transaction: each attempt closed with
its answer, each delivery moved on (succeeded, failed, a retry at its scheduled time, or paused when its
endpoint is gone or inactive), and each lane told the outcomes. Whatever a receiver answers, and whatever
raises inside a send, ends as a recorded attempt: a receiver cannot crash a worker.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from transfers.services import links_offload, links_refresh
from webhooks import lanes, outcomes, signing
from webhooks.models import DeliveryAttempt, DeliverySettings, EndpointLane, WebhookDelivery, WebhookEndpoint
from webhooks.payloads import payload_build, payload_links_refresh
from webhooks.schedule import retry_after_seconds, retry_delay
from webhooks.services.endpoints import endpoints_deactivate
from webhooks.services.queue import Claim, lane_limits, lane_of, lane_store
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


@dataclass(frozen=True)
class Try:
    """One HTTP try: the mode, the headers as recorded (redacted), the body size and the answer."""

    mode: str
    headers: dict
    size: int
    started_at: datetime
    result: HttpResult


@dataclass
class Sent:
    """A claimed delivery's attempt, made and not yet recorded."""

    claim: Claim
    delivery: WebhookDelivery
    payload_json: str = ""  # the body this attempt built or renewed (what it sent): recorded on the delivery
    tries: list[Try] = field(default_factory=list)

    @cached_property
    def verdict(self) -> outcomes.Verdict:
        """How the last try went; read once the tries are over, when the attempt is recorded."""
        result = self.tries[-1].result
        if result.internal:
            return outcomes.Verdict(False, outcomes.INTERNAL_ERROR, True, lanes.Outcome.FAILURE)
        return outcomes.attempt_judge(
            result.status_code, result.text, requires_json=self.delivery.endpoint.success_requires_json,
            blocked=result.blocked, retry_on=self.delivery.endpoint.retry_on_status,
        )


# --- sending (no database writes) --------------------------------------------------------------------------
def deliveries_load(claims: list[Claim]) -> dict[int, WebhookDelivery]:
    """The claimed deliveries with their endpoints and e-mails, for the sender threads (one query)."""
    return WebhookDelivery.objects.select_related("endpoint", "email").in_bulk([c.delivery_id for c in claims])


def delivery_attempt(claim: Claim, delivery: WebhookDelivery) -> Sent:
    """The claimed attempt: the payload (built at the first attempt, its bucket links renewed at the later
    ones), then the POST, and at once the other mode after a 415 when the endpoint falls back."""
    sent = Sent(claim, delivery)
    if not delivery.payload_json:
        delivery.payload = _payload_for(delivery)
        sent.payload_json = delivery.payload_json
    else:
        # A presigned link, or the copy behind it, may have expired since (SPEC §8): this try's body has
        # links valid now. A payload without bucket links goes out byte for byte, at no cost.
        renewed = payload_links_refresh(delivery.payload_json, links_refresh)
        if renewed != delivery.payload_json:
            delivery.payload_json = sent.payload_json = renewed
    endpoint = delivery.endpoint
    body = delivery.payload_json.encode("utf-8")
    modes = [endpoint.delivery_mode]
    if endpoint.fallback_on_415:
        modes += [m for m in CONTENT_TYPES if m != endpoint.delivery_mode]
    for mode in modes:
        headers = _request_headers(delivery, mode, body)
        started = timezone.now()
        result = _post(endpoint, body, headers)
        sent.tries.append(Try(mode, headers_redact(headers, endpoint.headers), len(body), started, result))
        if result.status_code != 415:
            break
    return sent


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
    now = timezone.now()
    secrets = endpoint.signing_secrets(now)
    if secrets:
        headers.update(signing.signature_headers(secrets, delivery.webhook_id, body, now))
    return headers


def headers_redact(headers: dict, custom: dict) -> dict:
    """What an attempt records: header names all kept; signatures, credentials and custom values hidden."""
    custom_names = {name.lower() for name in custom}
    return {
        name: REDACTED if (name.lower() in REDACTED_HEADERS or name.lower() in custom_names) else value
        for name, value in headers.items()
    }


# --- recording (one transaction per batch) -----------------------------------------------------------------
def attempts_record(batch: list[Sent], *, schedule: list[int] | None = None) -> dict[int, str | None]:
    """Record finished attempts, move their deliveries on and tell their lanes; each delivery's new status
    (None when its claim no longer held: the attempt stays recorded, the delivery belongs to another).

    `schedule` is the retry schedule, read here when the caller (one send) has not read it for a round."""
    now = timezone.now()
    if schedule is None:
        schedule = DeliverySettings.load().retry_schedule_seconds
    states: dict[int, dict | None] = {}
    with transaction.atomic():
        for sent in batch:
            _attempt_close(sent, sent.verdict)
        deactivations = lanes_learn(_lane_outcomes(batch), now)
        _gone_endpoints_add(deactivations, batch, now)
        for sent in batch:
            states[sent.delivery.pk] = _delivery_move(sent, schedule, deactivations, now)
        for endpoint_id, (reason, note) in deactivations.items():
            endpoints_deactivate(WebhookEndpoint.objects.filter(pk=endpoint_id), reason=reason, note=note, now=now)
    for sent in batch:
        _log_recorded(sent, sent.verdict, states[sent.delivery.pk], now)
    return {pk: state["status"] if state else None for pk, state in states.items()}


def _attempt_close(sent: Sent, verdict: outcomes.Verdict) -> None:
    """Close the attempt the claim opened; record a 415 fallback's second try as an attempt of its own."""
    for index, one in enumerate(sent.tries):
        judged = verdict if index == len(sent.tries) - 1 else outcomes.attempt_judge(415, "", requires_json=False)
        closing = {
            "finished_at": one.started_at + timedelta(milliseconds=one.result.duration_ms),
            "duration_ms": one.result.duration_ms, "status_code": one.result.status_code,
            "response_snippet": _snippet(one.result.text), "succeeded": judged.succeeded,
            "failure_reason": judged.reason, "error": "" if judged.succeeded else _error_text(one.result),
            "delivery_mode": one.mode, "request_headers": one.headers, "request_size": one.size,
        }
        if index == 0:
            DeliveryAttempt.objects.filter(delivery_id=sent.delivery.pk, number=sent.claim.attempt).update(**closing)
        else:
            DeliveryAttempt.objects.create(
                delivery_id=sent.delivery.pk, number=sent.claim.attempt + index, series=sent.delivery.series,
                started_at=one.started_at, url=sent.delivery.endpoint.url, **closing,
            )


def lanes_learn(outcomes_by_lane: dict[int, list], now: datetime) -> dict[int, tuple[str, str]]:
    """Fold each lane's outcomes into it (rows locked in id order); the endpoints now failing for too long."""
    deactivations = {}
    rows = EndpointLane.objects.select_for_update().select_related("endpoint").filter(pk__in=outcomes_by_lane)
    for row in rows.order_by("pk"):
        endpoint = row.endpoint
        lane, limits = lane_of(row), lane_limits(endpoint)
        for delivery_id, outcome in outcomes_by_lane[row.pk]:
            lane = lanes.lane_after_attempt(lane, limits, outcome, delivery_id=delivery_id, now=now)
        lane_store(row, lane)
        hours = settings.ENDPOINT_DISABLE_AFTER_HOURS
        if hours and endpoint.is_active and lanes.lane_is_failing_for(lane, timedelta(hours=hours), now):
            deactivations[row.pk] = (
                Reason.FAILING,
                f"every attempt failed since {lane.failing_since:%Y-%m-%d %H:%M:%S} UTC ({hours} h or more)",
            )
    return deactivations


def _lane_outcomes(batch: list[Sent]) -> dict[int, list]:
    """Each lane's (delivery id, outcome) in batch order; test sends teach the lanes nothing."""
    outcomes_by_lane = defaultdict(list)
    for sent in batch:
        if not sent.delivery.is_test:
            outcomes_by_lane[sent.delivery.endpoint_id].append((sent.delivery.pk, sent.verdict.lane))
    return outcomes_by_lane


def _gone_endpoints_add(deactivations: dict, batch: list[Sent], now: datetime) -> None:
    """Add the endpoints that answered 410 Gone; one already there (failing for too long) keeps its reason."""
    for sent in batch:
        if sent.verdict.gone and not sent.delivery.is_test:
            deactivations.setdefault(sent.delivery.endpoint_id, _gone(sent, now))


def _gone(sent: Sent, now: datetime) -> tuple[str, str]:
    return Reason.GONE, f"HTTP 410 Gone answered to delivery #{sent.delivery.pk} at {now:%Y-%m-%d %H:%M:%S} UTC"


def _delivery_move(sent: Sent, schedule: list[int], deactivations: dict, now: datetime) -> dict | None:
    """Move the delivery to its next state, if the claim still holds it; that state."""
    delivery, result, verdict = sent.delivery, sent.tries[-1].result, sent.verdict
    inactive = delivery.endpoint_id in deactivations or not delivery.endpoint.is_active
    retry_after = retry_after_seconds(result.headers.get("retry-after"), now)
    state = _next_state(delivery, verdict, schedule, retry_after, paused=inactive, now=now)
    changes = {
        **state, "last_status_code": result.status_code, "failure_reason": verdict.reason,
        "last_error": "" if verdict.succeeded else _error_text(result),
        "attempt_count": F("attempt_count") + len(sent.tries) - 1, "claim_token": "", "lease_expires_at": None,
        "updated_at": now,
    }
    if sent.payload_json:
        changes["payload_json"] = sent.payload_json
    moved = _held(delivery.pk, sent.claim).update(**changes)
    return state if moved else None


def _next_state(delivery, verdict: outcomes.Verdict, schedule, retry_after: float | None, *, paused: bool, now) -> dict:
    if verdict.succeeded:
        return {"status": Status.SUCCEEDED, "next_attempt_at": None, "completed_at": now}
    if verdict.gone and not delivery.is_test:
        return {"status": Status.PAUSED, "next_attempt_at": now, "completed_at": None}
    retry_in = retry_delay(schedule, delivery.series_attempt_count, retry_after) if verdict.retryable else None
    if retry_in is None:
        return {"status": Status.FAILED, "next_attempt_at": None, "completed_at": now}
    waiting = Status.PAUSED if paused and not delivery.is_test else Status.PENDING
    return {"status": waiting, "next_attempt_at": now + timedelta(seconds=retry_in), "completed_at": None}


def _held(delivery_id: int, claim: Claim):
    return WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SENDING, claim_token=claim.token)


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
    schedule = DeliverySettings.load().retry_schedule_seconds
    with transaction.atomic():
        state = _next_state(delivery, verdict, schedule, None, paused=not delivery.endpoint.is_active, now=now)
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
            lanes_learn({delivery.endpoint_id: [(delivery.pk, lanes.Outcome.FAILURE)]}, now)
    logger.warning(
        "WEBHOOK_SENDER: Error sending webhook to %s: delivery #%s interrupted (%s); %s", delivery.endpoint.name,
        delivery.pk, reason, "giving up" if state["status"] == Status.FAILED else "back in the queue",
    )
    return True


# --- log lines ---------------------------------------------------------------------------------------------
def _log_recorded(sent: Sent, verdict: outcomes.Verdict, state: dict | None, now: datetime) -> None:
    delivery, endpoint = sent.delivery, sent.delivery.endpoint
    number = sent.claim.attempt + len(sent.tries) - 1
    for index, one in enumerate(sent.tries[:-1]):
        _log_failure(delivery, sent.claim.attempt + index, one.result, outcomes.UNSUPPORTED_MEDIA_TYPE,
                     "trying the other mode now")
    result = sent.tries[-1].result
    status = state["status"] if state else None
    if status is None:
        logger.warning(
            "WEBHOOK_SENDER: delivery #%s was taken back while this worker still sent it (lease expired); "
            "its state is left to the new attempt", delivery.pk,
        )
    elif verdict.succeeded:
        logger.info(
            "WEBHOOK_SENDER: Webhook sent successfully to %s (%s): delivery #%s attempt %s, HTTP %s in %d ms",
            endpoint.name, endpoint.url_masked, delivery.pk, number, result.status_code, result.duration_ms,
        )
    elif status == Status.FAILED:
        _log_failure(delivery, number, result, verdict.reason, "giving up")
    elif status == Status.PAUSED:
        _log_failure(delivery, number, result, verdict.reason, "paused until the endpoint is active again")
    else:
        retry_in = (state["next_attempt_at"] - now).total_seconds()
        _log_failure(delivery, number, result, verdict.reason, f"retry in {retry_in:.0f} s")


def _log_failure(delivery, number: int, result: HttpResult, reason: str, then: str) -> None:
    endpoint = delivery.endpoint
    logger.warning(
        "WEBHOOK_SENDER: Error sending webhook to %s (%s): delivery #%s attempt %s, %s (%s); %s",
        endpoint.name, endpoint.url_masked, delivery.pk, number,
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
