"""The delivery worker (SPEC §7.1): concurrent sends in threads, lanes that do not wait for each other,
a clean stop, and its heartbeat. The worker runs in this process, its sender threads on their own
database connections, against real receivers on 127.0.0.1."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.receiver import Answer, Receiver
from webhooks.models import WebhookDelivery, WorkerHeartbeat
from webhooks.services.queue import deliveries_claim
from webhooks.services.sending import deliveries_recover_expired
from webhooks.worker import DeliveryWorker, IngressPressure

pytestmark = pytest.mark.django_db(transaction=True)


def deliveries_to(endpoint, count: int, start: int = 0, links: list | None = None) -> list[WebhookDelivery]:
    made = []
    for n in range(start, start + count):
        email = InboundEmail.objects.create(
            email_id=f"{n:032x}", sender="a@b.fr", sender_email="a@b.fr", body="<p>x</p>", status="processed",
            links=links or [],
        )
        made.append(WebhookDelivery.objects.create(email=email, endpoint=endpoint))
    return made


def worker(**overrides) -> DeliveryWorker:
    options = {"concurrency": 8, "poll_seconds": 0.02, "stop_grace": 5.0, "worker_id": "test-worker"}
    return DeliveryWorker(**options | overrides)


def in_background(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def statuses(deliveries) -> set[str]:
    return set(WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True))


def test_a_lane_sends_up_to_its_max_in_flight_at_once(receiver):
    receiver.default = Answer(200, delay=0.4)
    endpoint = endpoint_create(url=receiver.url(), max_in_flight=3)
    sent = deliveries_to(endpoint, 6)

    worker().run(drain=True)

    assert statuses(sent) == {"succeeded"}
    assert receiver.max_in_flight == 3


def test_a_slow_lane_does_not_hold_back_another(receiver):
    slow = Receiver(Answer(200, delay=1.0)).start()
    try:
        slow_deliveries = deliveries_to(endpoint_create(url=slow.url(), max_in_flight=2), 6)
        fast_deliveries = deliveries_to(endpoint_create(url=receiver.url()), 6, start=100)

        worker().run(drain=True)

        assert statuses(slow_deliveries) == statuses(fast_deliveries) == {"succeeded"}
        # The slow lane had 2 slots: its third request started after a full second; every fast one before.
        third_slow_start = sorted(slow.started)[2]
        assert max(receiver.started) < third_slow_start
    finally:
        slow.stop()


def test_stopping_lets_the_sends_in_flight_finish_within_the_grace(receiver):
    receiver.default = Answer(200, delay=0.8)
    (delivery,) = deliveries_to(endpoint_create(url=receiver.url()), 1)
    running = worker(stop_grace=5.0)
    thread = in_background(running.run)
    assert receiver.wait_started(1, timeout=10) == 1

    running.stop()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert statuses([delivery]) == {"succeeded"}


def test_stopping_hands_back_the_sends_that_outlast_the_grace(receiver, short_schedule):
    short_schedule(0, 0, 0)
    receiver.answer(Answer(200, delay=3.0))
    (delivery,) = deliveries_to(endpoint_create(url=receiver.url()), 1)
    running = worker(stop_grace=0.2)
    thread = in_background(running.run)
    assert receiver.wait_started(1, timeout=10) == 1

    running.stop()
    thread.join(timeout=10)

    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert delivery.status == "pending" and delivery.claim_token == ""
    assert attempt.error.startswith("interrupted: its worker stopped") and attempt.finished_at is not None


def test_the_worker_beats_while_it_runs_and_takes_its_heartbeat_with_it(receiver):
    running = worker()
    thread = in_background(running.run)
    try:
        for _ in range(100):
            if WorkerHeartbeat.objects.filter(worker_id="test-worker").exists():
                break
            threading.Event().wait(0.05)
        beat = WorkerHeartbeat.objects.get(worker_id="test-worker")
        assert beat.concurrency == 8
    finally:
        running.stop()
        thread.join(timeout=10)
    assert not WorkerHeartbeat.objects.filter(worker_id="test-worker").exists()


def test_the_deliver_command_drains_what_is_due(receiver):
    sent = deliveries_to(endpoint_create(url=receiver.url()), 3)
    call_command("deliver", "--drain", "--concurrency", "4", "--worker-id", "drainer")
    assert statuses(sent) == {"succeeded"} and len(receiver.requests) == 3


# --- pushes first ------------------------------------------------------------------------------------------
def test_ingress_is_busy_when_new_deliveries_arrive_faster_than_the_threshold():
    pressure = IngressPressure(window=0.5, busy_per_second=50)
    for step in range(6):
        pressure.observe(step * 0.1, step * 10)  # 100 new deliveries a second
    assert pressure.rate() == pytest.approx(100) and pressure.busy()


def test_a_steady_trickle_is_not_a_burst():
    pressure = IngressPressure(window=0.5, busy_per_second=50)
    for step in range(6):
        pressure.observe(step * 0.1, step)  # 10 a second: the Apps Script, one push after another
    assert not pressure.busy()


def test_pressure_forgets_what_is_older_than_its_window():
    pressure = IngressPressure(window=0.5, busy_per_second=50)
    pressure.observe(0.0, 0)
    pressure.observe(0.1, 100)
    for step in range(2, 12):
        pressure.observe(step * 0.1, 100)
    assert pressure.rate() == 0 and not pressure.busy()


def test_while_pushes_pour_in_the_worker_claims_once_per_yield(receiver, monkeypatch):
    endpoint = endpoint_create(url=receiver.url())
    deliveries_to(endpoint, 3)
    running = worker(ingress_yield=30.0, concurrency=1)
    monkeypatch.setattr(IngressPressure, "busy", lambda self: True)
    thread = in_background(running.run)
    try:
        assert len(receiver.wait_for(1, timeout=10)) == 1
        threading.Event().wait(0.5)
        assert len(receiver.requests) == 1, "one claim, then it waits for the pushes to calm down"
    finally:
        running.stop()
        thread.join(timeout=10)


# --- leases: a claim comes back when its attempt could really have ended ---------------------------------------
FILE_LINK = {"provider": "dropbox", "raw_url": "https://www.dropbox.com/scl/fi/a/f.pdf?dl=0",
             "direct_url": "https://www.dropbox.com/scl/fi/a/f.pdf?dl=1"}
FOLDER_LINK = {"provider": "dropbox", "raw_url": "https://www.dropbox.com/scl/fo/a/b?dl=0",
               "direct_url": "https://www.dropbox.com/scl/fo/a/b?dl=1"}


@pytest.fixture
def bucket_on(settings):
    settings.R2_ENABLED = True
    settings.R2_DOWNLOAD_TIMEOUT_SECONDS, settings.R2_FOLDER_TIMEOUT_SECONDS = 15, 120
    settings.DELIVERY_LEASE_GRACE_SECONDS = 5


def lease_seconds(delivery: WebhookDelivery) -> float:
    delivery.refresh_from_db()
    return (delivery.lease_expires_at - delivery.last_attempt_at).total_seconds()


def test_a_claim_is_leased_for_its_tries_timeout_times_tries():
    (delivery,) = deliveries_to(endpoint_create(timeout_seconds=10, fallback_on_415=True), 1)
    deliveries_claim(1)
    assert lease_seconds(delivery) == 2 * 10 + 5


def test_a_payload_to_build_is_leased_for_each_links_copy_then_its_tries(bucket_on):
    endpoint = endpoint_create(timeout_seconds=10, fallback_on_415=False)
    (delivery,) = deliveries_to(endpoint, 1, links=[FILE_LINK, FOLDER_LINK])
    deliveries_claim(1)
    # each copy: its download budget (file 15 s, folder 120 s) plus the 120 s the transfers app grants an upload
    assert lease_seconds(delivery) == (15 + 120) + (120 + 120) + 10 + 5


def test_a_claim_whose_worker_died_copying_comes_back_once_the_copy_could_have_ended(bucket_on):
    (delivery,) = deliveries_to(endpoint_create(timeout_seconds=10, fallback_on_415=False), 1, links=[FILE_LINK])
    claimed_at = timezone.now()
    deliveries_claim(1, now=claimed_at)  # and the worker dies before its first try (a full disk, a kill)
    lease_and_grace = 15 + 120 + 10 + 5 + 5

    assert deliveries_recover_expired(now=claimed_at + timedelta(seconds=lease_and_grace - 1)) == 0
    assert deliveries_recover_expired(now=claimed_at + timedelta(seconds=lease_and_grace + 1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.claim_token == ""
