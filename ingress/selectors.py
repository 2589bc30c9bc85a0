"""Ingress reads: whether an e-mail was seen before, and the history of inbound e-mails."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch
from django.utils import timezone

from configuration.snapshot import ingress_config_get
from core.distributions import Histogram, histogram_by_group
from core.text import html_to_text
from ingress.detectors import email_detect
from ingress.links import links_extract
from ingress.models import InboundEmail
from routing.conditions import NO_DETECTOR, RoutableEmail, recipients_routed
from webhooks.models import WebhookDelivery


def email_is_known(email_id: str) -> bool:
    return InboundEmail.objects.filter(email_id=email_id, dedup_key=email_id).exists()


RECENT_EMAILS = 25


def emails_recent():
    """The latest inbound e-mails to test the routing rules on, without their bodies."""
    return InboundEmail.objects.only("id", "received_at", "subject", "sender_email").order_by("-received_at", "-id")[
        :RECENT_EMAILS
    ]


def email_sample_get(email_pk) -> dict | None:
    """A recorded e-mail (by primary key) as the test-rules form takes it: sender, subject, raw body, and the
    recipients and headers its script sent."""
    if not str(email_pk or "").isdigit():
        return None
    fields = ("sender", "subject", "body", "recipients", "headers")
    email = InboundEmail.objects.filter(pk=int(email_pk)).only(*fields).first()
    if email is None:
        return None
    headers = [(name, value) for name, values in email.headers.items() for value in _as_list(values)]
    return {
        "sender": email.sender,
        "subject": email.subject,
        "body": email.body,
        "recipients": "\n".join(recipients_routed(email.recipients)),
        "headers": "\n".join(f"{name}: {value}" for name, value in headers),
    }


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def routable_sample_build(sample: dict, *, now: datetime | None = None) -> RoutableEmail:
    """What ingress would know of a sample e-mail (the test-rules form's cleaned data): its detector, urgency
    and links are found as at ingress, from the body (or the links given), unless the sample sets them."""
    body = sample.get("body") or ""
    text = html_to_text(body)
    links = links_extract(sample.get("links") or body)
    now_local = (now or timezone.now()).astimezone(ZoneInfo(ingress_config_get().time_zone))
    detection = email_detect(sample.get("subject") or "", text, links, now_local)
    detector = sample.get("detector") or detection.detector
    return RoutableEmail.of(
        sender=sample.get("sender") or "",
        subject=sample.get("subject") or "",
        body_text=text,
        detector=None if detector == NO_DETECTOR else detector,
        is_urgent={"yes": True, "no": False}.get(sample.get("is_urgent"), detection.is_urgent),
        links=links,
        recipients={"to": sample.get("recipients") or []},
        headers=sample.get("headers") or {},
    )


# --- History reads (REST API, admin, overview) ------------------------------------------------------


def _deliveries_prefetch():
    return Prefetch("deliveries", queryset=WebhookDelivery.objects.select_related("endpoint").defer("payload_json"))


def emails_list():
    """Newest first, without bodies, each with its deliveries and their endpoints (constant query count)."""
    return InboundEmail.objects.defer("body").prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


def email_detail_queryset():
    return InboundEmail.objects.prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


# --- Answer times and counts (overview, /metrics) ------------------------------------------------------


def answer_ms_histogram(since, bounds_ms: tuple[int, ...]) -> Histogram | None:
    """Answer times (ms) of the e-mails received since `since` in cumulative buckets; None without any."""
    recent = InboundEmail.objects.filter(received_at__gte=since, answer_ms__isnull=False)
    histograms = histogram_by_group(recent, groups=(), value="answer_ms", bounds=bounds_ms)
    return histograms[0] if histograms and histograms[0].count else None


def email_counts_by_status() -> dict[str, int]:
    """Every recorded e-mail by status: one scan of the status index."""
    return dict(InboundEmail.objects.values_list("status").annotate(n=Count("pk")).order_by())


# --- Failures told back to Gmail (the Apps Script's SIGNAL_ECHEC label) ------------------------------------

FAILED_FOR_GOOD = (WebhookDelivery.Status.FAILED, WebhookDelivery.Status.CANCELLED)


@dataclass(frozen=True)
class GmailFailures:
    failed: list[dict]  # {message_id, email_id, status, endpoints, last_attempt_at}, newest e-mail first
    recovered: list[str]  # Gmail message ids
    truncated: bool


def gmail_failures_list(since: datetime, limit: int) -> GmailFailures:
    """E-mails received since `since`, with a Gmail message id, that are failed or recovered (at most `limit`).

    Failed: at least one delivery failed for good or cancelled. A replay re-opens that same delivery row,
    so one replayed to success is no longer failed. Recovered: no delivery failed, every one succeeded and
    at least one was replayed. Anything still pending, sending or paused is neither.
    One walk of the received_at index (newest first, stopping at `limit`) with lookups by e-mail in the
    one_delivery_per_email_endpoint index, then one query for the failed deliveries of what it found.
    """
    deliveries = WebhookDelivery.objects.filter(email=OuterRef("pk"))
    has_failure = Exists(deliveries.filter(status__in=FAILED_FOR_GOOD))
    recovered = Exists(deliveries.filter(replayed_at__isnull=False)) & ~Exists(
        deliveries.exclude(status=WebhookDelivery.Status.SUCCEEDED)
    )
    rows = list(
        InboundEmail.objects.filter(received_at__gte=since)
        .exclude(message_id="")
        .filter(has_failure | recovered)
        .annotate(has_failure=has_failure)
        .order_by("-received_at", "-id")
        .values("pk", "message_id", "email_id", "has_failure")[: limit + 1]
    )
    rows, truncated = rows[:limit], len(rows) > limit
    failures = _failures_by_email([row["pk"] for row in rows if row["has_failure"]])
    failed: dict[str, dict] = {}
    for row in rows:
        if row["has_failure"]:
            entry = {"message_id": row["message_id"], "email_id": row["email_id"], **failures[row["pk"]]}
            failed.setdefault(row["message_id"], entry)
    # With deduplication off one Gmail message may have several records: any failed one keeps it failed.
    recovered_ids = dict.fromkeys(row["message_id"] for row in rows if not row["has_failure"])
    return GmailFailures(
        failed=list(failed.values()), recovered=[m for m in recovered_ids if m not in failed], truncated=truncated
    )


def _failures_by_email(email_pks: list[int]) -> dict[int, dict]:
    """{e-mail pk: {status, endpoints, last_attempt_at}} from their failed or cancelled deliveries."""
    rows = (
        WebhookDelivery.objects.filter(email_id__in=email_pks, status__in=FAILED_FOR_GOOD)
        .values("email_id", "status", "endpoint__name", "last_attempt_at")
        .order_by("email_id", "endpoint__name")
    )
    grouped: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["email_id"]].append(row)
    return {pk: _failure_summary(group) for pk, group in grouped.items()}


def _failure_summary(rows: list[dict]) -> dict:
    """"failed" when any delivery failed for good, "cancelled" when they were all cancelled."""
    failed = any(row["status"] == WebhookDelivery.Status.FAILED for row in rows)
    attempts = [row["last_attempt_at"] for row in rows if row["last_attempt_at"]]
    return {
        "status": WebhookDelivery.Status.FAILED.value if failed else WebhookDelivery.Status.CANCELLED.value,
        "endpoints": [row["endpoint__name"] for row in rows],
        "last_attempt_at": max(attempts, default=None),
    }
