"""Times of day as operators write them, and the days of the week."""

import re
from datetime import datetime, time

from django.utils import timezone

_TIME_RE = re.compile(r"^\s*(\d{1,2})\s*[hH:]\s*(\d{2})\s*$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def time_parse(value: str | None) -> time | None:
    """`HHhMM` or `HH:MM` (hours 0-23, minutes 0-59); anything else is None."""
    match = _TIME_RE.match(value or "")
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return None
    return time(hours, minutes)


def seconds_since(moment: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds from `moment` to now (or `now`), one decimal; None without a moment."""
    if moment is None:
        return None
    return round(max(0.0, ((now or timezone.now()) - moment).total_seconds()), 1)
