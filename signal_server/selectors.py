"""Reads about the running service itself: worker heartbeats and the task queue."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, Max, Min, When
from django.db.models.functions import Greatest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from signal_server.models import WorkerHeartbeat


@dataclass(frozen=True)
class QueueState:
    due: int  # tasks ready to run now
    oldest_due_since: datetime | None  # when the longest-waiting of them became due

    def oldest_due_age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_since).total_seconds()) if self.oldest_due_since else 0.0


def task_queue_state() -> QueueState:
    """Ready tasks that are due now, and since when the oldest of them waits (one query)."""
    never = get_date_max()  # django-tasks-db's run_after for "as soon as possible"
    due_since = Case(When(run_after=never, then=F("enqueued_at")), default=Greatest("run_after", "enqueued_at"))
    row = DBTaskResult.objects.ready().order_by().aggregate(due=Count("pk"), oldest=Min(due_since))
    return QueueState(due=row["due"], oldest_due_since=row["oldest"])


def heartbeat_last_at() -> datetime | None:
    return WorkerHeartbeat.objects.aggregate(last=Max("beat_at"))["last"]


def seconds_since(moment: datetime | None, now: datetime | None = None) -> float | None:
    if moment is None:
        return None
    return round(max(0.0, ((now or timezone.now()) - moment).total_seconds()), 1)
