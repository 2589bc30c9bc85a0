"""Replay (one delivery, or an endpoint's failed deliveries in a range), cancellation, and the test webhook."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.queue import send_due
from tests.receiver import Answer
from webhooks import payloads
from webhooks.models import WebhookDelivery
from webhooks.services.deliveries import (
    DeliveryNotCancellable,
    DeliveryNotReplayable,
    deliveries_cancel,
    deliveries_replay_failed,
    delivery_cancel,
    delivery_replay,
    endpoint_test_send,
)
from webhooks.services.queue import deliveries_claim

pytestmark = pytest.mark.django_db


def failed_delivery(make_delivery, receiver, **fields):
    receiver.answer(Answer(400, "bad"))
    delivery = make_delivery(**fields)
    assert send_due(delivery) == "failed"
    return WebhookDelivery.objects.get(pk=delivery.pk)


def other_email(n: int) -> InboundEmail:
    return InboundEmail.objects.create(
        email_id=f"{n:032x}", sender="a@b.fr", sender_email="a@b.fr", body="<p>x</p>", status="processed"
    )


def claimable() -> list[int]:
    """What a worker round would send now, in order (it claims them)."""
    return [claim.delivery_id for claim in deliveries_claim(100).claims]


# one delivery ---------------------------------------------------------------------------------------------
def test_replay_reopens_the_delivery_as_a_new_series_due_now(make_delivery, receiver):
    delivery = failed_delivery(make_delivery, receiver)

    replayed = delivery_replay(delivery)

    assert (replayed.status, replayed.series, replayed.series_attempt_count) == ("pending", 2, 0)
    assert (replayed.failure_reason, replayed.completed_at, replayed.replayed_at is not None) == ("", None, True)
    assert claimable() == [delivery.pk]


def test_replay_appends_attempts_to_the_same_delivery(make_delivery, receiver):
    delivery = failed_delivery(make_delivery, receiver)
    delivery_replay(delivery)

    assert send_due(delivery) == "succeeded"

    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.series, a.status_code) for a in attempts] == [(1, 1, 400), (2, 2, 200)]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_a_succeeded_delivery_can_be_replayed(make_delivery, receiver):
    delivery = make_delivery()
    send_due(delivery)
    assert delivery_replay(WebhookDelivery.objects.get(pk=delivery.pk)).status == "pending"


def test_a_replay_with_r2_turned_off_sends_the_links_without_their_copies(make_delivery, receiver, settings, email):
    delivery = failed_delivery(make_delivery, receiver)
    payload = delivery.payload
    payload["delivery_links"] = [{**email.links[0], "r2_url": "https://files.acme.fr/dropbox/a/b/f.zip",
                                  "original_filename": "f.zip"}]
    delivery.payload = payload  # built while R2 was on
    delivery.save(update_fields=["payload_json"])
    settings.R2_ENABLED = False

    delivery_replay(delivery)
    assert send_due(delivery) == "succeeded"

    assert receiver.requests[1].json()["delivery_links"] == email.links


def test_a_cancelled_delivery_can_be_replayed(make_delivery):
    delivery = make_delivery()
    delivery_cancel(delivery)
    assert delivery_replay(WebhookDelivery.objects.get(pk=delivery.pk)).status == "pending"


@pytest.mark.parametrize("status", ["pending", "sending", "paused"])
def test_a_waiting_delivery_cannot_be_replayed(make_delivery, status):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status)
    with pytest.raises(DeliveryNotReplayable, match=f"is {status}"):
        delivery_replay(delivery)
    assert WebhookDelivery.objects.get(pk=delivery.pk).series == 1


def test_a_delivery_to_an_inactive_endpoint_cannot_be_replayed(make_delivery, receiver):
    delivery = failed_delivery(make_delivery, receiver)
    delivery.endpoint.is_active = False
    delivery.endpoint.save()
    with pytest.raises(DeliveryNotReplayable, match="inactive"):
        delivery_replay(delivery)


# failed deliveries of an endpoint in a range --------------------------------------------------------------
def test_replay_failed_reopens_only_failed_deliveries_of_that_endpoint_in_the_range(receiver):
    endpoint, other = endpoint_create(url=receiver.url()), endpoint_create(url=receiver.url())
    now = timezone.now()

    def delivery(n, status, *, to=endpoint, hours_ago=1, is_test=False):
        made = WebhookDelivery.objects.create(
            email=None if is_test else other_email(n), endpoint=to, status=status, is_test=is_test,
            next_attempt_at=now + timedelta(hours=1),
        )
        WebhookDelivery.objects.filter(pk=made.pk).update(created_at=now - timedelta(hours=hours_ago))
        return made.pk

    in_range = [delivery(1, "failed"), delivery(2, "failed", hours_ago=2)]
    delivery(3, "succeeded")
    delivery(4, "pending")
    delivery(5, "failed", hours_ago=30)
    delivery(6, "failed", to=other)
    delivery(7, "failed", is_test=True)

    count = deliveries_replay_failed(endpoint, now - timedelta(days=1), now)

    assert count == 2
    assert set(WebhookDelivery.objects.filter(series=2).values_list("pk", flat=True)) == set(in_range)
    assert sorted(claimable()) == sorted(in_range)


def test_replay_failed_sends_the_oldest_first(receiver):
    endpoint = endpoint_create(url=receiver.url())
    now = timezone.now()
    ids = []
    for n, hours_ago in ((1, 1), (2, 3), (3, 2)):
        made = WebhookDelivery.objects.create(email=other_email(n), endpoint=endpoint, status="failed")
        WebhookDelivery.objects.filter(pk=made.pk).update(created_at=now - timedelta(hours=hours_ago))
        ids.append((hours_ago, made.pk))

    deliveries_replay_failed(endpoint, now - timedelta(days=1), now)

    assert claimable() == [pk for _, pk in sorted(ids, reverse=True)]


def test_replay_failed_needs_a_forward_range(receiver):
    endpoint = endpoint_create(url=receiver.url())
    now = timezone.now()
    with pytest.raises(ValidationError):
        deliveries_replay_failed(endpoint, now, now - timedelta(hours=1))


def test_replay_failed_refuses_an_inactive_endpoint(receiver):
    endpoint = endpoint_create(url=receiver.url(), is_active=False)
    now = timezone.now()
    with pytest.raises(DeliveryNotReplayable):
        deliveries_replay_failed(endpoint, now - timedelta(days=1), now)


# cancelling -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["pending", "paused"])
def test_a_waiting_delivery_can_be_cancelled_and_is_never_sent(make_delivery, receiver, status):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status)

    cancelled = delivery_cancel(delivery, by="alice")

    fields = (cancelled.status, cancelled.next_attempt_at, cancelled.last_error)
    assert fields == ("cancelled", None, "cancelled by alice")
    assert cancelled.completed_at is not None
    assert send_due(delivery) == "cancelled" and receiver.requests == []


@pytest.mark.parametrize("status", ["sending", "succeeded", "failed"])
def test_a_delivery_no_longer_waiting_cannot_be_cancelled(make_delivery, status):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status)
    with pytest.raises(DeliveryNotCancellable, match=f"is {status}"):
        delivery_cancel(delivery)


def test_cancelling_many_skips_those_not_waiting(make_delivery):
    waiting, sent = make_delivery(), make_delivery()
    WebhookDelivery.objects.filter(pk=sent.pk).update(status="succeeded")
    assert deliveries_cancel(WebhookDelivery.objects.all()) == 1
    assert WebhookDelivery.objects.get(pk=sent.pk).status == "succeeded"
    assert WebhookDelivery.objects.get(pk=waiting.pk).status == "cancelled"


# test webhook ---------------------------------------------------------------------------------------------
def test_test_webhook_is_recorded_like_any_delivery_and_marked_as_test(receiver):
    endpoint = endpoint_create(url=receiver.url())

    delivery = endpoint_test_send(endpoint)

    assert (delivery.is_test, delivery.email, delivery.status) == (True, None, "pending")
    assert send_due(delivery) == "succeeded"
    payload = receiver.requests[0].json()
    assert payload["is_test"] is True and payload["source"] == "signal_server_test"
    assert list(payload) == list(payloads.test_payload_build(endpoint.name, "x"))
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts.get().status_code == 200


def test_test_webhook_goes_to_an_inactive_endpoint_too(receiver):
    endpoint = endpoint_create(url=receiver.url(), is_active=False)
    delivery = endpoint_test_send(endpoint)
    assert send_due(delivery) == "succeeded"
