"""The legacy history read (`GET /api/webhook_logs`): deliveries and e-mails skipped for lack of links,
in the shape the legacy dashboard's scripts expect."""

from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from ingress.models import InboundEmail
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.payloads import test_payload_build

LEGACY_LOGS_DEFAULT_LIMIT = 50
LEGACY_URL_CHARS = 50
LEGACY_SUBJECT_CHARS = 100
LEGACY_TEXT_CHARS = 200
LEGACY_SKIPPED_MESSAGE = "No delivery links detected; skipping per config"
LEGACY_TEST_EMAIL_ID = "test-webhook"
LEGACY_MODES = {WebhookEndpoint.DeliveryMode.JSON: "json", WebhookEndpoint.DeliveryMode.LEGACY_FORM_HEADER: "form"}
LEGACY_STATUSES = ("success", "error", "skipped")


def _legacy_url(url: str | None) -> str | None:
    if not url:
        return None
    return url[:LEGACY_URL_CHARS] + "..." if len(url) > LEGACY_URL_CHARS else url


def _legacy_mode(mode: str) -> str:
    return LEGACY_MODES.get(mode, mode)


def _legacy_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _legacy_entry(**fields) -> dict:
    entry = {
        "timestamp": None,
        "type": "custom",
        "email_id": None,
        "status": None,
        "status_code": None,
        "webhook_url": None,
        "subject": None,
        "delivery_mode": None,
        "attempted_delivery_modes": None,
        "fallback_used": None,
        "payload_size_bytes": None,
        "error_message": None,
        "response_snippet": None,
        "failure_reason": None,
        "delivery_id": None,
        "endpoint": None,
        "delivery_status": None,
        "attempts": None,
    }
    entry.update(fields)
    return entry


def _delivery_entry(delivery: WebhookDelivery) -> dict | None:
    """The delivery's latest finished attempt, in the legacy form; None while its only attempt is in flight.

    Everything comes from the attempt itself: a replay clears the delivery's summary fields until its
    next attempt finishes, but the history of what happened stays true.
    """
    attempts = list(delivery.attempts.all())  # finished ones, in order
    if not attempts:
        return None
    last = attempts[-1]
    modes = list(dict.fromkeys(_legacy_mode(a.delivery_mode) for a in attempts))
    email_id, subject = _delivery_email(delivery)
    return _legacy_entry(
        timestamp=_legacy_time(last.finished_at),
        email_id=email_id,
        status="success" if last.succeeded else "error",
        status_code=last.status_code,
        webhook_url=_legacy_url(last.url),
        subject=subject[:LEGACY_SUBJECT_CHARS] if subject else None,
        delivery_mode=_legacy_mode(last.delivery_mode),
        attempted_delivery_modes=modes,
        fallback_used=len(modes) > 1,
        payload_size_bytes=last.request_size,
        **_failure_fields(last),
        delivery_id=delivery.pk,
        endpoint=delivery.endpoint.name,
        delivery_status=delivery.status,
        attempts=delivery.attempt_count,
    )


def _delivery_email(delivery: WebhookDelivery) -> tuple[str, str]:
    """(email_id, subject) of the delivery's e-mail; a test delivery has none and shows the test payload's."""
    if delivery.email_id:
        return delivery.email.email_id, delivery.email.subject
    return LEGACY_TEST_EMAIL_ID, test_payload_build(delivery.endpoint.name, "")["subject"]


def _failure_fields(attempt: DeliveryAttempt) -> dict:
    """The error fields of a failed attempt; none for a success (the entry then keeps them null)."""
    if attempt.succeeded:
        return {}
    return {
        "error_message": attempt.error[:LEGACY_TEXT_CHARS] or "Unknown error",
        "response_snippet": attempt.response_snippet[:LEGACY_TEXT_CHARS],
        "failure_reason": attempt.failure_reason or None,
    }


def _skipped_entry(email: InboundEmail, default_url: str | None) -> dict:
    return _legacy_entry(
        timestamp=_legacy_time(email.received_at),
        email_id=email.email_id,
        status="skipped",
        status_code=204,
        webhook_url=_legacy_url(default_url),
        subject=email.subject[:LEGACY_SUBJECT_CHARS] or None,
        error_message=LEGACY_SKIPPED_MESSAGE,
    )


def webhook_logs_legacy(
    *, days: int, limit: int = LEGACY_LOGS_DEFAULT_LIMIT, status: str | None = None, email_id: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """The legacy history: one entry per delivery with a finished attempt (its latest outcome), plus one
    `skipped` entry per e-mail skipped for lack of links; newest first, at most `limit`.

    Three or four queries whatever `limit` is.
    """
    since = (now or timezone.now()) - timedelta(days=days)
    entries: list[dict] = []
    if status in (None, "success", "error"):
        entries += _delivery_entries(since, limit, status, email_id)
    if status in (None, "skipped"):
        entries += _skipped_entries(since, limit, email_id)
    entries.sort(key=lambda entry: entry["timestamp"], reverse=True)
    return entries[:limit]


def _delivery_entries(since: datetime, limit: int, status: str | None, email_id: str | None) -> list[dict]:
    deliveries = _deliveries_attempted(since)
    if status == "success":
        deliveries = deliveries.filter(status=WebhookDelivery.Status.SUCCEEDED)
    elif status == "error":
        deliveries = deliveries.exclude(status=WebhookDelivery.Status.SUCCEEDED)
    if email_id:
        deliveries = deliveries.filter(email__email_id=email_id)
    return [entry for entry in map(_delivery_entry, deliveries[:limit]) if entry and status in (None, entry["status"])]


def _deliveries_attempted(since: datetime) -> QuerySet[WebhookDelivery]:
    """Deliveries attempted since `since`, newest first, with their finished attempts: two queries."""
    return (
        WebhookDelivery.objects.filter(attempt_count__gt=0, last_attempt_at__gte=since)
        .select_related("endpoint", "email")
        .only("id", "status", "email", "endpoint", "endpoint__name", "email__email_id", "email__subject",
              "attempt_count", "last_attempt_at")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=DeliveryAttempt.objects.filter(finished_at__isnull=False).only(
                    "id", "delivery_id", "number", "finished_at", "url", "delivery_mode", "request_size",
                    "status_code", "response_snippet", "error", "failure_reason", "succeeded",
                ).order_by("number"),
            )
        )
        .order_by("-last_attempt_at", "-id")
    )


def _skipped_entries(since: datetime, limit: int, email_id: str | None) -> list[dict]:
    skipped = InboundEmail.objects.filter(
        status=InboundEmail.Status.SKIPPED_NO_LINKS, received_at__gte=since
    ).only("id", "email_id", "subject", "received_at").order_by("-received_at", "-id")
    if email_id:
        skipped = skipped.filter(email_id=email_id)
    skipped = list(skipped[:limit])
    if not skipped:
        return []
    default_url = WebhookEndpoint.objects.filter(is_default=True).values_list("url", flat=True).first()
    return [_skipped_entry(email, default_url) for email in skipped]
