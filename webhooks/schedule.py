"""When the next attempt goes out: the retry schedule, its jitter, and the receiver's Retry-After (SPEC §7)."""

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

RETRY_JITTER = 0.2
# A receiver may ask for more time than the schedule gives (Retry-After), up to this bound; a longer
# request is capped so one answer cannot park a delivery for days.
RETRY_AFTER_MAX_SECONDS = 3600


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds the receiver asked us to wait (delta-seconds or HTTP-date form), or None when absent or invalid."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts "²" and other digits float() refuses
        return float(min(int(value[:12]), RETRY_AFTER_MAX_SECONDS * 10))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_delay(schedule: list[int], attempts_done: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is exhausted.

    `schedule[i]` is the delay before attempt i+1. Jitter (±20 %) spreads the retries of many deliveries
    apart; a Retry-After longer than that is honoured up to RETRY_AFTER_MAX_SECONDS, never shortening it.
    """
    if attempts_done >= len(schedule):
        return None
    delay = schedule[attempts_done] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX_SECONDS))
    return delay
