"""Lane rules (SPEC §7.1) as pure functions: how many deliveries an endpoint may take now, and what an
attempt's outcome does to its circuit breaker, rate clock and health.

A lane is one endpoint's share of the delivery workers. It admits new attempts while its breaker is
closed, up to `max_in_flight` at once across every worker and at most `rate_limit_per_minute` starts,
evenly spaced. `breaker_failures` consecutive failed attempts open the breaker: the lane's deliveries
then wait, attempts unspent, for a cool-down (30 s, doubling up to 10 min); one probe goes out after
it; a success closes the lane, a failure opens it again. The database writes live in
webhooks.services; nothing here touches it.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Outcome(Enum):
    """What an attempt says about the receiver."""

    SUCCESS = "success"
    FAILURE = "failure"  # network error, timeout, 408, 425, 429, 5xx: counts towards the breaker
    REFUSAL = "refusal"  # any other failed answer: the receiver is up but refused (4xx, bad JSON)


@dataclass(frozen=True)
class LaneLimits:
    max_in_flight: int
    rate_limit_per_minute: int | None
    breaker_failures: int
    cooldown_first: timedelta
    cooldown_max: timedelta


@dataclass(frozen=True)
class Lane:
    """The lane's state, as the EndpointLane row holds it."""

    state: str = CLOSED
    state_since: datetime | None = None
    consecutive_failures: int = 0
    cooldown_seconds: int = 0
    open_until: datetime | None = None
    probe_delivery_id: int | None = None
    rate_next_at: datetime | None = None
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    opened_at: datetime | None = None  # since when the breaker has been open or half-open, probes included


@dataclass(frozen=True)
class Admission:
    count: int  # deliveries the lane takes now
    probe: bool = False  # the one delivery is the half-open probe
    wait_until: datetime | None = None  # when it may admit again, if it admits none now for a known reason


def lane_admit(lane: Lane, limits: LaneLimits, *, in_flight: int, wanted: int, now: datetime) -> Admission:
    """How many of `wanted` due deliveries the lane takes now."""
    if wanted <= 0:
        return Admission(0)
    if lane.state in (OPEN, HALF_OPEN):
        if lane.state == OPEN and lane.open_until is not None and now < lane.open_until:
            return Admission(0, wait_until=lane.open_until)
        if lane.probe_delivery_id is not None:
            return Admission(0)  # a probe is out; its answer decides
        return Admission(1, probe=True)
    room = min(wanted, limits.max_in_flight - in_flight)
    if room <= 0:
        return Admission(0)
    if limits.rate_limit_per_minute:
        if lane.rate_next_at is not None and now < lane.rate_next_at:
            return Admission(0, wait_until=lane.rate_next_at)
        room = 1  # evenly spaced: one start per interval
    return Admission(room)


def lane_after_admission(
    lane: Lane, limits: LaneLimits, admission: Admission, *, probe_id: int | None, now: datetime
) -> Lane:
    """The lane once `admission.count` deliveries were claimed (the probe's id given when it is one)."""
    if admission.count <= 0:
        return lane
    if admission.probe:
        return replace(lane, state=HALF_OPEN, state_since=now, probe_delivery_id=probe_id)
    if limits.rate_limit_per_minute:
        interval = timedelta(seconds=60 / limits.rate_limit_per_minute)
        start = max(now, lane.rate_next_at or now)
        return replace(lane, rate_next_at=start + interval * admission.count)
    return lane


def lane_after_attempt(lane: Lane, limits: LaneLimits, outcome: Outcome, *, delivery_id: int, now: datetime) -> Lane:
    """The lane once an attempt of `delivery_id` ended with `outcome`."""
    probe = lane.probe_delivery_id is not None and lane.probe_delivery_id == delivery_id
    if outcome is Outcome.SUCCESS:
        closed = _closed(lane, now) if lane.state != CLOSED else lane
        return replace(closed, consecutive_failures=0, last_success_at=now, failing_since=None)
    failing = replace(lane, failing_since=lane.failing_since or now)
    if outcome is Outcome.REFUSAL:
        # The receiver answered: it is up, so a refused probe closes the lane like a success would.
        return _closed(failing, now) if probe else failing
    failing = replace(failing, consecutive_failures=lane.consecutive_failures + 1)
    if probe:
        cooldown = min(timedelta(seconds=lane.cooldown_seconds) * 2, limits.cooldown_max)
        return _opened(failing, limits, now, cooldown=cooldown)
    if lane.state == CLOSED and failing.consecutive_failures >= limits.breaker_failures:
        return _opened(failing, limits, now, cooldown=limits.cooldown_first)
    return failing


def lane_is_failing_for(lane: Lane, period: timedelta, now: datetime) -> bool:
    """Every attempt since `failing_since` failed, and that has lasted at least `period`."""
    return lane.failing_since is not None and now - lane.failing_since >= period


def lane_state_shown(lane: Lane, *, endpoint_active: bool, now: datetime) -> str:
    """closed / open / half_open as admin and the API show it, or disabled for an inactive endpoint."""
    if not endpoint_active:
        return "disabled"
    if lane.state == OPEN and lane.open_until is not None and now >= lane.open_until:
        return HALF_OPEN  # cool-down over: the next claim sends the probe
    return lane.state


def _opened(lane: Lane, limits: LaneLimits, now: datetime, *, cooldown: timedelta) -> Lane:
    cooldown = max(cooldown, limits.cooldown_first)
    return replace(
        lane, state=OPEN, state_since=now, cooldown_seconds=int(cooldown.total_seconds()), open_until=now + cooldown,
        probe_delivery_id=None, opened_at=now if lane.state == CLOSED else (lane.opened_at or now),
    )


def _closed(lane: Lane, now: datetime) -> Lane:
    return replace(
        lane, state=CLOSED, state_since=now, consecutive_failures=0, cooldown_seconds=0, open_until=None,
        probe_delivery_id=None, opened_at=None,
    )
