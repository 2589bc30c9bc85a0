from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from webhooks.models import WebhookDelivery


@pytest.fixture
def planner_prefers_indexes(db):
    """PostgreSQL scans a table of a few rows sequentially whatever its indexes; ask it to show its index."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")


def test_history_of_recent_attempts_reads_the_attempted_index(planner_prefers_indexes, make_delivery):
    now = timezone.now()
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=1, last_attempt_at=now)

    # The shape of webhook_logs_legacy: attempted since a date, newest attempt first.
    plan = (
        WebhookDelivery.objects.filter(attempt_count__gt=0, last_attempt_at__gte=now - timedelta(days=7))
        .order_by("-last_attempt_at", "-id")
        .explain()
    )

    assert "delivery_attempted_idx" in plan
