"""The retry schedule as a pure function: jitter bounds, exhaustion, Retry-After parsing and its cap."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from webhooks.schedule import RETRY_AFTER_MAX_SECONDS, retry_after_seconds, retry_delay

NOW = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
DEFAULT = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


@pytest.mark.parametrize("index", range(1, len(DEFAULT)))
def test_jitter_stays_within_twenty_percent(index):
    delays = [retry_delay(DEFAULT, index) for _ in range(500)]
    assert all(0.8 * DEFAULT[index] <= d <= 1.2 * DEFAULT[index] for d in delays)


def test_jitter_actually_spreads_retries():
    delays = {round(retry_delay(DEFAULT, 3), 3) for _ in range(50)}
    assert len(delays) > 40


def test_the_immediate_slot_has_no_delay():
    assert retry_delay(DEFAULT, 0) == 0


def test_exhausted_schedule_gives_no_retry():
    assert retry_delay(DEFAULT, len(DEFAULT)) is None
    assert retry_delay([0], 1, retry_after=10) is None


def test_retry_after_longer_than_the_slot_wins():
    assert retry_delay([0, 5], 1, retry_after=60) == 60


def test_retry_after_shorter_than_the_slot_does_not_shorten_it():
    assert retry_delay([0, 600], 1, retry_after=5) >= 480


def test_retry_after_is_capped():
    assert retry_delay([0, 5], 1, retry_after=10 * 86400) == RETRY_AFTER_MAX_SECONDS


def test_retry_after_delta_seconds():
    assert retry_after_seconds(" 120 ", NOW) == 120


def test_retry_after_http_date():
    assert retry_after_seconds(format_datetime(NOW + timedelta(minutes=10), usegmt=True), NOW) == 600


def test_retry_after_date_in_the_past_means_now():
    assert retry_after_seconds(format_datetime(NOW - timedelta(minutes=10), usegmt=True), NOW) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2026 99:99:99 GMT"])
def test_unusable_retry_after_is_ignored(value):
    assert retry_after_seconds(value, NOW) is None
