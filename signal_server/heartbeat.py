"""Worker heartbeat: a tiny task that proves a worker is draining the queue (read by /health/ready).

Something periodic calls `heartbeat_enqueue()` (the delivery sweep loop); whichever worker runs the
task records its id, the time, and how long the task waited in the queue.
"""

from datetime import timedelta

from django.db import transaction
from django.tasks import TaskContext, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from signal_server.models import WorkerHeartbeat

# Rows of workers that stopped beating this long ago are dropped (worker ids change at each start).
HEARTBEAT_KEEP = timedelta(days=1)


def heartbeat_record(worker_id: str, enqueued_at=None) -> WorkerHeartbeat:
    now = timezone.now()
    lag_ms = max(0, int((now - enqueued_at).total_seconds() * 1000)) if enqueued_at else 0
    with transaction.atomic():
        beat, _ = WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id[:64], defaults={"beat_at": now, "queue_lag_ms": lag_ms}
        )
        WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_KEEP).delete()
    return beat


@task(takes_context=True)
def worker_heartbeat_task(context: TaskContext) -> None:
    result = context.task_result
    heartbeat_record(result.worker_ids[-1] if result.worker_ids else "unknown", result.enqueued_at)


def heartbeat_enqueue() -> bool:
    """Enqueue one heartbeat unless one is already waiting (so beats never pile up while workers are down)."""
    waiting = DBTaskResult.objects.filter(task_path=worker_heartbeat_task.module_path).ready().exists()
    if waiting:
        return False
    worker_heartbeat_task.enqueue()
    return True
