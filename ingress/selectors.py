"""Ingress reads: whether an e-mail was seen before, and the history of inbound e-mails."""

from django.db.models import Count, Prefetch, Q
from django.db.models.functions import TruncHour

from ingress.models import InboundEmail
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
    """Sender, subject and raw body of a recorded e-mail (by primary key), to test the routing rules on."""
    if not str(email_pk or "").isdigit():
        return None
    email = InboundEmail.objects.filter(pk=int(email_pk)).only("sender", "subject", "body").first()
    return {"sender": email.sender, "subject": email.subject, "body": email.body} if email else None


# --- History reads (REST API, admin, overview) ------------------------------------------------------


def _deliveries_prefetch():
    return Prefetch("deliveries", queryset=WebhookDelivery.objects.select_related("endpoint").defer("payload_json"))


def emails_list():
    """Newest first, without bodies, each with its deliveries and their endpoints (constant query count)."""
    return InboundEmail.objects.defer("body").prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


def email_detail_queryset():
    return InboundEmail.objects.prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


def email_counts_by_hour(since, tz) -> list[tuple]:
    """(local hour as a naive datetime, status, count) for e-mails received since `since`; one query.

    Hours are truncated in `tz` by the database, so buckets follow the configured zone (and its DST).
    """
    rows = (
        InboundEmail.objects.filter(received_at__gte=since)
        .annotate(hour=TruncHour("received_at", tzinfo=tz))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [(row["hour"].astimezone(tz).replace(tzinfo=None), row["status"], row["n"]) for row in rows]


def email_counts_by_provider(since, providers) -> dict[str, int]:
    """E-mails received since `since` that carry at least one link of each provider; one query.

    Each link is stored as {"provider": …}; matching that text works alike on SQLite and PostgreSQL JSON.
    """
    recent = InboundEmail.objects.filter(received_at__gte=since)
    return recent.aggregate(
        **{p: Count("pk", filter=Q(links__icontains=f'"provider": "{p}"')) for p in providers}
    )
