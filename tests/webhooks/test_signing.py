"""Standard Webhooks signing: receivers verify with the `standardwebhooks` library and the endpoint secret."""

import base64

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from tests.factories import endpoint_create
from tests.queue import send_due
from tests.receiver import Answer
from tests.webhooks.conftest import SECRET
from webhooks import signing
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import delivery_replay

pytestmark = pytest.mark.django_db


def test_receiver_verifies_the_signature_with_the_endpoint_secret(make_delivery, receiver):
    send_due(make_delivery(secret=SECRET))
    request = receiver.requests[0]
    assert Webhook(SECRET).verify(request.body, request.headers) == request.json()


def test_a_tampered_body_does_not_verify(make_delivery, receiver):
    send_due(make_delivery(secret=SECRET))
    request = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body.replace(b"Lot 107", b"Lot 108"), request.headers)


def test_another_secret_does_not_verify(make_delivery, receiver):
    send_due(make_delivery(secret=SECRET))
    request = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_generate()).verify(request.body, request.headers)


def test_without_a_secret_nothing_is_signed(make_delivery, receiver):
    send_due(make_delivery())
    assert not {"webhook-id", "webhook-signature"} & {k.lower() for k in receiver.requests[0].headers}


def test_signature_holds_in_legacy_form_mode_and_after_a_415_fallback(make_delivery, receiver):
    receiver.answer(Answer(415))
    send_due(make_delivery(secret=SECRET))
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)


def test_webhook_id_is_stable_across_retries_and_replays(make_delivery, receiver):
    receiver.answer(Answer(503))
    delivery = make_delivery(secret=SECRET)
    send_due(delivery)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    send_due(delivery)
    delivery_replay(WebhookDelivery.objects.get(pk=delivery.pk))
    send_due(delivery)

    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {delivery.webhook_id}
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)


def test_generated_secrets_are_valid_unique_and_32_bytes():
    first, second = signing.secret_generate(), signing.secret_generate()
    signing.secret_validate(first)
    assert first != second and first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


@pytest.mark.parametrize(
    "secret",
    [
        "hunter2",  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too short
        "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
    ],
)
def test_invalid_secrets_are_refused_on_clean(secret):
    endpoint = WebhookEndpoint(name="x", url="http://127.0.0.1:9/h", secret=secret)
    with pytest.raises(ValidationError) as exc:
        endpoint.full_clean()
    assert "secret" in exc.value.message_dict


@pytest.mark.parametrize("size", [24, 32, 64])
def test_secrets_of_24_to_64_bytes_are_accepted(size):
    secret = "whsec_" + base64.b64encode(bytes(range(size))).decode()
    WebhookEndpoint(name="x", url="http://127.0.0.1:9/h", secret=secret).full_clean()


def test_masked_secret_shows_only_its_last_characters():
    endpoint = endpoint_create(secret=SECRET)
    assert endpoint.secret_masked == "whsec_…" + SECRET[-4:]
    assert SECRET[6:-4] not in endpoint.secret_masked
