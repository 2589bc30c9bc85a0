"""One scheduled attempt against a real receiver on 127.0.0.1 (SPEC §7): payload, modes, success, records."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.queue import delivery_send, send_due
from tests.receiver import Answer
from tests.webhooks.conftest import SECRET
from webhooks.models import DeliveryAttempt, WebhookDelivery
from webhooks.services.queue import deliveries_claim
from webhooks.services.sending import attempts_record, deliveries_load, delivery_attempt

pytestmark = pytest.mark.django_db


# payload --------------------------------------------------------------------------------------------------
def test_payload_keeps_the_legacy_keys_in_order(make_delivery, receiver, email):
    delivery = make_delivery()
    assert send_due(delivery) == "succeeded"
    payload = receiver.requests[0].json()
    assert list(payload) == [
        "microsoft_graph_email_id", "email_id", "subject", "receivedDateTime", "sender_address", "sender_email",
        "bodyPreview", "email_content", "source", "detector", "delivery_time", "webhooks_time_start",
        "webhooks_time_end", "delivery_links", "body_text", "links_by_provider",
    ]
    assert payload["email_content"] == email.body
    assert payload["delivery_time"] == "14h30"


def test_body_is_utf8_json_with_non_ascii_kept(make_delivery, receiver, email):
    send_due(make_delivery())
    raw = receiver.requests[0].body
    assert "Média".encode() in raw
    assert json.loads(raw.decode("utf-8"))["subject"] == email.subject


def test_payload_is_frozen_at_the_first_attempt(make_delivery, receiver, email):
    delivery = make_delivery()
    send_due(delivery)
    delivery.refresh_from_db()
    assert delivery.payload == receiver.requests[0].json()


# what is recorded -----------------------------------------------------------------------------------------
def test_success_records_an_attempt_with_status_timing_size_and_snippet(make_delivery, receiver):
    delivery = make_delivery()
    send_due(delivery)
    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("succeeded", 1, 200)
    assert (attempt.number, attempt.series, attempt.status_code, attempt.succeeded) == (1, 1, 200, True)
    assert attempt.started_at <= attempt.finished_at
    assert attempt.duration_ms >= 0 and attempt.request_size == len(receiver.requests[0].body)
    assert attempt.response_snippet == '{"success": true}'
    assert attempt.delivery_mode == "json" and attempt.url == delivery.endpoint.url


def test_response_snippet_is_capped_at_one_kilobyte_on_a_character_boundary(make_delivery, receiver):
    receiver.answer(Answer(500, "é" * 5000))
    delivery = make_delivery()
    send_due(delivery)
    snippet = delivery.attempts.get().response_snippet
    assert 1020 <= len(snippet.encode("utf-8")) <= 1024 and set(snippet) == {"é"}


def test_recorded_headers_hide_signature_and_custom_values(make_delivery, receiver):
    delivery = make_delivery(secret=SECRET, headers={"X-Api-Key": "k-123", "X-Tenant": "acme"})
    send_due(delivery)
    recorded = delivery.attempts.get().request_headers
    sent = receiver.requests[0].headers
    assert sent["X-Api-Key"] == "k-123" and sent["X-Tenant"] == "acme"
    assert recorded["X-Api-Key"] == recorded["X-Tenant"] == recorded["webhook-signature"] == "***"
    assert recorded["webhook-id"] == delivery.webhook_id and recorded["Content-Type"] == "application/json"
    assert "k-123" not in json.dumps(recorded) and sent["webhook-signature"] not in json.dumps(recorded)


def test_user_agent_and_accept_are_sent(make_delivery, receiver):
    send_due(make_delivery())
    headers = receiver.requests[0].headers
    assert headers["User-Agent"].startswith("signal-server/")
    assert headers["Accept"] == "application/json, text/plain, */*"


# success criteria and modes -------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success_by_default(make_delivery, receiver, status):
    receiver.answer(Answer(status, "" if status == 204 else "ok"))
    assert send_due(make_delivery()) == "succeeded"


def test_legacy_success_needs_json_success_true(make_delivery, receiver):
    receiver.answer(Answer(200, '{"success": true, "id": 7}'))
    assert send_due(make_delivery(success_requires_json=True)) == "succeeded"


@pytest.mark.parametrize("body", ['{"success": false, "message": "nope"}', '{"ok": true}', "OK", '{"success": "true"}'])
def test_legacy_2xx_without_json_success_fails_as_remote_application_error(make_delivery, receiver, body):
    receiver.answer(Answer(200, body))
    delivery = make_delivery(success_requires_json=True)
    assert send_due(delivery) == "failed"
    attempt = delivery.attempts.get()
    assert (attempt.succeeded, attempt.failure_reason, attempt.status_code) == (False, "remote_application_error", 200)


def test_legacy_form_header_mode_sends_the_same_json_with_a_form_content_type(make_delivery, receiver, email):
    send_due(make_delivery(delivery_mode="legacy_form_header"))
    request = receiver.requests[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.json()["email_id"] == email.email_id


def test_415_falls_back_at_once_to_the_other_mode_and_records_both_tries(make_delivery, receiver):
    receiver.answer(Answer(415, "unsupported"))
    delivery = make_delivery()
    assert send_due(delivery) == "succeeded"
    assert [r.headers["Content-Type"] for r in receiver.requests] == [
        "application/json", "application/x-www-form-urlencoded"
    ]
    attempts = list(delivery.attempts.all())
    assert [(a.delivery_mode, a.status_code, a.failure_reason) for a in attempts] == [
        ("json", 415, "unsupported_media_type"), ("legacy_form_header", 200, "")
    ]


def test_415_falls_back_from_legacy_form_to_json_too(make_delivery, receiver):
    receiver.answer(Answer(415, "unsupported"))
    assert send_due(make_delivery(delivery_mode="legacy_form_header")) == "succeeded"
    assert receiver.requests[1].headers["Content-Type"] == "application/json"


def test_415_without_fallback_fails_at_once(make_delivery, receiver):
    receiver.answer(Answer(415, "unsupported"))
    delivery = make_delivery(fallback_on_415=False)
    assert send_due(delivery) == "failed"
    delivery.refresh_from_db()
    assert (delivery.failure_reason, len(receiver.requests)) == ("unsupported_media_type", 1)


def test_415_in_both_modes_fails(make_delivery, receiver):
    receiver.default = Answer(415, "unsupported")
    delivery = make_delivery()
    assert send_due(delivery) == "failed"
    assert delivery.attempts.count() == 2


def test_bot_protection_page_is_recognised(make_delivery, receiver):
    receiver.answer(Answer(403, "<html>Access denied by Imunify360 bot-protection</html>"))
    delivery = make_delivery()
    send_due(delivery)
    delivery.refresh_from_db()
    assert delivery.failure_reason == "bot_protection_denied"


def test_custom_headers_are_sent(make_delivery, receiver):
    send_due(make_delivery(headers={"X-Api-Key": "k-123"}))
    assert receiver.requests[0].headers["X-Api-Key"] == "k-123"


# network failures -----------------------------------------------------------------------------------------
def test_answer_slower_than_the_endpoint_timeout_is_request_failed_and_retried(make_delivery, receiver):
    receiver.answer(Answer(200, delay=2.5))
    delivery = make_delivery(timeout_seconds=1)
    assert send_due(delivery) == "pending"
    attempt = delivery.attempts.get()
    assert attempt.failure_reason == "request_failed" and "within 1 s" in attempt.error
    assert 900 <= attempt.duration_ms < 2000


def test_dropped_connection_is_request_failed_and_retried(make_delivery, receiver):
    receiver.answer(Answer(drop=True))
    delivery = make_delivery()
    assert send_due(delivery) == "pending"
    attempt = delivery.attempts.get()
    assert (attempt.status_code, attempt.failure_reason) == (None, "request_failed")
    assert attempt.error


def test_connection_refused_is_request_failed_and_retried(make_delivery, receiver):
    delivery = make_delivery(url="http://127.0.0.1:9/hook")
    assert send_due(delivery) == "pending"
    attempt = delivery.attempts.get()
    assert attempt.failure_reason == "request_failed" and "refused" in attempt.error.lower()


def test_redirects_are_not_followed(make_delivery, receiver):
    receiver.answer(Answer(302, "", headers={"Location": receiver.url("/elsewhere")}))
    delivery = make_delivery()
    assert send_due(delivery) == "failed"
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert "redirect not followed" in delivery.attempts.get().error


# claims ---------------------------------------------------------------------------------------------------
def test_a_delivery_another_worker_holds_is_not_claimed(make_delivery, receiver):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="sending", claim_token="other-worker", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert send_due(delivery) == "sending"
    assert receiver.requests == []


def test_a_claim_that_no_longer_holds_sends_nothing(make_delivery, receiver):
    delivery = make_delivery()
    (claim,) = deliveries_claim(1).claims
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claim_token="taken-back")
    assert delivery_send(claim) is None
    assert receiver.requests == []


def test_a_finished_delivery_is_not_sent_again(make_delivery, receiver):
    delivery = make_delivery()
    send_due(delivery)
    assert send_due(delivery) == "succeeded"
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_attempt_is_visible_while_the_request_is_in_flight(make_delivery, receiver):
    receiver.answer(Answer(200, delay=1.0))
    delivery = make_delivery()

    def send():
        try:
            send_due(delivery)
        finally:
            connection.close()

    worker = threading.Thread(target=send)
    worker.start()
    try:
        assert receiver.wait_started(1, timeout=5) == 1
        in_flight = DeliveryAttempt.objects.get(delivery=delivery)
        assert in_flight.in_flight and in_flight.finished_at is None
        assert WebhookDelivery.objects.get(pk=delivery.pk).status == "sending"
    finally:
        worker.join(timeout=10)


# logs -----------------------------------------------------------------------------------------------------
def test_logs_use_the_legacy_prefixes_and_never_the_secret_or_url_path(make_delivery, receiver, caplog):
    receiver.answer(Answer(503, "down"))
    delivery = make_delivery("/t/secret-token-in-path", secret=SECRET, headers={"Authorization": "Bearer abcdef123"})
    with caplog.at_level(logging.INFO, logger="webhooks"):
        send_due(delivery)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        send_due(delivery)
    text = caplog.text
    assert "WEBHOOK_SENDER: Error sending webhook to" in text
    assert "WEBHOOK_SENDER: Webhook sent successfully to" in text
    assert SECRET not in text and SECRET[6:] not in text and "abcdef123" not in text
    assert "secret-token-in-path" not in text


def test_retries_resend_the_first_body_byte_for_byte(make_delivery, receiver):
    receiver.answer(Answer(503))
    delivery = make_delivery()
    send_due(delivery)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    send_due(delivery)
    first, second = receiver.requests
    assert first.body == second.body
    assert list(second.json())[:3] == ["microsoft_graph_email_id", "email_id", "subject"]


def test_a_retry_without_bucket_copies_costs_no_query_before_its_post(
    make_delivery, receiver, settings, django_assert_num_queries
):
    receiver.answer(Answer(503))
    delivery = make_delivery()
    send_due(delivery)
    settings.R2_ENABLED = True
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    (claim,) = deliveries_claim(1).claims
    loaded = deliveries_load([claim])[delivery.pk]

    with django_assert_num_queries(0):
        sent = delivery_attempt(claim, loaded)

    assert attempts_record([sent])[delivery.pk] == "succeeded"
    first, second = receiver.requests
    assert first.body == second.body
