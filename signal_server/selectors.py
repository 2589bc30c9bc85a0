"""Reads about the running service itself: the delivery workers' heartbeats."""

from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from signal_server.models import WorkerHeartbeat


def heartbeat_last_at() -> datetime | None:
    return WorkerHeartbeat.objects.aggregate(last=Max("beat_at"))["last"]


def workers_alive(max_age_seconds: float, now: datetime | None = None) -> list[WorkerHeartbeat]:
    """Workers that beat within `max_age_seconds`, newest beat first."""
    now = now or timezone.now()
    return list(WorkerHeartbeat.objects.filter(beat_at__gte=now - timedelta(seconds=max_age_seconds)))


def seconds_since(moment: datetime | None, now: datetime | None = None) -> float | None:
    if moment is None:
        return None
    return round(max(0.0, ((now or timezone.now()) - moment).total_seconds()), 1)
