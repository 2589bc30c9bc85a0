"""The per-sender hourly rate limit (SPEC §3.2 step 5): one count per sender, whatever process or spelling."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingress.models import SenderHourCount
from ingress.ratelimit import sender_hour_increment, sender_rate_check
from tests.factories import push_payload, settings_update
from tests.service import LiveService


@pytest.mark.e2e
def test_two_web_workers_share_one_count_without_redis(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/rate"), REDIS_URL="", WEB_CONCURRENCY=2).start()
    try:
        live.shell(
            "from configuration.models import IngressSettings as S; s = S.load();"
            " s.rate_limit_per_sender_per_hour = 5; s.save()"
        )
        # Four at a time, so that both gunicorn workers answer some of them.
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(live.push, [push_payload(sender="Jo <jo@acme.fr>") for _ in range(20)]))
    finally:
        live.stop()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 5 + [429] * 15, live.log()[-3000:]
    assert all(1 <= int(a.headers["Retry-After"]) <= 3600 for a in answers if a.status_code == 429)


@pytest.fixture
def without_redis(settings):
    """The embedded stack's cache, one per process, on either stack."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rate"}}


@pytest.mark.parametrize("spelling", ['"jo"@acme.fr', "jo@acme.fr.", "jo@acme.fr\u200b", "jo@acme.fr>", "JO@ACME.FR"])
def test_another_spelling_of_a_sender_counts_against_the_same_limit(push, default_endpoint, spelling):
    settings_update(rate_limit_per_sender_per_hour=1)
    assert push(push_payload(sender="jo@acme.fr")).status_code == 200
    assert push(push_payload(sender=spelling)).status_code == 429


def test_without_redis_the_count_outlives_the_process_cache(db, without_redis):
    now = datetime(2026, 4, 10, 10, 0, tzinfo=UTC)
    assert sender_rate_check("jo@acme.fr", 1, now) is None
    cache.clear()  # what another process's local cache looks like
    assert sender_rate_check("jo@acme.fr", 1, now) is not None


def test_over_the_limit_the_sender_waits_until_the_next_hour(db, without_redis):
    now = datetime(2026, 4, 10, 10, 59, 30, tzinfo=UTC)
    sender_rate_check("jo@acme.fr", 1, now)
    assert sender_rate_check("jo@acme.fr", 1, now) == 30
    assert sender_rate_check("jo@acme.fr", 1, now + timedelta(seconds=30)) is None


def test_each_sender_and_hour_has_its_own_count(db):
    assert [sender_hour_increment("jo@acme.fr", 100) for _ in range(3)] == [1, 2, 3]
    assert sender_hour_increment("al@acme.fr", 100) == 1
    assert sender_hour_increment("jo@acme.fr", 101) == 1


def test_a_new_hour_drops_the_counts_older_than_the_hour_before(db):
    for hour in (95, 99, 100):
        sender_hour_increment("jo@acme.fr", hour)
    sender_hour_increment("al@acme.fr", 101)
    assert sorted(SenderHourCount.objects.values_list("hour", flat=True)) == [100, 101]


def test_a_push_with_the_limit_off_counts_nothing(push, default_endpoint, without_redis):
    settings_update(rate_limit_per_sender_per_hour=0)
    push(push_payload())  # the configuration snapshot is read once; what follows is one push's own work
    with CaptureQueriesContext(connection) as queries:
        assert push(push_payload()).status_code == 200
    assert not [q["sql"] for q in queries if SenderHourCount._meta.db_table in q["sql"]]
    assert not SenderHourCount.objects.exists()


def test_a_push_with_the_limit_on_costs_one_counting_statement(push, default_endpoint, without_redis):
    settings_update(rate_limit_per_sender_per_hour=10)
    push(push_payload())
    with CaptureQueriesContext(connection) as queries:
        assert push(push_payload()).status_code == 200
    assert len([q["sql"] for q in queries if SenderHourCount._meta.db_table in q["sql"]]) == 1
