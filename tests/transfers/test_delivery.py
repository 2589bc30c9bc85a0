"""The offload as deliveries see it: copied before the first send, shared by endpoints, never blocking."""

import json

import pytest
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import TOKEN, endpoint_create, push_payload
from tests.queue import send_due
from tests.transfers.conftest import fetch
from tests.transfers.fileserver import Route
from transfers.models import LinkPair
from webhooks.models import WebhookDelivery

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


def test_a_retry_resends_the_frozen_payload_without_copying_again(bucket, email, receiver, files):
    from tests.receiver import Answer

    receiver.answer(Answer(503, "busy"))
    delivery = WebhookDelivery.objects.create(email=email, endpoint=endpoint_create(url=receiver.url("/hook")))
    send_due(delivery)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert send_due(delivery) == "succeeded"
    sent = [r.json()["delivery_links"][0]["r2_url"] for r in receiver.wait_for(2, path="/hook")]
    assert sent[0] == sent[1] and len(files.hits) == 1


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
