"""Time-window evaluation (SPEC §5.4) as pure functions of the configuration and the local time."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.times import time_parse
from ingress.detectors import DESABO, RECADRAGE

DELIVER = "deliver"
SKIP = "skip"
REJECT = "reject"
DEFER = "defer"


@dataclass(frozen=True)
class WindowState:
    configured: bool
    within: bool
    early: bool  # outside and before the start (only meaningful when not within)


def window_state(start: str | None, end: str | None, now_local: datetime) -> WindowState:
    start_t, end_t = time_parse(start), time_parse(end)
    if start_t is None or end_t is None:
        return WindowState(configured=False, within=True, early=False)
    now_t = now_local.time()
    if start_t <= end_t:
        within = start_t <= now_t < end_t
    else:
        within = now_t >= start_t or now_t < end_t
    return WindowState(configured=True, within=within, early=not within and now_t < start_t)


def window_next_open(start: str, now_local: datetime) -> datetime:
    """The next moment (in the zone of `now_local`) the window opens."""
    start_t = time_parse(start)
    candidate = now_local.replace(hour=start_t.hour, minute=start_t.minute, second=0, microsecond=0)
    if candidate <= now_local:
        candidate = (candidate + timedelta(days=1)).replace(hour=start_t.hour, minute=start_t.minute)
    return candidate


@dataclass(frozen=True)
class WindowDecision:
    action: str  # DELIVER | SKIP | REJECT | DEFER
    message: str = ""
    webhooks_time_start: str | None = None
    webhooks_time_end: str | None = None
    deliver_after: datetime | None = None


def window_decide(
    *,
    detector: str | None,
    is_urgent: bool,
    start: str | None,
    end: str | None,
    policy: str,
    now_local: datetime,
) -> WindowDecision:
    """What the time window does to an e-mail, per SPEC §5.4."""
    state = window_state(start, end, now_local)
    end_value = end or None
    if not state.configured:
        return WindowDecision(DELIVER, webhooks_time_end=end_value)
    if state.within:
        return WindowDecision(DELIVER, webhooks_time_start="maintenant", webhooks_time_end=end_value)
    if detector == RECADRAGE:
        return WindowDecision(SKIP, message="skipped_outside_time_window")
    if detector == DESABO and not is_urgent:
        return WindowDecision(
            DELIVER, webhooks_time_start=start if state.early else None, webhooks_time_end=end_value
        )
    message = "Outside time window (DESABO urgent)" if detector == DESABO else "Outside time window"
    if policy == DEFER:
        return WindowDecision(
            DEFER,
            message=message,
            webhooks_time_start="maintenant",
            webhooks_time_end=end_value,
            deliver_after=window_next_open(start, now_local),
        )
    return WindowDecision(REJECT, message=message)
