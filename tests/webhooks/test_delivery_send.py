"""Sending one delivery to a real receiver on 127.0.0.1 (SPEC §7, basic path)."""

import json

import pytest

from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.receiver import Answer
from webhooks.models import WebhookDelivery
from webhooks.services import delivery_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def email():
    return InboundEmail.objects.create(
        email_id="ef626f4a3197550e73b6e5a1b3cdc39e",
        sender="Technique <technique@media-solution.fr>",
        sender_email="technique@media-solution.fr",
        subject="Média Solution - Missions Recadrage - Lot 107",
        date="2026-04-10T09:54:38.000Z",
        body="<p>À faire pour 14h30 https://www.dropbox.com/scl/fo/abc</p>",
        body_preview="À faire pour 14h30 https://www.dropbox.com/scl/fo/abc",
        detector="recadrage",
        delivery_time="14h30",
        links=[{"provider": "dropbox", "raw_url": "https://www.dropbox.com/scl/fo/abc",
                "direct_url": "https://www.dropbox.com/scl/fo/abc?dl=1"}],
        webhooks_time_start="maintenant",
        webhooks_time_end="17h00",
        status="processed",
    )


def delivery_for(email, receiver, **endpoint_fields):
    endpoint = endpoint_create(url=receiver.url("/hook"), **endpoint_fields)
    return WebhookDelivery.objects.create(email=email, endpoint=endpoint)


def test_payload_keeps_the_legacy_keys_in_order(email, receiver):
    delivery = delivery_for(email, receiver)
    assert delivery_send(delivery.pk) == "succeeded"
    payload = receiver.requests[0].json()
    assert list(payload) == [
        "microsoft_graph_email_id", "email_id", "subject", "receivedDateTime", "sender_address", "sender_email",
        "bodyPreview", "email_content", "source", "detector", "delivery_time", "webhooks_time_start",
        "webhooks_time_end", "delivery_links",
    ]
    assert payload["email_content"] == email.body
    assert payload["delivery_time"] == "14h30"


def test_body_is_utf8_json_with_non_ascii_kept(email, receiver):
    delivery_send(delivery_for(email, receiver).pk)
    raw = receiver.requests[0].body
    assert "Média".encode("utf-8") in raw
    assert json.loads(raw.decode("utf-8"))["subject"] == email.subject


def test_success_records_an_attempt_with_status_and_duration(email, receiver):
    delivery = delivery_for(email, receiver)
    delivery_send(delivery.pk)
    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("succeeded", 1, 200)
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 200, True)
    assert attempt.duration_ms >= 0 and attempt.request_size == len(receiver.requests[0].body)


def test_legacy_form_header_mode_sends_the_same_json_with_a_form_content_type(email, receiver):
    delivery_send(delivery_for(email, receiver, delivery_mode="legacy_form_header").pk)
    request = receiver.requests[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.json()["email_id"] == email.email_id


def test_legacy_success_needs_json_success_true(email, receiver):
    receiver.answer(Answer(200, '{"success": false, "message": "nope"}'))
    delivery = delivery_for(email, receiver, success_requires_json=True)
    delivery_send(delivery.pk)
    attempt = delivery.attempts.get()
    assert (attempt.succeeded, attempt.failure_reason) == (False, "remote_application_error")


def test_client_error_fails_at_once_with_its_reason(email, receiver):
    receiver.answer(Answer(400, "bad request"))
    delivery = delivery_for(email, receiver)
    assert delivery_send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.failure_reason, delivery.last_status_code) == ("upstream_client_error", 400)


def test_server_error_schedules_a_retry(email, receiver):
    receiver.answer(Answer(503, "down"))
    delivery = delivery_for(email, receiver)
    assert delivery_send(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.failure_reason == "upstream_server_error" and delivery.next_attempt_at is not None


def test_415_falls_back_to_the_other_mode_within_the_attempt(email, receiver):
    receiver.answer(Answer(415, "unsupported"))
    delivery = delivery_for(email, receiver)
    assert delivery_send(delivery.pk) == "succeeded"
    assert [r.headers["Content-Type"] for r in receiver.requests] == [
        "application/json", "application/x-www-form-urlencoded"
    ]


def test_a_delivery_already_claimed_is_not_sent_twice(email, receiver):
    delivery = delivery_for(email, receiver)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="sending")
    assert delivery_send(delivery.pk) is None
    assert receiver.requests == []
