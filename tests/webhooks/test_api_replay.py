"""Replaying deliveries from the API (SPEC §7, §9): one delivery, or an endpoint's failures in a time range."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import endpoint_create
from tests.history_factories import (
    HISTORY_VIEW_PERMS,
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


CHANGE = "webhooks.change_webhookdelivery"
OPERATOR_PERMS = (*HISTORY_VIEW_PERMS, CHANGE)


@pytest.fixture
def api():
    """A staff user who may view the history and change deliveries (replay, cancel)."""
    return token_client(staff_create("replayer", perms=OPERATOR_PERMS))


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


def waiting_and_finished() -> tuple[WebhookDelivery, WebhookDelivery]:
    endpoint = endpoint_create(name="billing")
    paused = delivery_create(email_create(), endpoint, status=WebhookDelivery.Status.PAUSED)
    failed = delivery_create(email_create(), endpoint, attempts=[failed_attempt(500)])
    return paused, failed


def action_post(client, action: str, paused: WebhookDelivery, failed: WebhookDelivery):
    if action == "replay":
        return replay(client, failed)
    if action == "cancel":
        return client.post(f"{DELIVERIES}{paused.pk}/cancel/")
    if action == "cancel_paused":
        return client.post(f"/api/webhooks/endpoints/{paused.endpoint_id}/cancel_paused/")
    now = timezone.now()
    body = {"endpoint": "billing", "since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()}
    return client.post(REPLAY_FAILED, body, format="json")


ACTIONS = ["replay", "cancel", "cancel_paused", "replay_failed"]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_staff_user_who_may_view_but_not_change_deliveries_gets_403_and_nothing_changes(action):
    paused, failed = waiting_and_finished()
    before = list(WebhookDelivery.objects.order_by("pk").values())
    response = action_post(token_client(staff_create("reader", perms=HISTORY_VIEW_PERMS)), action, paused, failed)
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert list(WebhookDelivery.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_a_user_who_is_not_staff_is_refused_every_action_even_with_every_permission(action):
    paused, failed = waiting_and_finished()
    before = list(WebhookDelivery.objects.order_by("pk").values())
    outsider = token_client(staff_create("outsider", is_staff=False, perms=OPERATOR_PERMS))
    assert action_post(outsider, action, paused, failed).status_code == 403
    assert list(WebhookDelivery.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("action", ["replay", "cancel"])
def test_replay_and_cancel_answer_the_attempts_so_they_need_view_deliveryattempt_too(action):
    paused, failed = waiting_and_finished()
    changer = token_client(staff_create("changer", perms=[CHANGE, "webhooks.view_webhookdelivery"]))
    assert action_post(changer, action, paused, failed).status_code == 403
    assert WebhookDelivery.objects.get(pk=failed.pk).series == 1


def test_replay_failed_and_cancel_paused_need_only_the_change_permission():
    paused, failed = waiting_and_finished()
    changer = token_client(staff_create("changer", perms=[CHANGE]))
    assert action_post(changer, "replay_failed", paused, failed).json()["replayed"] == 1
    assert action_post(changer, "cancel_paused", paused, failed).json() == {"cancelled": 1}


def test_cancel_cancels_a_waiting_delivery_and_answers_it(api):
    paused, _ = waiting_and_finished()
    response = api.post(f"{DELIVERIES}{paused.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert WebhookDelivery.objects.get(pk=paused.pk).status == WebhookDelivery.Status.CANCELLED


def test_cancel_paused_cancels_only_that_endpoints_paused_deliveries(api):
    paused, failed = waiting_and_finished()
    elsewhere = delivery_create(email_create(), status=WebhookDelivery.Status.PAUSED)
    response = api.post(f"/api/webhooks/endpoints/{paused.endpoint_id}/cancel_paused/")
    assert response.status_code == 200 and response.json() == {"cancelled": 1}
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {paused.pk: "cancelled", failed.pk: "failed", elsewhere.pk: "paused"}


def test_cancel_paused_of_an_unknown_endpoint_is_a_404(api):
    assert api.post("/api/webhooks/endpoints/999999/cancel_paused/").status_code == 404


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
