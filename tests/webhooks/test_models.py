from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookEndpoint

# IPv6 spellings of loopback and link-local (cloud metadata) addresses that admin once accepted.
HIDDEN_IPV4_URLS = [
    "https://[::127.0.0.1]/hook",
    "https://[::7f00:1]/hook",
    "https://[::ffff:0:7f00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[64:ff9b::7f00:1]/hook",
]


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


# --- URL validation on save (admin and import_config run the model's own validation) ------------------------
@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.django_db
@pytest.mark.parametrize("url", HIDDEN_IPV4_URLS)
def test_an_ipv4_address_hidden_in_ipv6_is_refused_on_save(private_targets_refused, url):
    endpoint = WebhookEndpoint(name="acme", url=url)

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    assert "points to a non-public address" in " ".join(refused.value.message_dict["url"])


@pytest.mark.django_db
def test_a_nat64_address_of_a_public_ipv4_host_is_accepted_on_save(private_targets_refused):
    WebhookEndpoint(name="acme", url="https://[64:ff9b::808:808]/hook").full_clean()


@pytest.mark.django_db
def test_hidden_ipv4_addresses_are_accepted_when_private_targets_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    WebhookEndpoint(name="acme", url="https://[64:ff9b::7f00:1]/hook").full_clean()


@pytest.mark.parametrize("url", HIDDEN_IPV4_URLS)
def test_the_admin_form_refuses_an_ipv4_address_hidden_in_ipv6(private_targets_refused, admin_client, url):
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), {"name": "acme", "url": url})

    assert response.status_code == 200 and "points to a non-public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
