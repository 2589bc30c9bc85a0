"""History retention: `manage.py purge_history --days N` removes what is older than N days, in batches."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ingress.models import InboundEmail
from transfers.models import LinkPair
from webhooks.models import DeliveryAttempt, WebhookDelivery

PURGE_BATCH_SIZE = 500
COUNT_NAMES = {
    InboundEmail: "emails",
    WebhookDelivery: "deliveries",
    DeliveryAttempt: "attempts",
    LinkPair: "link_pairs",
}


def _purgeable(cutoff: datetime) -> list[QuerySet]:
    """What may go, parents first. Nothing still in flight or touched since the cutoff goes.

    An old e-mail stays while any of its deliveries is unfinished, or was created or attempted since
    the cutoff (a re-run or a replay): its history is still being written.
    """
    unfinished = [WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING, WebhookDelivery.Status.PAUSED]
    recent = Q(status__in=unfinished) | Q(created_at__gte=cutoff) | Q(last_attempt_at__gte=cutoff)
    emails_in_use = WebhookDelivery.objects.filter(recent, email__isnull=False).values("email_id")
    return [
        InboundEmail.objects.filter(received_at__lt=cutoff).exclude(pk__in=emails_in_use),
        WebhookDelivery.objects.filter(email__isnull=True, created_at__lt=cutoff).exclude(recent),  # test sends
        LinkPair.objects.filter(created_at__lt=cutoff),
    ]


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_NAMES.values(), 0)


def history_purge(days: int, *, batch_size: int = PURGE_BATCH_SIZE, now: datetime | None = None) -> dict[str, int]:
    """Delete history older than `days` days in batches (one short transaction each); counts per kind.

    Deliveries and attempts go with their e-mail (cascade).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    counts = _empty_counts()
    for queryset in _purgeable(cutoff):
        while True:
            batch = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                # The conditions are checked again at delete time: a row that came back in use stays.
                deleted, per_model = queryset.filter(pk__in=batch).delete()
            for label, count in per_model.items():
                counts[COUNT_NAMES[_model_for(label)]] += count
            if not deleted:
                break
    return counts


def history_purge_preview(days: int, *, now: datetime | None = None) -> dict[str, int]:
    """What `history_purge` would delete now, without deleting anything."""
    if days < 1:
        raise ValueError("days must be at least 1")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    emails, test_deliveries, link_pairs = _purgeable(cutoff)
    deliveries = WebhookDelivery.objects.filter(Q(email__in=emails) | Q(pk__in=test_deliveries.values("pk")))
    return {
        "emails": emails.count(),
        "deliveries": deliveries.count(),
        "attempts": DeliveryAttempt.objects.filter(delivery__in=deliveries).count(),
        "link_pairs": link_pairs.count(),
    }


def _model_for(label: str):
    for model in COUNT_NAMES:
        if model._meta.label == label:
            return model
    raise KeyError(label)
