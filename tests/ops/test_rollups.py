"""The hourly rollups the overview reads: kept by the delivery workers, equal to counting the history."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingress.models import InboundEmail
from ops.housekeeping import Housekeeper
from ops.models import HourlyRollup, RollupState
from ops.overview import overview_build
from ops.retention import history_purge
from ops.rollups import FOLLOW_BATCH, Figure, hour_of, rollups_build, rollups_update, value_bucket
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

Metric = HourlyRollup.Metric
NOW = datetime(2026, 4, 10, 15, 20, tzinfo=UTC)


def rolled(metric: str) -> dict[tuple[int, str], int]:
    return {(r.hour, r.key): r.count for r in HourlyRollup.objects.filter(metric=metric) if r.count}


def raw_email_counts(until: datetime = NOW) -> dict[tuple[int, str], int]:
    counts: Counter = Counter()
    for at, status in InboundEmail.objects.filter(received_at__lt=until).values_list("received_at", "status"):
        counts[hour_of(at), status] += 1
    return dict(counts)


def history(now: datetime = NOW, hours: int = 30) -> None:
    """E-mails, deliveries and attempts over the last `hours` hours, the current hour included."""
    endpoint = endpoint_create()
    statuses = [InboundEmail.Status.PROCESSED, InboundEmail.Status.SKIPPED_NO_LINKS, InboundEmail.Status.DEFERRED]
    for n in range(hours):
        at = now - timedelta(minutes=50 * n + 1)
        email = email_create(received_at=at, status=statuses[n % 3], answer_ms=10 * n)
        attempts = [failed_attempt(502, started_at=at)] + ([ok_attempt(started_at=at)] if n % 2 else [])
        delivery_create(email, endpoint, created_at=at, attempts=attempts)


def test_the_rollups_equal_the_counts_of_the_history_hour_by_hour_the_current_hour_included():
    history()
    rollups_build(lambda: NOW)
    assert rolled(Metric.EMAIL_STATUS) == raw_email_counts()
    assert (hour_of(NOW), "processed") in rolled(Metric.EMAIL_STATUS)
    deliveries = Counter(
        (hour_of(at), status) for at, status in WebhookDelivery.objects.values_list("created_at", "status")
    )
    assert rolled(Metric.DELIVERY_STATUS) == dict(deliveries)
    assert sum(rolled(Metric.ATTEMPT_FAILED).values()) == 30
    assert sum(rolled(Metric.ATTEMPT_SUCCEEDED).values()) == 15


def test_a_row_committed_late_with_a_lower_id_is_counted_when_its_hour_is_rolled_again():
    early = email_create(received_at=NOW - timedelta(minutes=5))
    email_create(received_at=NOW - timedelta(minutes=4), id=early.pk + 10)
    rollups_update(NOW)
    email_create(received_at=NOW - timedelta(minutes=70), id=early.pk + 5)  # below the high-water mark
    rollups_update(NOW + timedelta(seconds=2))
    assert rolled(Metric.EMAIL_STATUS) == raw_email_counts(NOW + timedelta(seconds=2))


def test_a_history_older_than_the_rollups_is_backfilled_newest_first_in_bounded_steps():
    for n in range(FOLLOW_BATCH + 20):
        email_create(received_at=NOW - timedelta(hours=2 + n % 200))
    assert rollups_update(NOW, budget=0.0) is True  # only the current and previous hours so far
    assert not rolled(Metric.EMAIL_STATUS)
    rollups_build(lambda: NOW)
    assert rolled(Metric.EMAIL_STATUS) == raw_email_counts()
    assert not any(mark["low"] for mark in RollupState.objects.get().marks.values())


def test_an_older_delivery_whose_status_changed_is_counted_again_by_the_sweep():
    email = email_create(received_at=NOW - timedelta(days=2))
    delivery = delivery_create(email, created_at=NOW - timedelta(days=2), status=WebhookDelivery.Status.PENDING)
    rollups_build(lambda: NOW)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.CANCELLED)
    for tick in range(40):  # every hour of the last days comes round within a few dozen ticks
        rollups_update(NOW + timedelta(seconds=2 * tick))
    assert rolled(Metric.DELIVERY_STATUS) == {(hour_of(NOW - timedelta(days=2)), "cancelled"): 1}


def test_one_worker_at_a_time_rolls_up_and_another_takes_over_when_its_lease_runs_out():
    email_create(received_at=NOW - timedelta(minutes=5))
    first, second = Housekeeper(clock=lambda: NOW), Housekeeper(clock=lambda: NOW + timedelta(seconds=5))
    first.on_tick(worker_id="worker-a")
    email_create(received_at=NOW - timedelta(minutes=3))
    second.on_tick(worker_id="worker-b")  # worker-a holds the lease
    assert RollupState.objects.get().rolled_at == NOW
    later = Housekeeper(clock=lambda: NOW + timedelta(minutes=5))
    later.on_tick(worker_id="worker-b")
    assert RollupState.objects.get().holder == "worker-b"
    assert rolled(Metric.EMAIL_STATUS) == {(hour_of(NOW), "processed"): 2}


def test_the_overview_adds_the_rows_since_the_last_roll_up_read_live():
    rollups_build(lambda: NOW - timedelta(minutes=1))
    email_create(received_at=NOW - timedelta(seconds=30))
    data = overview_build(NOW)
    assert data["emails_today_total"] == 1 and not data["freshness"].missing


def test_the_overview_says_when_the_rollups_fall_behind():
    rollups_build(lambda: NOW - timedelta(hours=2))
    assert overview_build(NOW)["freshness"].missing


def test_purged_history_keeps_its_rollups_and_the_overview_its_counts():
    now = timezone.now()
    endpoint = endpoint_create()
    for days in (3, 4):
        at = now - timedelta(days=days)
        delivery_create(email_create(received_at=at), endpoint, created_at=at, attempts=[ok_attempt(started_at=at)])
    rollups_build()
    before = overview_build(now)["emails_chart"].total
    assert history_purge(1)["emails"] == 2
    rollups_build()
    assert before == 2 and overview_build(now)["emails_chart"].total == 2


def test_durations_are_kept_exactly_below_a_second_and_to_three_significant_digits_above():
    assert [value_bucket(ms) for ms in (0, 999, 1234, 30017, 123456)] == [0, 999, 1230, 30000, 123000]


def test_percentiles_are_by_nearest_rank_over_the_counted_values():
    figure = Figure()
    for ms in range(10, 210, 10):
        figure.add(ms)
    assert figure.percentiles() == {50: 100, 95: 190}


def test_counting_an_hour_twice_writes_nothing_the_second_time():
    history(hours=3)
    rollups_build(lambda: NOW)
    with CaptureQueriesContext(connection) as queries:
        rollups_update(NOW)
    writes = [q["sql"] for q in queries if "ops_hourlyrollup" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert writes == [] and HourlyRollup.objects.values("metric").distinct().count() == len(Metric)
