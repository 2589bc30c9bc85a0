"""Replaying deliveries from the API (SPEC §7, §9): one delivery, or an endpoint's failures in a time range."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from tests.factories import endpoint_create
from tests.history_factories import (
    delivery_create,
    email_create,
    failed_attempt,
    ok_attempt,
    staff_create,
    token_client,
)
from tests.queue import send_due
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

DELIVERIES = "/api/webhooks/deliveries/"
REPLAY_FAILED = f"{DELIVERIES}replay_failed/"


@pytest.fixture
def api():
    return token_client(staff_create("replayer", is_superuser=True))


def replay(api, delivery):
    return api.post(f"{DELIVERIES}{delivery.pk}/replay/")


def test_replaying_a_failed_delivery_reopens_it_and_the_worker_resends_it(api, receiver):
    endpoint = endpoint_create(url=receiver.url("/hook"))
    delivery = delivery_create(email_create(), endpoint, attempts=[failed_attempt(500)])
    response = replay(api, delivery)
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == delivery.pk and body["status"] == "pending" and body["series"] == 2
    assert send_due(delivery) == "succeeded"
    assert len(receiver.requests) == 1
    detail = api.get(f"{DELIVERIES}{delivery.pk}/").json()
    assert [(a["series"], a["succeeded"]) for a in detail["attempts"]] == [(1, False), (2, True)]


def test_a_succeeded_delivery_can_be_replayed_too(api):
    delivery = delivery_create(email_create(), attempts=[ok_attempt()])
    assert replay(api, delivery).status_code == 202


def test_a_delivery_still_pending_is_a_409_saying_why(api):
    delivery = delivery_create(email_create())
    response = replay(api, delivery)
    assert response.status_code == 409
    assert "only succeeded, failed or cancelled deliveries can be replayed" in response.json()["detail"]


def test_a_delivery_to_an_inactive_endpoint_is_a_409(api):
    delivery = delivery_create(email_create(), endpoint_create(is_active=False), attempts=[failed_attempt(500)])
    response = replay(api, delivery)
    assert response.status_code == 409 and "inactive" in response.json()["detail"]
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"


def test_an_unknown_delivery_is_a_404(api):
    assert api.post(f"{DELIVERIES}999999/replay/").status_code == 404


def test_replay_needs_the_change_permission_not_just_staff(api):
    delivery = delivery_create(email_create(), attempts=[failed_attempt(500)])
    reader = staff_create("reader")
    assert replay(token_client(reader), delivery).status_code == 403
    reader.user_permissions.add(Permission.objects.get(codename="change_webhookdelivery"))
    assert replay(token_client(reader), delivery).status_code == 202


def test_anonymous_replay_is_a_401(client):
    delivery = delivery_create(email_create(), attempts=[failed_attempt(500)])
    assert client.post(f"{DELIVERIES}{delivery.pk}/replay/").status_code == 401


def test_replay_is_post_only(api):
    delivery = delivery_create(email_create(), attempts=[failed_attempt(500)])
    assert api.get(f"{DELIVERIES}{delivery.pk}/replay/").status_code == 405


def test_replay_failed_reopens_only_that_endpoints_failures_in_the_range(api):
    now = timezone.now()
    billing, other = endpoint_create(name="billing"), endpoint_create(name="other")
    inside = delivery_create(
        email_create(), billing, created_at=now - timedelta(hours=2), attempts=[failed_attempt(500)]
    )
    delivery_create(email_create(), billing, created_at=now - timedelta(days=3), attempts=[failed_attempt(500)])
    delivery_create(email_create(), billing, created_at=now - timedelta(hours=1), attempts=[ok_attempt()])
    delivery_create(email_create(), other, created_at=now - timedelta(hours=1), attempts=[failed_attempt(500)])
    response = api.post(
        REPLAY_FAILED,
        {"endpoint": "billing", "since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()},
        format="json",
    )
    assert response.status_code == 202, response.json()
    assert response.json()["replayed"] == 1
    assert response.json()["endpoint"] == {"id": billing.pk, "name": "billing"}
    assert list(WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True)) == [inside.pk]


def test_replay_failed_takes_an_endpoint_id(api):
    endpoint = endpoint_create()
    delivery_create(email_create(), endpoint, attempts=[failed_attempt(500)])
    now = timezone.now()
    body = {"endpoint": endpoint.pk, "since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    assert api.post(REPLAY_FAILED, body, format="json").json()["replayed"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint": "nope", "since": "2026-04-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"}, "endpoint"),
        ({"endpoint": "billing", "since": "2026-04-02T00:00:00Z", "until": "2026-04-01T00:00:00Z"}, "until"),
        ({"endpoint": "billing", "since": "yesterday", "until": "2026-04-01T00:00:00Z"}, "since"),
        ({"endpoint": "billing", "since": "0001-01-01T00:00:00+05:00", "until": "2026-04-01T00:00:00Z"}, "since"),
        ({"since": "2026-04-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"}, "endpoint"),
    ],
)
def test_replay_failed_refuses_bad_input_naming_the_field(api, body, field):
    endpoint_create(name="billing")
    response = api.post(REPLAY_FAILED, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_replay_failed_to_an_inactive_endpoint_is_a_409(api):
    endpoint_create(name="old", is_active=False)
    now = timezone.now()
    body = {"endpoint": "old", "since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()}
    response = api.post(REPLAY_FAILED, body, format="json")
    assert response.status_code == 409 and "inactive" in response.json()["detail"]


@pytest.mark.parametrize("reference", ["²", "99999999999999999999999"])
def test_replay_failed_with_a_strange_endpoint_reference_is_a_400(api, reference):
    body = {"endpoint": reference, "since": "2026-04-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"}
    response = api.post(REPLAY_FAILED, body, format="json")
    assert response.status_code == 400 and "endpoint" in response.json()


def test_replay_failed_with_a_nul_in_the_endpoint_is_a_400(api):
    body = {"endpoint": "bil\x00ling", "since": "2026-04-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"}
    response = api.post(REPLAY_FAILED, body, format="json")
    assert response.status_code == 400 and "endpoint" in response.json()
