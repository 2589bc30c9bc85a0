"""The offload as deliveries see it: copied before the first send, shared by endpoints, never blocking."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from ingress.models import InboundEmail
from tests.factories import TOKEN, endpoint_create, push_payload
from tests.queue import send_due
from tests.receiver import Answer
from tests.transfers.conftest import fetch, presigned_window
from tests.transfers.fileserver import Route
from tests.webhooks.conftest import SECRET
from transfers.models import LinkPair
from webhooks.models import WebhookDelivery
from webhooks.services.deliveries import delivery_replay

pytestmark = pytest.mark.django_db

ZIP = b"PK\x03\x04" + b"folder of photos " * 3000


@pytest.fixture
def email(files):
    url = files.add(
        "/scl/fo/abc123/photos",
        Route(
            ZIP,
            headers={"Content-Type": "application/zip", "Content-Disposition": 'attachment; filename="photos.zip"'},
        ),
    )
    return InboundEmail.objects.create(
        email_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        sender="Technique <technique@media-solution.fr>",
        sender_email="technique@media-solution.fr",
        subject="Fichiers",
        body=f'<a href="{url}">photos</a>',
        links=[{"provider": "dropbox", "raw_url": url + "?dl=0", "direct_url": url + "?dl=1&rlkey=k"}],
        status="processed",
    )


def deliver(email, receiver, path="/hook") -> dict:
    delivery = WebhookDelivery.objects.create(email=email, endpoint=endpoint_create(url=receiver.url(path)))
    assert send_due(delivery) == "succeeded"
    return receiver.wait_for(1, path=path)[-1].json()


def test_the_delivered_link_carries_a_copy_that_downloads_the_same_bytes(bucket, email, receiver):
    link = deliver(email, receiver)["delivery_links"][0]
    assert link["original_filename"] == "photos.zip"
    assert link["raw_url"] == email.links[0]["raw_url"]
    assert fetch(link["r2_url"]).content == ZIP


def test_two_endpoints_of_one_email_share_one_copy(bucket, email, receiver, files):
    first = deliver(email, receiver, "/one")["delivery_links"][0]
    second = deliver(email, receiver, "/two")["delivery_links"][0]
    assert len(files.hits) == 1
    assert first["r2_url"].split("?")[0] == second["r2_url"].split("?")[0]


def failed_once(email, receiver, **endpoint_fields) -> WebhookDelivery:
    """A delivery whose first attempt got a 503: its payload is built with the copy, a retry is scheduled."""
    receiver.answer(Answer(503, "busy"))
    endpoint = endpoint_create(url=receiver.url("/hook"), **endpoint_fields)
    delivery = WebhookDelivery.objects.create(email=email, endpoint=endpoint)
    assert send_due(delivery) == "pending"
    return delivery


def due_now(delivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def sent_links(receiver) -> list[list[dict]]:
    return [request.json()["delivery_links"] for request in receiver.wait_for(2, path="/hook")]


# retries and replays: each attempt's copy link is valid when it is sent --------------------------------------
def test_a_retry_renews_the_copy_link_without_copying_again(bucket, email, receiver, files):
    delivery = failed_once(email, receiver)
    due_now(delivery)
    assert send_due(delivery) == "succeeded"
    first, retry = (links[0]["r2_url"] for links in sent_links(receiver))
    assert first.split("?")[0] == retry.split("?")[0] and len(files.hits) == 1


def test_a_retry_after_the_presigned_link_expired_carries_a_fresh_one(bucket, settings, email, receiver, files, clock):
    settings.R2_PRESIGN_SECONDS = 3600
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=2))

    assert send_due(delivery) == "succeeded"

    first, retry = (links[0]["r2_url"] for links in sent_links(receiver))
    now = timezone.now()
    assert presigned_window(first)[1] < now
    signed_at, expires_at = presigned_window(retry)
    assert signed_at <= now < expires_at
    assert fetch(retry).content == ZIP and len(files.hits) == 1


def test_a_renewed_link_lives_no_longer_than_the_copy(bucket, email, receiver, clock):
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=20))
    send_due(delivery)
    retry = sent_links(receiver)[1][0]["r2_url"]
    assert presigned_window(retry)[1] <= LinkPair.objects.get().expires_at


def test_a_retry_after_the_copy_expired_sends_the_original_link(bucket, email, receiver, files, clock):
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=27, minutes=30))  # the default schedule's last retry

    assert send_due(delivery) == "succeeded"

    assert sent_links(receiver)[1] == email.links
    assert len(files.hits) == 1


def test_a_retry_does_not_hand_out_a_copy_gone_from_the_bucket(bucket, email, receiver):
    delivery = failed_once(email, receiver)
    bucket.client.delete_object(Bucket=bucket.name, Key=LinkPair.objects.get().object_key)
    due_now(delivery)
    send_due(delivery)
    assert sent_links(receiver)[1] == email.links


def test_a_replay_after_the_copy_expired_sends_the_original_link(bucket, email, receiver, clock):
    delivery = WebhookDelivery.objects.create(email=email, endpoint=endpoint_create(url=receiver.url("/hook")))
    assert send_due(delivery) == "succeeded"
    clock.shift(timedelta(days=3))

    delivery_replay(WebhookDelivery.objects.get(pk=delivery.pk))
    assert send_due(delivery) == "succeeded"

    first, replayed = sent_links(receiver)
    assert "r2_url" in first[0] and replayed == email.links


def test_the_delivery_records_the_body_its_last_attempt_sent(bucket, email, receiver, clock):
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=2))
    send_due(delivery)
    delivery.refresh_from_db()
    first, retry = (request.body for request in receiver.wait_for(2, path="/hook"))
    assert delivery.payload_json.encode() == retry != first
    assert delivery.attempts.order_by("number").last().request_size == len(retry)


def test_a_renewed_body_is_signed_as_sent(bucket, email, receiver, clock):
    delivery = failed_once(email, receiver, secret=SECRET)
    clock.shift(timedelta(hours=2))
    send_due(delivery)
    first, retry = receiver.wait_for(2, path="/hook")
    assert first.body != retry.body
    assert Webhook(SECRET).verify(retry.body, retry.headers) == retry.json()


def test_a_public_copy_url_is_resent_unchanged_while_the_copy_lives(bucket, settings, email, receiver, clock):
    settings.R2_PUBLIC_BASE_URL = "https://files.acme.fr"
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=2))
    send_due(delivery)
    first, retry = receiver.wait_for(2, path="/hook")
    assert retry.body == first.body and "https://files.acme.fr/" in retry.body.decode()


def test_a_public_copy_url_is_dropped_once_the_copy_expired(bucket, settings, email, receiver, clock):
    settings.R2_PUBLIC_BASE_URL = "https://files.acme.fr"
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=25))
    send_due(delivery)
    assert sent_links(receiver)[1] == email.links


def test_a_retry_takes_a_newer_copy_of_the_same_source(bucket, email, receiver, clock):
    delivery = failed_once(email, receiver)
    clock.shift(timedelta(hours=25))
    LinkPair.objects.update(expires_at=timezone.now() + timedelta(days=1))  # another e-mail copied it again
    send_due(delivery)
    retry = sent_links(receiver)[1][0]
    assert retry["original_filename"] == "photos.zip" and fetch(retry["r2_url"]).content == ZIP
    assert presigned_window(retry["r2_url"])[1] > timezone.now()


def test_a_storage_failure_still_delivers_the_original_link(bucket, settings, email, receiver):
    settings.R2_BUCKET = "signal-no-such-bucket"
    link = deliver(email, receiver)["delivery_links"][0]
    assert link == email.links[0]
    pair = LinkPair.objects.get()
    assert pair.status == "failed" and "NoSuchBucket" in pair.error


def test_the_ingress_request_never_waits_for_a_copy(bucket, client):
    endpoint_create(name="default", is_default=True)
    response = client.post(
        "/api/ingress/gmail", data=json.dumps(push_payload()), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )
    assert response.json()["status"] == "processed"
    # The delivery (and so the copy) is left to the worker: nothing was fetched or recorded.
    assert WebhookDelivery.objects.get().payload is None
    assert not LinkPair.objects.exists()
