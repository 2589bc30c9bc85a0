"""`make bench-scale` seeds realistic history in bulk (bench/seed.py): what it writes, so the tool cannot rot."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from bench.seed import history_seed
from ingress.models import InboundEmail
from tests.history_factories import email_create
from webhooks.models import DeliveryAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

Status = InboundEmail.Status
Delivery = WebhookDelivery.Status


def test_seeding_writes_one_delivery_per_routed_email_with_one_or_two_attempts():
    seeded = history_seed(200)

    routed = InboundEmail.objects.filter(status__in=[Status.PROCESSED, Status.DEFERRED])
    assert (seeded.emails, seeded.deliveries) == (200, 180)
    assert InboundEmail.objects.count() == 200
    assert WebhookDelivery.objects.filter(email__in=routed).count() == routed.count() == 180
    assert DeliveryAttempt.objects.count() == seeded.attempts
    per_delivery = Counter(WebhookDelivery.objects.values_list("attempt_count", flat=True))
    assert set(per_delivery) <= {1, 2}
    assert seeded.attempts == sum(count * n for count, n in per_delivery.items())


def test_seeded_emails_follow_the_status_mix_per_hundred():
    history_seed(200)

    assert Counter(InboundEmail.objects.values_list("status", flat=True)) == {
        Status.PROCESSED: 170, Status.DEFERRED: 10, Status.SKIPPED_OUTSIDE_TIME_WINDOW: 10,
        Status.SKIPPED_NO_LINKS: 6, Status.SKIPPED_SENDER_NOT_ALLOWED: 4,
    }


def test_seeded_deliveries_succeed_fail_wait_and_are_cancelled_in_a_recent_history():
    history_seed(200, days=1)

    assert Counter(WebhookDelivery.objects.values_list("status", flat=True)) == {
        Delivery.SUCCEEDED: 162, Delivery.FAILED: 10, Delivery.PENDING: 4, Delivery.CANCELLED: 4,
    }


def test_only_emails_of_the_last_day_still_wait_for_a_retry():
    now = timezone.now()
    history_seed(200, now=now)

    waiting = WebhookDelivery.objects.filter(status=Delivery.PENDING).select_related("email")
    assert all(d.email.received_at > now - timedelta(days=1) and d.next_attempt_at > now for d in waiting)
    assert WebhookDelivery.objects.filter(status__in=[Delivery.FAILED, Delivery.PENDING]).count() == 14


def test_seeded_history_spans_ninety_days_in_id_order():
    now = timezone.now()
    history_seed(200, now=now)

    received = list(InboundEmail.objects.order_by("id").values_list("received_at", flat=True))
    assert received == sorted(received)
    assert now - timedelta(days=90) <= received[0] < now - timedelta(days=89)
    assert now - timedelta(days=1) < received[-1] <= now


def test_seeded_emails_carry_2_kb_bodies_with_provider_links_and_a_frozen_payload():
    history_seed(200)

    email = InboundEmail.objects.filter(status=Status.PROCESSED).first()
    delivery = email.deliveries.get()
    assert 1800 <= len(email.body) <= 2600
    assert email.links and email.links[0]["raw_url"].startswith("https://")
    assert delivery.payload["email_id"] == email.email_id
    assert delivery.payload["email_content"] == email.body


def test_rows_made_after_seeding_get_fresh_ids():
    history_seed(200)

    email = email_create()

    assert email.pk > 200
