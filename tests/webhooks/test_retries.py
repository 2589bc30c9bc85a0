"""Retries through the delivery queue (SPEC §7): schedule, jitter, Retry-After, exhaustion, 410, pausing."""

import re
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from tests.queue import send_due
from tests.receiver import Answer
from tests.webhooks.conftest import SECRET, finished
from webhooks.models import WebhookEndpoint
from webhooks.schedule import RETRY_AFTER_MAX_SECONDS
from webhooks.services.endpoints import endpoints_activate, endpoints_deactivate

pytestmark = pytest.mark.django_db(transaction=True)


def test_503_three_times_then_200_succeeds_after_four_attempts(
    make_delivery, receiver, short_schedule, run_queue, admin_client
):
    short_schedule(0, 1, 1, 1)
    receiver.answer(Answer(503, "down"), Answer(503, "down"), Answer(503, "down"))
    delivery = make_delivery(secret=SECRET)

    assert run_queue(finished(delivery), timeout=15)

    delivery.refresh_from_db()
    attempts = list(delivery.attempts.order_by("number"))
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 4)
    assert [a.status_code for a in attempts] == [503, 503, 503, 200]
    assert [a.failure_reason for a in attempts] == ["upstream_server_error"] * 3 + [""]
    assert all(a.finished_at is not None and a.duration_ms >= 0 for a in attempts)
    # The receiver got four signed requests it can verify with the endpoint secret.
    assert len(receiver.requests) == 4
    for request in receiver.requests:
        assert Webhook(SECRET).verify(request.body, request.headers)["email_id"] == delivery.email.email_id
    # Staff see each attempt, with its status and timing, on the delivery's admin page.
    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert page.count(">HTTP 503</b>") == 3 and page.count(">HTTP 200</b>") == 1
    assert len(re.findall(r"<p>\d+ ms</p>", page)) == 4


def test_retries_follow_the_schedule_within_jitter(make_delivery, receiver, short_schedule, run_queue):
    short_schedule(0, 1, 2)
    receiver.answer(Answer(503), Answer(503))
    delivery = make_delivery()

    assert run_queue(finished(delivery), timeout=15)

    arrivals = [r.at for r in receiver.requests]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert 0.8 <= gaps[0] <= 1.2 + 0.5
    assert 1.6 <= gaps[1] <= 2.4 + 0.5


def test_a_retry_waits_in_the_queue_for_its_time_not_in_a_sleep(make_delivery, receiver, short_schedule):
    short_schedule(0, 300)
    receiver.answer(Answer(503))
    delivery = make_delivery()

    assert send_due(delivery) == "pending"

    delivery.refresh_from_db()
    assert 240 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 360
    assert send_due(delivery) == "pending" and len(receiver.requests) == 1, "not due yet: not sent again"


def test_exhausted_schedule_ends_failed_and_keeps_every_attempt(make_delivery, receiver, short_schedule, run_queue):
    short_schedule(0, 1)
    receiver.default = Answer(500, "boom")
    delivery = make_delivery()

    assert run_queue(finished(delivery), timeout=10)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.failure_reason) == ("failed", 2, "upstream_server_error")
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert [a.status_code for a in delivery.attempts.all()] == [500, 500]


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(make_delivery, receiver, short_schedule, status):
    short_schedule(0, 60)
    receiver.answer(Answer(status, "try later"))
    delivery = make_delivery()

    assert send_due(delivery) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_fail_at_once(make_delivery, receiver, short_schedule, status):
    short_schedule(0, 60)
    receiver.answer(Answer(status, "no"))
    delivery = make_delivery()

    assert send_due(delivery) == "failed"
    delivery.refresh_from_db()
    assert (delivery.failure_reason, delivery.last_status_code) == ("upstream_client_error", status)
    assert delivery.next_attempt_at is None


def test_retry_after_seconds_is_honoured_when_longer_than_the_schedule(make_delivery, receiver, short_schedule):
    short_schedule(0, 1)
    receiver.answer(Answer(429, "slow down", headers={"Retry-After": "120"}))
    delivery = make_delivery()

    send_due(delivery)

    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert delivery.failure_reason == "rate_limited"
    assert 115 <= wait <= 121


def test_retry_after_http_date_is_honoured(make_delivery, receiver, short_schedule):
    short_schedule(0, 1)
    when = timezone.now() + timedelta(seconds=600)
    receiver.answer(Answer(503, "maintenance", headers={"Retry-After": format_datetime(when, usegmt=True)}))
    delivery = make_delivery()

    send_due(delivery)

    delivery.refresh_from_db()
    assert abs((delivery.next_attempt_at - when).total_seconds()) <= 2


def test_retry_after_beyond_the_bound_is_capped(make_delivery, receiver, short_schedule):
    short_schedule(0, 1)
    receiver.answer(Answer(503, "later", headers={"Retry-After": str(7 * 86400)}))
    delivery = make_delivery()

    send_due(delivery)

    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert RETRY_AFTER_MAX_SECONDS - 5 <= wait <= RETRY_AFTER_MAX_SECONDS


def test_retry_after_never_shortens_the_schedule(make_delivery, receiver, short_schedule):
    short_schedule(0, 600)
    receiver.answer(Answer(503, "now", headers={"Retry-After": "1"}))
    delivery = make_delivery()

    send_due(delivery)

    delivery.refresh_from_db()
    assert (delivery.next_attempt_at - timezone.now()).total_seconds() >= 0.8 * 600 - 1


def test_410_pauses_the_delivery_and_deactivates_the_endpoint_keeping_it_default(
    make_delivery, receiver, short_schedule
):
    short_schedule(0, 1)
    receiver.answer(Answer(410, "gone"))
    delivery = make_delivery(is_default=True)

    assert send_due(delivery) == "paused"

    endpoint = delivery.endpoint
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.is_default, endpoint.deactivated_reason) == (False, True, "gone")
    assert f"410 Gone answered to delivery #{delivery.pk}" in endpoint.deactivated_note
    assert endpoint.deactivated_at is not None
    assert delivery.attempts.get().failure_reason == "upstream_client_error"


def test_a_delivery_paused_by_a_410_goes_out_once_the_endpoint_is_active_again(make_delivery, receiver, short_schedule):
    short_schedule(0, 1)
    receiver.answer(Answer(410, "gone"))
    delivery = make_delivery()
    send_due(delivery)

    endpoints_activate(WebhookEndpoint.objects.filter(pk=delivery.endpoint_id))

    assert send_due(delivery) == "succeeded"
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]


def test_deactivating_an_endpoint_pauses_its_waiting_deliveries_and_sends_nothing(make_delivery, receiver):
    delivery = make_delivery()

    endpoints_deactivate(WebhookEndpoint.objects.filter(pk=delivery.endpoint_id), reason="staff")

    assert send_due(delivery) == "paused"
    delivery.refresh_from_db()
    assert (delivery.attempt_count, delivery.failure_reason) == (0, "")
    assert receiver.requests == []


def test_activating_an_endpoint_resumes_its_paused_deliveries(make_delivery, receiver):
    delivery = make_delivery()
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    endpoints_deactivate(endpoints, reason="staff")

    endpoints_activate(endpoints)

    assert send_due(delivery) == "succeeded"
    assert len(receiver.requests) == 1


def test_a_retry_due_while_its_endpoint_is_inactive_waits_paused(make_delivery, receiver, short_schedule):
    short_schedule(0, 1)
    receiver.answer(Answer(503))
    delivery = make_delivery()
    send_due(delivery)

    endpoints_deactivate(WebhookEndpoint.objects.filter(pk=delivery.endpoint_id), reason="staff")

    delivery.refresh_from_db()
    assert delivery.status == "paused" and delivery.next_attempt_at is not None


def test_a_receiver_down_gets_every_delivery_once_back_each_on_its_own_schedule(
    email, make_delivery, receiver, short_schedule, run_queue
):
    short_schedule(0, 1, 1, 1, 1, 1)
    receiver.default = Answer(503, "down")
    deliveries = [make_delivery(f"/down-{n}") for n in range(3)]

    run_queue(lambda: len(receiver.requests) >= 6, timeout=10)
    receiver.default = Answer(200)
    assert run_queue(lambda: all(finished(d)() for d in deliveries), timeout=15)

    for delivery in deliveries:
        delivery.refresh_from_db()
        assert delivery.status == "succeeded"
        times = [a.started_at for a in delivery.attempts.order_by("number")]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 0.8 for gap in gaps), gaps
        assert [a.succeeded for a in delivery.attempts.order_by("number")][-1:] == [True]
        assert delivery.attempts.filter(succeeded=True).count() == 1
