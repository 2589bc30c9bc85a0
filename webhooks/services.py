"""Delivery writes (SPEC §7): creating, sending, retrying, recovering and replaying deliveries.

A delivery moves through explicit states, each move a conditional UPDATE, so two workers (or a worker
and the sweep) can never both act on the same attempt:

    pending --claim (due, still pending)--> sending
    sending --answer, same claim token--> succeeded | failed | pending (next_attempt_at = retry time)
    sending --lease expired (worker died), by the sweep--> pending | failed
    succeeded | failed --replay--> pending (new attempt series, same webhook-id)
    pending --endpoint deactivated--> failed (endpoint_inactive), when its turn comes

Retries are never slept on: the next attempt is a task enqueued with `run_after`, in the same
transaction that records the answer.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.tasks import TaskResultStatus
from django.utils import timezone

from signal_server.inserts import row_insert
from webhooks import outcomes, signing
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookSettings
from webhooks.payloads import payload_build, test_payload_build
from webhooks.schedule import retry_after_seconds, retry_delay
from webhooks.transport import HttpResult, webhook_post

logger = logging.getLogger("webhooks")

Status = WebhookDelivery.Status
CONTENT_TYPES = {
    WebhookEndpoint.DeliveryMode.JSON: "application/json",
    WebhookEndpoint.DeliveryMode.LEGACY_FORM_HEADER: "application/x-www-form-urlencoded",
}
REDACTED = "***"
REDACTED_HEADERS = {"webhook-signature", "authorization", "proxy-authorization", "cookie", "x-api-key"}
SNIPPET_BYTES = 1024
# A task may run a moment before its delivery's due time (clocks of several hosts); within this it sends.
CLAIM_EARLY_TOLERANCE = timedelta(seconds=2)
# Lease while the payload is prepared (file offload of §8 can take minutes), then per HTTP try:
# the endpoint timeout (the transport's hard bound) plus a little for the database writes around it.
PREPARE_LEASE = timedelta(minutes=10)
TRY_LEASE_SLACK = timedelta(seconds=5)
# The sweep waits this long past a lease or a due time before acting (clock skew, a busy worker).
SWEEP_GRACE_SECONDS = 30.0
SWEEP_BATCH = 500


class DeliveryNotReplayable(Exception):
    """The delivery cannot be replayed now (it is pending or being sent, or its endpoint is inactive)."""


class ClaimLost(Exception):
    """The sweep recovered this delivery while the worker still held it (its lease had expired)."""


class WorkerLost(Exception):
    """Recorded on a task row whose worker stopped while running it (the sweep recovered its delivery)."""


@dataclass(frozen=True)
class SweepResult:
    recovered: int
    requeued: int


# --- creating ----------------------------------------------------------------------------------------------
def deliveries_create(email, targets, *, run_after: datetime | None = None) -> list[WebhookDelivery]:
    """One pending delivery per target endpoint, enqueued in the caller's transaction."""
    due = run_after or timezone.now()
    deliveries = [
        row_insert(WebhookDelivery(email=email, endpoint_id=target.endpoint_id, routing_rule=target.rule, next_attempt_at=due))
        for target in targets
    ]
    for delivery in deliveries:
        _enqueue(delivery.pk, run_after)
    return deliveries


def endpoint_test_send(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery (is_test, no e-mail) with the test payload, sent and recorded like any other."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            is_test=True,
            payload=test_payload_build(endpoint.name, now.isoformat(timespec="seconds")),
            next_attempt_at=now,
        )
        _enqueue(delivery.pk, now)
    logger.info("WEBHOOK_SENDER: test webhook queued for %s (delivery #%s)", endpoint.name, delivery.pk)
    return delivery


def _enqueue(delivery_id: int, run_after: datetime | None = None) -> None:
    """A send task for the delivery, due at `run_after` (None: as soon as a worker is free)."""
    from webhooks.tasks import delivery_send_task

    task = delivery_send_task if run_after is None else delivery_send_task.using(run_after=run_after)
    task.enqueue(delivery_id)


# --- sending -----------------------------------------------------------------------------------------------
def delivery_send(delivery_id: int) -> str | None:
    """Run one scheduled attempt (plus the immediate 415 fallback) and record it; None if there was nothing to do."""
    claimed = _delivery_claim(delivery_id)
    if claimed is None or isinstance(claimed, str):
        return claimed
    delivery, token = claimed
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
            attempt = _attempt_begin(delivery, token, mode, headers, len(body), save_payload=save_payload)
            save_payload = False
            result = webhook_post(
                endpoint.url, body=body, headers=headers, timeout=endpoint.timeout_seconds,
                verify_tls=endpoint.verify_tls,
            )
            if result.status_code == 415 and index + 1 < len(modes):
                _attempt_close(attempt, result, succeeded=False, reason=outcomes.UNSUPPORTED_MEDIA_TYPE)
                _log_failure(delivery, attempt, result, outcomes.UNSUPPORTED_MEDIA_TYPE, "trying the other mode now")
                continue
            return _attempt_settle(delivery, token, attempt, result)
    except ClaimLost:
        logger.warning(
            "WEBHOOK_SENDER: delivery #%s was recovered by the sweep while this worker still sent it "
            "(lease expired); its state is left to the new attempt",
            delivery.pk,
        )
    return None


def _delivery_claim(delivery_id: int) -> tuple[WebhookDelivery, str] | str | None:
    """Take a due pending delivery: (delivery, claim token); a status string when settled without sending."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Status.PENDING:
        return None
    now = timezone.now()
    if delivery.next_attempt_at and delivery.next_attempt_at > now + CLAIM_EARLY_TOLERANCE:
        # Ran early (a duplicate task, or another host's clock): make sure one task waits for the due time.
        if not _tasks_queued([delivery.pk]):
            _enqueue(delivery.pk, delivery.next_attempt_at)
        return None
    pending_and_due = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + CLAIM_EARLY_TOLERANCE)
    )
    if not delivery.endpoint.is_active and not delivery.is_test:
        settled = pending_and_due.update(
            status=Status.FAILED, failure_reason=outcomes.ENDPOINT_INACTIVE, next_attempt_at=None,
            last_error=f"endpoint {delivery.endpoint.name} is inactive", completed_at=now, updated_at=now,
        )
        if settled:
            logger.warning(
                "WEBHOOK_SENDER: Error sending webhook to %s: delivery #%s not sent, the endpoint is inactive",
                delivery.endpoint.name, delivery.pk,
            )
        return Status.FAILED if settled else None
    token = uuid.uuid4().hex
    lease = now + (PREPARE_LEASE if not delivery.payload_json else _try_lease(delivery.endpoint))
    claimed = pending_and_due.update(
        status=Status.SENDING, claim_token=token, lease_expires_at=lease,
        series_attempt_count=F("series_attempt_count") + 1, updated_at=now,
    )
    if not claimed:
        return None
    delivery.status, delivery.claim_token, delivery.lease_expires_at = Status.SENDING, token, lease
    delivery.series_attempt_count += 1
    return delivery, token


def _try_lease(endpoint: WebhookEndpoint) -> timedelta:
    return timedelta(seconds=endpoint.timeout_seconds) + TRY_LEASE_SLACK


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


def _attempt_begin(delivery, token, mode, headers, size, *, save_payload: bool) -> DeliveryAttempt:
    """Record the try before it goes out, so a worker dying mid-request leaves a visible trace."""
    now = timezone.now()
    changes = {
        "attempt_count": F("attempt_count") + 1,
        "last_attempt_at": now,
        "lease_expires_at": now + _try_lease(delivery.endpoint),
        "updated_at": now,
    }
    if save_payload:
        changes["payload_json"] = delivery.payload_json
    with transaction.atomic():
        if not WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claim_token=token).update(
            **changes
        ):
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


def _attempt_close(attempt: DeliveryAttempt, result: HttpResult, *, succeeded: bool, reason: str) -> None:
    attempt.finished_at = timezone.now()
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.response_snippet = _snippet(result.text)
    attempt.succeeded = succeeded
    attempt.failure_reason = reason
    attempt.error = "" if succeeded else _error_text(result)
    attempt.save(
        update_fields=[
            "finished_at", "duration_ms", "status_code", "response_snippet", "succeeded", "failure_reason", "error",
        ]
    )


def _attempt_settle(delivery: WebhookDelivery, token: str, attempt: DeliveryAttempt, result: HttpResult) -> str:
    """Record the answer and move the delivery on: succeeded, failed, or pending with its retry enqueued."""
    endpoint = delivery.endpoint
    succeeded = result.status_code is not None and outcomes.response_is_success(
        result.status_code, result.text, endpoint.success_requires_json
    )
    if succeeded:
        reason = ""
    elif result.blocked:
        reason = outcomes.BLOCKED_TARGET
    else:
        reason = outcomes.failure_reason_classify(result.status_code, result.text)
    now = timezone.now()
    retry_in = None
    if not succeeded and not result.blocked and outcomes.status_is_retryable(result.status_code):
        schedule = WebhookSettings.load().retry_schedule_seconds
        retry_in = retry_delay(
            schedule, delivery.series_attempt_count, retry_after_seconds(result.headers.get("retry-after"), now)
        )
    if succeeded:
        state = {"status": Status.SUCCEEDED, "next_attempt_at": None, "completed_at": now}
    elif retry_in is not None:
        state = {"status": Status.PENDING, "next_attempt_at": now + timedelta(seconds=retry_in), "completed_at": None}
    else:
        state = {"status": Status.FAILED, "next_attempt_at": None, "completed_at": now}
    error = "" if succeeded else _error_text(result)
    with transaction.atomic():
        _attempt_close(attempt, result, succeeded=succeeded, reason=reason)
        moved = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claim_token=token).update(
            **state, last_status_code=result.status_code, last_error=error, failure_reason=reason,
            claim_token="", lease_expires_at=None, updated_at=now,
        )
        if moved and state["status"] == Status.PENDING:
            _enqueue(delivery.pk, state["next_attempt_at"])
        if moved and result.status_code == 410:
            _endpoint_gone(endpoint, delivery, now)
    if not moved:
        # The attempt keeps what really happened; the delivery belongs to whoever holds it now.
        raise ClaimLost(delivery.pk)
    if succeeded:
        logger.info(
            "WEBHOOK_SENDER: Webhook sent successfully to %s (%s): delivery #%s attempt %s, HTTP %s in %d ms",
            endpoint.name, endpoint.url_masked, delivery.pk, attempt.number, result.status_code, result.duration_ms,
        )
    elif retry_in is not None:
        _log_failure(delivery, attempt, result, reason, f"retry in {retry_in:.0f} s")
    else:
        _log_failure(delivery, attempt, result, reason, "giving up")
    return state["status"]


def _endpoint_gone(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> None:
    """410 Gone: the receiver says this URL is retired for good; stop sending to it (and stop it being default)."""
    from ingress.selectors import ingress_config_invalidate

    if WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, is_default=False, deactivated_at=now, updated_at=now,
        deactivated_reason=f"HTTP 410 Gone answered to delivery #{delivery.pk} at {now:%Y-%m-%d %H:%M:%S} UTC",
    ):
        ingress_config_invalidate()
        logger.warning("WEBHOOK_SENDER: endpoint %s deactivated: it answered 410 Gone", endpoint.name)


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


# --- recovering (the sweep) --------------------------------------------------------------------------------
def deliveries_sweep(*, grace: float = SWEEP_GRACE_SECONDS) -> SweepResult:
    """One pass: recover deliveries whose worker died mid-attempt, re-enqueue due deliveries that lost their task.

    Acting only `grace` seconds past a lease or due time leaves live workers alone; every change is
    conditional, so running several sweeps at once is harmless.
    """
    cutoff = timezone.now() - timedelta(seconds=grace)
    stuck = WebhookDelivery.objects.filter(status=Status.SENDING).filter(
        Q(lease_expires_at__lt=cutoff) | Q(lease_expires_at__isnull=True, updated_at__lt=cutoff - PREPARE_LEASE)
    )
    recovered = sum(
        _delivery_recover(pk, token)
        for pk, token in stuck.order_by("lease_expires_at").values_list("pk", "claim_token")[:SWEEP_BATCH]
    )
    return SweepResult(recovered=recovered, requeued=_deliveries_requeue(cutoff))


def _delivery_recover(delivery_id: int, token: str) -> bool:
    """Close the interrupted try and put the delivery back on its schedule (or fail it when none is left)."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").only(
        "pk", "series_attempt_count", "endpoint__name"
    ).get(pk=delivery_id)
    retry_in = retry_delay(WebhookSettings.load().retry_schedule_seconds, delivery.series_attempt_count)
    error = "interrupted: the worker stopped during this attempt, before the answer was recorded"
    if retry_in is None:
        state = {"status": Status.FAILED, "next_attempt_at": None, "completed_at": now}
    else:
        state = {"status": Status.PENDING, "next_attempt_at": now + timedelta(seconds=retry_in)}
    with transaction.atomic():
        moved = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SENDING, claim_token=token).update(
            **state, failure_reason=outcomes.REQUEST_FAILED, last_error=error, last_status_code=None,
            claim_token="", lease_expires_at=None, updated_at=now,
        )
        if not moved:
            return False
        DeliveryAttempt.objects.filter(delivery_id=delivery_id, finished_at__isnull=True).update(
            finished_at=now, error=error, failure_reason=outcomes.REQUEST_FAILED, succeeded=False
        )
        _worker_tasks_orphaned_close(delivery_id, now)
        if state["status"] == Status.PENDING:
            _enqueue(delivery_id, state["next_attempt_at"])
    logger.warning(
        "WEBHOOK_SENDER: Error sending webhook to %s: delivery #%s interrupted (worker stopped mid-attempt); %s",
        delivery.endpoint.name, delivery_id, "giving up" if retry_in is None else f"retry in {retry_in:.0f} s",
    )
    return True


def _worker_tasks_orphaned_close(delivery_id: int, now: datetime) -> None:
    """The dead worker's task row stays RUNNING forever otherwise; mark it failed so queue views stay true."""
    from django_tasks_db.models import DBTaskResult

    from webhooks.tasks import delivery_send_task

    DBTaskResult.objects.filter(
        task_path=delivery_send_task.module_path, status=TaskResultStatus.RUNNING, args_kwargs__args__0=delivery_id
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback="The worker stopped while running this task; the delivery sweep recovered the delivery.\n",
    )


def _tasks_queued(delivery_ids: list[int]) -> set[int]:
    """Which of these deliveries have a send task waiting in the queue."""
    from django_tasks_db.models import DBTaskResult

    from webhooks.tasks import delivery_send_task

    return set(
        DBTaskResult.objects.filter(
            task_path=delivery_send_task.module_path,
            status=TaskResultStatus.READY,
            args_kwargs__args__0__in=delivery_ids,
        ).values_list("args_kwargs__args__0", flat=True)
    )


def _deliveries_requeue(cutoff: datetime) -> int:
    """Pending deliveries overdue by the grace period with no queued task (e.g. task rows pruned) get one."""
    overdue = list(
        WebhookDelivery.objects.filter(status=Status.PENDING)
        .filter(Q(next_attempt_at__lte=cutoff) | Q(next_attempt_at__isnull=True, updated_at__lte=cutoff))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "next_attempt_at")[:SWEEP_BATCH]
    )
    if not overdue:
        return 0
    queued = _tasks_queued([pk for pk, _ in overdue])
    missing = [(pk, due) for pk, due in overdue if pk not in queued]
    now = timezone.now()
    for pk, due in missing:
        # Enqueued at its own due time, so the worker keeps schedule order among the re-enqueued ones.
        _enqueue(pk, due or now)
    if missing:
        logger.warning("WEBHOOK_SENDER: re-enqueued %d due deliveries that had no queued task", len(missing))
    return len(missing)


# --- replaying ---------------------------------------------------------------------------------------------
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
    now = timezone.now()
    with transaction.atomic():
        reopened = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=[Status.SUCCEEDED, Status.FAILED]
        ).update(**_reopen_changes(now))
        if reopened:
            _enqueue(delivery.pk, now)
    delivery.refresh_from_db()
    if not reopened:
        raise DeliveryNotReplayable(
            f"Delivery #{delivery.pk} is {delivery.status}; only succeeded or failed deliveries can be replayed."
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
    for start in range(0, len(ids), SWEEP_BATCH):
        batch = ids[start : start + SWEEP_BATCH]
        now = timezone.now()
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk__in=batch, status=Status.FAILED).update(**_reopen_changes(now))
            # Exactly the rows this UPDATE re-opened: they are locked by it until commit.
            reopened = set(
                WebhookDelivery.objects.filter(pk__in=batch, status=Status.PENDING, replayed_at=now).values_list(
                    "pk", flat=True
                )
            )
            for pk in batch:
                if pk in reopened:
                    _enqueue(pk, now)
        count += len(reopened)
    logger.info(
        "WEBHOOK_SENDER: replayed %d failed deliveries to %s created %s to %s",
        count, endpoint.name, since.isoformat(timespec="seconds"), until.isoformat(timespec="seconds"),
    )
    return count


# --- endpoints ---------------------------------------------------------------------------------------------
def endpoints_activate(endpoints) -> int:
    from ingress.selectors import ingress_config_invalidate

    count = endpoints.filter(is_active=False).update(
        is_active=True, deactivated_reason="", deactivated_at=None, updated_at=timezone.now()
    )
    ingress_config_invalidate()
    return count


def endpoints_deactivate(endpoints, *, reason: str) -> int:
    """Deactivate the given endpoints except the default one (ingress needs it; choose another default first)."""
    from ingress.selectors import ingress_config_invalidate

    now = timezone.now()
    count = endpoints.filter(is_active=True, is_default=False).update(
        is_active=False, deactivated_reason=reason[:200], deactivated_at=now, updated_at=now
    )
    ingress_config_invalidate()
    return count


def config_seed_from_env() -> list[str]:
    """Seed what the environment offers, once: the default endpoint and the settings row."""
    notes = []
    if not WebhookSettings.objects.exists():
        prefs = WebhookSettings(sender_allowlist=list(settings.GMAIL_SENDER_ALLOWLIST))
        prefs.full_clean()
        prefs.save()
        notes.append(
            f"Created webhook settings (time zone {prefs.time_zone}, {len(prefs.sender_allowlist)} allowed senders)."
        )
    if settings.WEBHOOK_URL and not WebhookEndpoint.objects.exists():
        endpoint = WebhookEndpoint(name="default", url=settings.WEBHOOK_URL, is_default=True)
        try:
            endpoint.full_clean()
        except ValidationError as exc:
            notes.append(f"WEBHOOK_URL not used: {'; '.join(exc.messages)}")
        else:
            endpoint.save()
            notes.append(f"Created the default endpoint from WEBHOOK_URL ({endpoint.url_masked}).")
    return notes
