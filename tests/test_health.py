"""Liveness and readiness (SPEC §9): database, cache, worker heartbeat and queue age."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from signal_server.heartbeat import heartbeat_enqueue, heartbeat_record, worker_heartbeat_task
from signal_server.models import WorkerHeartbeat
from webhooks.tasks import delivery_send_task

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens there
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
    }
}


def ready(client):
    response = client.get("/health/ready")
    return response.status_code, response.json()


def test_health_answers_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_with_a_fresh_heartbeat_and_an_idle_queue(client):
    heartbeat_record("worker-1")
    status, body = ready(client)
    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "worker", "queue"}
    assert body["checks"]["worker"]["last_beat_age_seconds"] < 5
    assert body["checks"]["queue"]["due_tasks"] == 0


def test_ready_is_503_naming_the_worker_before_any_heartbeat(client):
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["error"] == "no worker heartbeat yet"


def test_ready_is_503_when_the_last_heartbeat_is_too_old(client, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS = 60
    heartbeat_record("worker-1")
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(seconds=90))
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["worker"]
    assert 89 <= body["checks"]["worker"]["last_beat_age_seconds"] < 100


def test_ready_is_503_naming_the_queue_when_a_due_task_waits_too_long(client, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    heartbeat_record("worker-1")
    delivery_send_task.enqueue(1)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(seconds=400))
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["queue"]
    assert body["checks"]["queue"]["due_tasks"] == 1
    assert body["checks"]["queue"]["oldest_due_age_seconds"] >= 400


def test_a_task_scheduled_for_later_is_not_late(client):
    heartbeat_record("worker-1")
    delivery_send_task.using(run_after=timezone.now() + timedelta(hours=2)).enqueue(1)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    status, body = ready(client)
    assert status == 200, body
    assert body["checks"]["queue"]["due_tasks"] == 0


def test_a_scheduled_task_is_late_from_its_run_after_not_from_its_enqueue_time(client):
    heartbeat_record("worker-1")
    delivery_send_task.using(run_after=timezone.now() - timedelta(seconds=30)).enqueue(1)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=3))
    status, body = ready(client)
    assert status == 200, body
    assert 29 <= body["checks"]["queue"]["oldest_due_age_seconds"] < 60


@override_settings(CACHES=DEAD_REDIS)
def test_ready_is_503_naming_the_cache_when_redis_is_down(client):
    heartbeat_record("worker-1")
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["cache"]


def test_heartbeat_enqueue_keeps_at_most_one_waiting_beat():
    assert heartbeat_enqueue() is True
    assert heartbeat_enqueue() is False
    assert DBTaskResult.objects.filter(task_path=worker_heartbeat_task.module_path).count() == 1


@pytest.mark.django_db(transaction=True)  # the worker closes connections left inside a transaction
def test_a_worker_running_the_heartbeat_task_records_its_beat(client):
    heartbeat_enqueue()
    call_command("db_worker", "--batch", "--no-startup-delay", "--worker-id", "worker-test-1", verbosity=0)
    beat = WorkerHeartbeat.objects.get()
    assert beat.worker_id == "worker-test-1"
    assert (timezone.now() - beat.beat_at).total_seconds() < 10
    assert ready(client)[0] == 200
    assert heartbeat_enqueue() is True


def test_heartbeats_of_workers_gone_for_a_day_are_dropped():
    heartbeat_record("old-worker")
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(days=2))
    heartbeat_record("new-worker")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["new-worker"]
