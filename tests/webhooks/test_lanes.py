"""Lane rules (SPEC §7.1) as pure functions: admission, circuit breaker, rate spacing, auto-disable."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.lanes import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Lane,
    LaneLimits,
    Outcome,
    lane_admit,
    lane_after_admission,
    lane_after_attempt,
    lane_is_failing_for,
    lane_state_shown,
)

NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
LIMITS = LaneLimits(
    max_in_flight=8, rate_limit_per_minute=None, breaker_failures=5,
    cooldown_first=timedelta(seconds=30), cooldown_max=timedelta(minutes=10),
)
SECONDS = timedelta(seconds=1)


def failures(lane: Lane, count: int, *, at=NOW) -> Lane:
    for _ in range(count):
        lane = lane_after_attempt(lane, LIMITS, Outcome.FAILURE, delivery_id=1, now=at)
    return lane


# --- admission ---------------------------------------------------------------------------------------------
ADMISSIONS = {
    "a closed lane takes what it wants, up to its free room": (Lane(), 0, 5, 5),
    "in flight counts against max_in_flight": (Lane(), 6, 5, 2),
    "a full lane takes nothing": (Lane(), 8, 5, 0),
    "an open lane takes nothing during its cool-down": (Lane(state=OPEN, open_until=NOW + 10 * SECONDS), 0, 5, 0),
    "an open lane whose cool-down ended takes one probe": (Lane(state=OPEN, open_until=NOW - SECONDS), 0, 5, 1),
    "a half-open lane with its probe out takes nothing": (Lane(state=HALF_OPEN, probe_delivery_id=7), 0, 5, 0),
    "nothing wanted, nothing taken": (Lane(), 0, 0, 0),
}


@pytest.mark.parametrize(("lane", "in_flight", "wanted", "taken"), ADMISSIONS.values(), ids=ADMISSIONS.keys())
def test_admission_table(lane, in_flight, wanted, taken):
    assert lane_admit(lane, LIMITS, in_flight=in_flight, wanted=wanted, now=NOW).count == taken


def test_an_open_lane_says_when_it_may_admit_again():
    admission = lane_admit(Lane(state=OPEN, open_until=NOW + 10 * SECONDS), LIMITS, in_flight=0, wanted=3, now=NOW)
    assert admission.wait_until == NOW + 10 * SECONDS


def test_the_probe_is_marked_and_the_lane_becomes_half_open():
    lane = Lane(state=OPEN, open_until=NOW - SECONDS, cooldown_seconds=30)
    admission = lane_admit(lane, LIMITS, in_flight=0, wanted=3, now=NOW)
    after = lane_after_admission(lane, LIMITS, admission, probe_id=42, now=NOW)
    assert admission.probe and (after.state, after.probe_delivery_id, after.state_since) == (HALF_OPEN, 42, NOW)


# --- rate limit --------------------------------------------------------------------------------------------
RATED = replace(LIMITS, rate_limit_per_minute=6)


def test_a_rate_limited_lane_starts_one_attempt_per_interval():
    lane = Lane()
    admission = lane_admit(lane, RATED, in_flight=0, wanted=5, now=NOW)
    assert admission.count == 1
    lane = lane_after_admission(lane, RATED, admission, probe_id=None, now=NOW)
    assert lane.rate_next_at == NOW + 10 * SECONDS
    assert lane_admit(lane, RATED, in_flight=1, wanted=5, now=NOW + 9 * SECONDS).count == 0
    assert lane_admit(lane, RATED, in_flight=1, wanted=5, now=NOW + 10 * SECONDS).count == 1


def test_a_rate_limited_lane_says_when_the_next_start_is_allowed():
    lane = Lane(rate_next_at=NOW + 4 * SECONDS)
    assert lane_admit(lane, RATED, in_flight=0, wanted=1, now=NOW).wait_until == NOW + 4 * SECONDS


def test_a_long_idle_rate_limited_lane_does_not_save_up_a_burst():
    lane = Lane(rate_next_at=NOW - timedelta(hours=1))
    admission = lane_admit(lane, RATED, in_flight=0, wanted=5, now=NOW)
    after = lane_after_admission(lane, RATED, admission, probe_id=None, now=NOW)
    assert admission.count == 1 and after.rate_next_at == NOW + 10 * SECONDS


def test_no_more_than_the_rate_starts_in_any_minute():
    lane, starts, moment = Lane(), [], NOW
    while moment < NOW + timedelta(minutes=3):
        admission = lane_admit(lane, RATED, in_flight=0, wanted=10, now=moment)
        starts += [moment] * admission.count
        lane = lane_after_admission(lane, RATED, admission, probe_id=None, now=moment)
        moment += timedelta(milliseconds=250)
    windows = [sum(1 for s in starts if start <= s < start + timedelta(minutes=1)) for start in starts]
    assert max(windows) <= 6 and len(starts) >= 17


# --- circuit breaker ---------------------------------------------------------------------------------------
def test_the_breaker_opens_after_the_configured_consecutive_failures():
    assert failures(Lane(), 4).state == CLOSED
    opened = failures(Lane(), 5)
    assert (opened.state, opened.open_until, opened.cooldown_seconds) == (OPEN, NOW + 30 * SECONDS, 30)


def test_a_success_resets_the_count_of_failures():
    lane = lane_after_attempt(failures(Lane(), 4), LIMITS, Outcome.SUCCESS, delivery_id=1, now=NOW)
    assert lane.consecutive_failures == 0 and failures(lane, 4).state == CLOSED


def test_a_refusal_neither_counts_towards_nor_resets_the_breaker():
    lane = lane_after_attempt(failures(Lane(), 4), LIMITS, Outcome.REFUSAL, delivery_id=1, now=NOW)
    assert lane.consecutive_failures == 4 and failures(lane, 1).state == OPEN


def probe_out(cooldown: int) -> Lane:
    return Lane(state=HALF_OPEN, probe_delivery_id=9, cooldown_seconds=cooldown, consecutive_failures=5)


def test_a_successful_probe_closes_the_lane():
    lane = lane_after_attempt(probe_out(30), LIMITS, Outcome.SUCCESS, delivery_id=9, now=NOW)
    fields = (lane.state, lane.probe_delivery_id, lane.cooldown_seconds, lane.consecutive_failures)
    assert fields == (CLOSED, None, 0, 0)


def test_a_failed_probe_reopens_with_twice_the_cool_down():
    lane = lane_after_attempt(probe_out(30), LIMITS, Outcome.FAILURE, delivery_id=9, now=NOW)
    assert (lane.state, lane.cooldown_seconds, lane.open_until) == (OPEN, 60, NOW + 60 * SECONDS)


def test_the_cool_down_doubles_up_to_ten_minutes():
    lane = lane_after_attempt(probe_out(480), LIMITS, Outcome.FAILURE, delivery_id=9, now=NOW)
    assert lane.cooldown_seconds == 600


def test_a_refused_probe_closes_the_lane_since_the_receiver_answered():
    lane = lane_after_attempt(probe_out(30), LIMITS, Outcome.REFUSAL, delivery_id=9, now=NOW)
    assert lane.state == CLOSED


def test_an_attempt_in_flight_when_the_lane_opened_does_not_reopen_it():
    opened = failures(Lane(), 5)
    later = lane_after_attempt(opened, LIMITS, Outcome.FAILURE, delivery_id=2, now=NOW + 5 * SECONDS)
    assert later.open_until == opened.open_until


def test_the_lane_keeps_the_time_it_opened_through_failed_probes_until_it_closes():
    opened = failures(Lane(), 5, at=NOW)
    probe = replace(opened, state=HALF_OPEN, probe_delivery_id=9)
    reopened = lane_after_attempt(probe, LIMITS, Outcome.FAILURE, delivery_id=9, now=NOW + 40 * SECONDS)
    closed = lane_after_attempt(replace(reopened, state=HALF_OPEN, probe_delivery_id=9), LIMITS, Outcome.SUCCESS,
                                delivery_id=9, now=NOW + 2 * timedelta(minutes=1))
    assert (opened.opened_at, reopened.opened_at, closed.opened_at) == (NOW, NOW, None)


# --- health ------------------------------------------------------------------------------------------------
def test_failing_since_is_the_first_failure_after_the_last_success():
    lane = failures(Lane(), 1, at=NOW)
    lane = failures(lane, 1, at=NOW + timedelta(hours=1))
    assert lane.failing_since == NOW
    recovered = lane_after_attempt(lane, LIMITS, Outcome.SUCCESS, delivery_id=1, now=NOW + timedelta(hours=2))
    assert recovered.failing_since is None and recovered.last_success_at == NOW + timedelta(hours=2)


def test_an_endpoint_is_failing_for_a_period_only_once_every_attempt_failed_that_long():
    lane = lane_after_attempt(Lane(), LIMITS, Outcome.REFUSAL, delivery_id=1, now=NOW)
    assert not lane_is_failing_for(lane, timedelta(hours=72), NOW + timedelta(hours=71))
    assert lane_is_failing_for(lane, timedelta(hours=72), NOW + timedelta(hours=72))
    assert not lane_is_failing_for(Lane(), timedelta(hours=72), NOW)


@pytest.mark.parametrize(
    ("lane", "active", "shown"),
    [
        (Lane(), True, "closed"),
        (Lane(state=OPEN, open_until=NOW + SECONDS), True, "open"),
        (Lane(state=OPEN, open_until=NOW - SECONDS), True, "half_open"),
        (Lane(state=HALF_OPEN, probe_delivery_id=1), True, "half_open"),
        (Lane(state=OPEN, open_until=NOW + SECONDS), False, "disabled"),
    ],
)
def test_the_state_operators_see(lane, active, shown):
    assert lane_state_shown(lane, endpoint_active=active, now=NOW) == shown
