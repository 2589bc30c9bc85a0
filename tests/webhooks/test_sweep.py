"""The sweep: deliveries whose worker died mid-attempt, and due deliveries that lost their task."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.receiver import Answer
from webhooks.models import WebhookDelivery
from webhooks.services import (
    ClaimLost,
    _attempt_begin,
    _attempt_settle,
    _delivery_claim,
    _enqueue,
    deliveries_sweep,
    delivery_send,
)
from webhooks.transport import HttpResult

pytestmark = pytest.mark.django_db


def worker_died_mid_attempt(delivery, *, lease_expired_ago: float):
    """What a worker killed during the HTTP request leaves: claimed, attempt in flight, lease running out."""
    claimed, token = _delivery_claim(delivery.pk)
    attempt = _attempt_begin(claimed, token, "json", {"Content-Type": "application/json"}, 10, save_payload=False)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=lease_expired_ago)
    )
    DBTaskResult.objects.all().delete()
    return claimed, token, attempt


def test_a_delivery_whose_worker_died_is_put_back_on_its_schedule(make_delivery, short_schedule):
    short_schedule(0, 60)
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=31)

    assert deliveries_sweep(grace=30).recovered == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure_reason, delivery.claim_token) == ("pending", "request_failed", "")
    assert 40 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 73
    task = DBTaskResult.objects.get(status="READY")
    assert (task.args_kwargs["args"], task.run_after) == ([delivery.pk], delivery.next_attempt_at)


def test_the_interrupted_attempt_stays_visible(make_delivery, short_schedule):
    short_schedule(0, 60)
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=31)

    deliveries_sweep(grace=30)

    attempt = delivery.attempts.get()
    assert attempt.finished_at is not None and not attempt.succeeded
    assert attempt.failure_reason == "request_failed" and attempt.error.startswith("interrupted")


def test_a_live_worker_within_its_lease_is_left_alone(make_delivery):
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=5)

    assert deliveries_sweep(grace=30).recovered == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "sending"


def test_an_interrupted_last_attempt_fails_the_delivery(make_delivery, short_schedule):
    short_schedule(0)
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=31)

    deliveries_sweep(grace=30)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.failure_reason) == ("failed", "request_failed")
    assert not DBTaskResult.objects.exists()


def test_the_dead_workers_task_row_is_closed(make_delivery):
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=31)
    orphan = DBTaskResult.objects.create(
        args_kwargs={"args": [delivery.pk], "kwargs": {}}, task_path="webhooks.tasks.delivery_send_task",
        status="RUNNING", run_after=timezone.now(), backend_name="default",
    )

    deliveries_sweep(grace=30)

    orphan.refresh_from_db()
    assert orphan.status == "FAILED" and "sweep recovered" in orphan.traceback


def test_a_worker_answering_after_its_lease_was_recovered_cannot_overwrite_the_delivery(make_delivery, short_schedule):
    short_schedule(0, 60)
    delivery = make_delivery()
    claimed, token, attempt = worker_died_mid_attempt(delivery, lease_expired_ago=31)
    deliveries_sweep(grace=30)

    with pytest.raises(ClaimLost):
        _attempt_settle(claimed, token, attempt, HttpResult(200, '{"success": true}', "", 12))

    delivery.refresh_from_db()
    attempt.refresh_from_db()
    assert delivery.status == "pending"
    assert (attempt.status_code, attempt.succeeded) == (200, True)  # what really happened is still recorded


def test_two_workers_claiming_the_same_delivery_only_one_gets_it(make_delivery):
    delivery = make_delivery()
    first, second = _delivery_claim(delivery.pk), _delivery_claim(delivery.pk)
    assert first is not None and second is None


def test_due_delivery_without_a_queued_task_is_enqueued_once(make_delivery, receiver):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))

    assert deliveries_sweep(grace=30).requeued == 1
    assert deliveries_sweep(grace=30).requeued == 0

    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [delivery.pk]
    assert delivery_send(delivery.pk) == "succeeded" and len(receiver.requests) == 1


def test_due_delivery_with_a_queued_task_is_not_enqueued_again(make_delivery):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    _enqueue(delivery.pk, timezone.now() - timedelta(minutes=5))

    assert deliveries_sweep(grace=30).requeued == 0
    assert DBTaskResult.objects.count() == 1


def test_deliveries_not_yet_overdue_are_left_to_their_task(make_delivery):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=5))

    assert deliveries_sweep(grace=30).requeued == 0


def test_a_task_that_runs_early_sends_nothing_and_waits_for_the_due_time(make_delivery, receiver):
    delivery = make_delivery()
    due = timezone.now() + timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)

    assert delivery_send(delivery.pk) is None

    assert receiver.requests == []
    assert DBTaskResult.objects.get().run_after == due


def test_sweep_command_runs_one_pass_and_reports(make_delivery):
    delivery = make_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    out = StringIO()

    call_command("deliveries_sweep", "--grace", "30", stdout=out)

    assert "recovered 0, re-enqueued 1" in out.getvalue()


def test_sweep_loop_refuses_a_zero_interval():
    with pytest.raises(Exception, match="interval"):
        call_command("deliveries_sweep", "--loop", "--interval", "0")


def test_a_recovered_delivery_completes_on_its_next_attempt(make_delivery, receiver, short_schedule):
    short_schedule(0, 0)
    receiver.answer(Answer(200))
    delivery = make_delivery()
    worker_died_mid_attempt(delivery, lease_expired_ago=31)
    deliveries_sweep(grace=30)

    assert delivery_send(delivery.pk) == "succeeded"

    delivery.refresh_from_db()
    assert delivery.attempt_count == 2
    assert [a.succeeded for a in delivery.attempts.all()] == [False, True]


def test_an_early_task_does_not_add_a_second_waiting_task(make_delivery):
    delivery = make_delivery()
    due = timezone.now() + timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=due)
    _enqueue(delivery.pk, due)

    delivery_send(delivery.pk)

    assert DBTaskResult.objects.count() == 1
