"""The delivery rows as the queue (SPEC §7.1): fair claims, lane limits, breaker, leases, auto-disable."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.queue import delivery_send, queue_pass, send_due
from tests.receiver import Answer
from webhooks.models import DeliveryAttempt, EndpointLane, WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import endpoint_test_send
from webhooks.services.endpoints import deliveries_pause_align
from webhooks.services.queue import deliveries_claim
from webhooks.services.sending import deliveries_recover_expired

pytestmark = pytest.mark.django_db


def emails(count: int) -> list[InboundEmail]:
    return [
        InboundEmail.objects.create(
            email_id=f"{n:032x}", sender="a@b.fr", sender_email="a@b.fr", body="<p>x</p>", status="processed"
        )
        for n in range(count)
    ]


def backlog(endpoint: WebhookEndpoint, count: int, *, mails=None) -> list[WebhookDelivery]:
    return [WebhookDelivery.objects.create(email=mail, endpoint=endpoint) for mail in mails or emails(count)]


def claimed(free: int, **kwargs) -> list[int]:
    return [claim.delivery_id for claim in deliveries_claim(free, **kwargs).claims]


def status_of(delivery) -> str:
    return WebhookDelivery.objects.get(pk=delivery.pk).status


# --- fairness and lane limits ------------------------------------------------------------------------------
def test_a_due_delivery_of_one_lane_never_waits_behind_another_lanes_backlog():
    busy, quiet = endpoint_create(max_in_flight=100), endpoint_create()
    mails = emails(51)
    backlog(busy, 50, mails=mails[:50])
    (lonely,) = backlog(quiet, 1, mails=mails[50:])

    assert lonely.pk in claimed(10)


def test_free_slots_are_shared_between_lanes_and_left_overs_go_round_again():
    first, second = endpoint_create(max_in_flight=100), endpoint_create(max_in_flight=100)
    mails = emails(12)
    backlog(first, 10, mails=mails[:10])
    backlog(second, 2, mails=mails[10:])

    ids = claimed(8)

    owners = list(WebhookDelivery.objects.filter(pk__in=ids).values_list("endpoint_id", flat=True))
    assert len(ids) == 8 and owners.count(second.pk) == 2 and owners.count(first.pk) == 6


def test_a_lane_never_has_more_than_max_in_flight_attempts_out():
    endpoint = endpoint_create(max_in_flight=2)
    waiting = backlog(endpoint, 5)

    assert len(claimed(10)) == 2
    assert claimed(10) == [], "both slots are taken"

    WebhookDelivery.objects.filter(pk=waiting[0].pk).update(status="succeeded", claim_token="")
    assert len(claimed(10)) == 1


def test_a_rate_limited_lane_starts_one_attempt_per_interval_across_claims():
    endpoint = endpoint_create(rate_limit_per_minute=60)
    backlog(endpoint, 3)

    first_round = deliveries_claim(10)
    assert len(first_round.claims) == 1
    second_round = deliveries_claim(10)
    assert second_round.claims == [] and second_round.wait_until is not None
    assert 0.5 < (second_round.wait_until - timezone.now()).total_seconds() <= 1.0


def test_a_delivery_over_its_lanes_limits_waits_without_spending_an_attempt():
    endpoint = endpoint_create(max_in_flight=1)
    first, second = backlog(endpoint, 2)
    claimed(10)
    assert WebhookDelivery.objects.get(pk=second.pk).series_attempt_count == 0
    assert status_of(second) == "pending"


def test_deliveries_of_inactive_endpoints_are_never_claimed():
    endpoint = endpoint_create(is_active=False)
    backlog(endpoint, 2)
    assert claimed(10) == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_take_the_same_delivery():
    endpoint = endpoint_create(max_in_flight=200)
    backlog(endpoint, 60)
    results: list[list[int]] = []
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            mine = []
            # A round may find the lane held by the other worker (SKIP LOCKED): it takes nothing and goes on.
            for _ in range(200):
                if not WebhookDelivery.objects.filter(status="pending").exists():
                    break
                mine += claimed(5)
            results.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    every = results[0] + results[1]
    assert len(every) == len(set(every)) == 60


# --- circuit breaker ---------------------------------------------------------------------------------------
def lane(endpoint) -> EndpointLane:
    return EndpointLane.objects.get(endpoint=endpoint)


def test_the_breaker_opens_and_deliveries_then_wait_with_attempts_unspent(receiver, short_schedule):
    short_schedule(0, 0, 0, 0)
    receiver.default = Answer(503, "down")
    endpoint = endpoint_create(url=receiver.url(), breaker_failures=3, max_in_flight=1)
    first, second = backlog(endpoint, 2)

    for _ in range(3):
        queue_pass()

    assert lane(endpoint).state == "open" and len(receiver.requests) == 3
    spent = {d.pk: d.series_attempt_count for d in WebhookDelivery.objects.all()}
    queue_pass()
    assert len(receiver.requests) == 3, "an open lane sends nothing"
    assert {d.pk: d.series_attempt_count for d in WebhookDelivery.objects.all()} == spent


def test_after_the_cool_down_one_probe_goes_out_and_its_success_closes_the_lane(receiver):
    receiver.default = Answer(200)
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(
        endpoint=endpoint, state="open", cooldown_seconds=30, consecutive_failures=5,
        open_until=timezone.now() - timedelta(seconds=1),
    )
    waiting = backlog(endpoint, 3)

    probe = deliveries_claim(10).claims
    assert len(probe) == 1 and probe[0].probe
    assert lane(endpoint).state == "half_open" and claimed(10) == [], "only the probe while half-open"

    delivery_send(probe[0])
    assert lane(endpoint).state == "closed"
    queue_pass()
    assert all(status_of(d) == "succeeded" for d in waiting)


def test_a_failed_probe_reopens_the_lane_for_twice_as_long(receiver):
    receiver.default = Answer(503)
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(
        endpoint=endpoint, state="open", cooldown_seconds=30, consecutive_failures=5,
        open_until=timezone.now() - timedelta(seconds=1),
    )
    backlog(endpoint, 2)

    queue_pass()

    reopened = lane(endpoint)
    assert (reopened.state, reopened.cooldown_seconds) == ("open", 60)
    assert 55 <= (reopened.open_until - timezone.now()).total_seconds() <= 60


def test_a_test_webhook_goes_out_even_while_the_breaker_is_open(receiver):
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(endpoint=endpoint, state="open", open_until=timezone.now() + timedelta(minutes=5))
    backlog(endpoint, 1)
    test = endpoint_test_send(endpoint)

    assert claimed(10) == [test.pk]


def test_test_webhooks_leave_the_lane_as_it_is(receiver):
    receiver.default = Answer(503)
    endpoint = endpoint_create(url=receiver.url(), breaker_failures=1)
    send_due(endpoint_test_send(endpoint))
    assert EndpointLane.objects.filter(endpoint=endpoint, state="open").count() == 0


# --- auto-disable ------------------------------------------------------------------------------------------
def test_an_endpoint_failing_for_the_configured_hours_is_deactivated_and_its_deliveries_pause(receiver, settings):
    settings.ENDPOINT_DISABLE_AFTER_HOURS = 72
    receiver.default = Answer(500)
    endpoint = endpoint_create(url=receiver.url(), breaker_failures=100)
    EndpointLane.objects.create(endpoint=endpoint, failing_since=timezone.now() - timedelta(hours=72, minutes=1))
    sent, waiting = backlog(endpoint, 2)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))

    send_due(sent)

    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.deactivated_reason) == (False, "failing")
    assert status_of(sent) == "paused" and status_of(waiting) == "paused"


def test_auto_disable_can_be_switched_off(receiver, settings):
    settings.ENDPOINT_DISABLE_AFTER_HOURS = 0
    receiver.default = Answer(500)
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(endpoint=endpoint, failing_since=timezone.now() - timedelta(days=30))
    send_due(backlog(endpoint, 1)[0])
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active


def test_one_success_in_the_period_keeps_the_endpoint_active(receiver, settings):
    settings.ENDPOINT_DISABLE_AFTER_HOURS = 72
    receiver.answer(Answer(200))
    receiver.default = Answer(500)
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(endpoint=endpoint, failing_since=timezone.now() - timedelta(hours=80))
    first, second = backlog(endpoint, 2)
    send_due(first)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active


# --- leases ------------------------------------------------------------------------------------------------
def expire(delivery, seconds_ago: float = 60) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_an_expired_lease_makes_the_delivery_claimable_again_and_closes_the_open_try(receiver, short_schedule):
    short_schedule(0, 0, 0)
    endpoint = endpoint_create(url=receiver.url())
    (delivery,) = backlog(endpoint, 1)
    (claim,) = deliveries_claim(1).claims
    assert DeliveryAttempt.objects.get(delivery=delivery).in_flight, "the claim opens the attempt it is about to make"
    expire(delivery)

    assert deliveries_recover_expired() == 1

    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert delivery.status == "pending" and delivery.claim_token == ""
    assert attempt.finished_at is not None and attempt.error.startswith("interrupted")
    assert send_due(delivery) == "succeeded"
    assert delivery_send(claim) is None, "the dead worker's claim no longer holds"


def test_a_live_lease_is_left_alone(receiver):
    (delivery,) = backlog(endpoint_create(url=receiver.url()), 1)
    deliveries_claim(1)
    assert deliveries_recover_expired() == 0
    assert status_of(delivery) == "sending"


def test_an_interrupted_last_attempt_fails_the_delivery(receiver, short_schedule):
    short_schedule(0)
    (delivery,) = backlog(endpoint_create(url=receiver.url()), 1)
    deliveries_claim(1)
    expire(delivery)
    deliveries_recover_expired()
    assert status_of(delivery) == "failed"


def test_an_interrupted_probe_reopens_the_lane(receiver):
    endpoint = endpoint_create(url=receiver.url())
    EndpointLane.objects.create(
        endpoint=endpoint, state="open", cooldown_seconds=30, open_until=timezone.now() - timedelta(seconds=1)
    )
    (delivery,) = backlog(endpoint, 1)
    deliveries_claim(1)
    expire(delivery)

    deliveries_recover_expired()

    assert (lane(endpoint).state, lane(endpoint).cooldown_seconds) == ("open", 60)


# --- a receiver cannot crash the worker --------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", ["²", "9" * 5000, "-1", "Wed, 99 Foo 2026"])
def test_any_retry_after_value_is_recorded_not_raised(receiver, short_schedule, retry_after):
    short_schedule(0, 5)
    receiver.answer(Answer(503, headers={"Retry-After": retry_after}))
    (delivery,) = backlog(endpoint_create(url=receiver.url()), 1)
    assert send_due(delivery) == "pending"
    assert delivery.attempts.get().status_code == 503


def test_an_exception_inside_a_send_becomes_a_recorded_attempt(receiver, short_schedule):
    short_schedule(0, 5)
    endpoint = endpoint_create(url=receiver.url())
    # A header value that bypassed validation (saved before it existed): the HTTP client cannot encode it.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(headers={"X-Name": "café ☕"})
    (delivery,) = backlog(endpoint, 1)

    assert send_due(delivery) == "pending"

    attempt = delivery.attempts.get()
    assert attempt.failure_reason == "internal_error" and "UnicodeEncodeError" in attempt.error
    assert receiver.requests == []


# --- paused exactly while the endpoint is inactive ---------------------------------------------------------
def test_a_delivery_created_pending_for_an_endpoint_just_deactivated_is_paused():
    (delivery,) = backlog(endpoint_create(is_active=False), 1)  # a push that read the configuration a moment before
    assert deliveries_pause_align() == 1
    assert status_of(delivery) == "paused"


def test_a_delivery_left_paused_for_an_active_endpoint_resumes():
    (delivery,) = backlog(endpoint_create(), 1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="paused")
    assert deliveries_pause_align() == 1
    assert status_of(delivery) == "pending"


def test_test_webhooks_to_an_inactive_endpoint_are_not_paused():
    test = endpoint_test_send(endpoint_create(is_active=False))
    assert deliveries_pause_align() == 0 and status_of(test) == "pending"
