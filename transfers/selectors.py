"""Bucket copy reads: the link pairs by outcome (/metrics)."""

from django.db.models import Count

from transfers.models import LinkPair


def link_counts_by_status() -> dict[str, int]:
    """Every link pair by status (pending, stored, failed): one scan of the status index."""
    return dict(LinkPair.objects.values_list("status").annotate(n=Count("pk")).order_by())
