"""Worker heartbeats: each delivery worker records, every few seconds, that it is alive and how busy it is.

/health/ready and the overview read them; a worker whose last beat is too old counts as gone.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from webhooks.models import WorkerHeartbeat

# Rows of workers that stopped beating this long ago are dropped (worker ids change at each start).
HEARTBEAT_KEEP = timedelta(days=1)


def heartbeat_record(
    worker_id: str, *, started_at: datetime | None = None, concurrency: int = 0, in_flight: int = 0
) -> None:
    now = timezone.now()
    with transaction.atomic():
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id[:64],
            defaults={"beat_at": now, "started_at": started_at, "concurrency": concurrency, "in_flight": in_flight},
        )
        WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_KEEP).delete()


def heartbeat_forget(worker_id: str) -> None:
    """A worker that stops cleanly takes its row with it."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id[:64]).delete()
