"""Liveness and readiness (SPEC §9): database, cache, delivery workers and the age of the oldest due delivery."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from ops.models import WriteProbe
from tests.database import database_read_only
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create
from webhooks.models import EndpointLane, WebhookDelivery, WorkerHeartbeat
from webhooks.services.heartbeat import heartbeat_forget, heartbeat_record

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


def beat(worker_id="worker-1", in_flight=0, concurrency=32):
    heartbeat_record(worker_id, started_at=timezone.now(), concurrency=concurrency, in_flight=in_flight)


def due(endpoint, *, seconds_ago: float) -> WebhookDelivery:
    return delivery_create(
        email_create(), endpoint, status="pending", next_attempt_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_health_answers_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_with_a_fresh_heartbeat_and_an_idle_queue(client):
    beat(in_flight=3)
    status, body = ready(client)
    assert status == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "worker", "queue"}
    worker = body["checks"]["worker"]
    assert (worker["workers"], worker["in_flight"], worker["concurrency"]) == (1, 3, 32)
    assert worker["last_beat_age_seconds"] < 5
    assert body["checks"]["queue"]["oldest_due_age_seconds"] == 0


def test_ready_counts_every_live_worker(client):
    beat("a", in_flight=1)
    beat("b", in_flight=2, concurrency=8)
    worker = ready(client)[1]["checks"]["worker"]
    assert (worker["workers"], worker["in_flight"], worker["concurrency"]) == (2, 3, 40)


def test_ready_is_503_naming_the_worker_before_any_heartbeat(client):
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["error"] == "no delivery worker heartbeat yet"


def test_ready_is_503_when_the_last_heartbeat_is_too_old(client, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS = 60
    beat()
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(seconds=90))
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["worker"]
    assert 89 <= body["checks"]["worker"]["last_beat_age_seconds"] < 100


def test_a_worker_that_stopped_cleanly_is_gone_at_once(client):
    beat("leaving")
    heartbeat_forget("leaving")
    assert ready(client)[1]["failing"] == ["worker"]


def test_ready_is_503_naming_the_queue_when_a_due_delivery_waits_too_long(client, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    beat()
    due(endpoint_create(), seconds_ago=400)
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["queue"]
    assert body["checks"]["queue"]["oldest_due_age_seconds"] >= 400


def test_a_delivery_due_later_is_not_late(client):
    beat()
    delivery_create(
        email_create(), endpoint_create(), status="pending", next_attempt_at=timezone.now() + timedelta(hours=2)
    )
    status, body = ready(client)
    assert status == 200, body
    assert body["checks"]["queue"]["oldest_due_age_seconds"] == 0


def test_a_late_delivery_is_late_from_its_due_time_not_from_its_creation(client):
    beat()
    delivery = due(endpoint_create(), seconds_ago=30)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=3))
    status, body = ready(client)
    assert status == 200, body
    assert 29 <= body["checks"]["queue"]["oldest_due_age_seconds"] < 60


def test_deliveries_held_back_by_an_open_breaker_do_not_make_the_service_unready(client, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    beat()
    endpoint = endpoint_create()
    EndpointLane.objects.create(endpoint=endpoint, state="open", open_until=timezone.now() + timedelta(minutes=5))
    due(endpoint, seconds_ago=3600)
    status, body = ready(client)
    assert status == 200, body


def test_paused_deliveries_do_not_make_the_service_unready(client, settings):
    settings.HEALTH_QUEUE_MAX_AGE_SECONDS = 300
    beat()
    endpoint = endpoint_create(is_active=False)
    delivery_create(email_create(), endpoint, status="paused", next_attempt_at=timezone.now() - timedelta(hours=1))
    assert ready(client)[0] == 200


@override_settings(CACHES=DEAD_REDIS)
def test_ready_is_503_naming_the_cache_when_redis_is_down(client):
    beat()
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["cache"]


def test_heartbeats_of_workers_gone_for_a_day_are_dropped():
    beat("old-worker")
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(days=2))
    beat("new-worker")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["new-worker"]



def test_ready_proves_the_database_commits_a_write(client):
    beat()
    assert ready(client)[1]["checks"]["database"] == {"ok": True, "writable": True}
    assert WriteProbe.objects.get().checked_at > timezone.now() - timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_the_database_when_it_cannot_take_a_write(client):
    beat()
    with database_read_only():
        status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["writable"] is False
    assert body["checks"]["database"]["error"].startswith("database cannot take a write (")
