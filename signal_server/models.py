from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each task worker ran the heartbeat task: proof that the queue is being drained."""

    worker_id = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField(db_index=True)
    queue_lag_ms = models.PositiveIntegerField(
        default=0, help_text="How long the heartbeat task waited in the queue before a worker ran it."
    )

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return self.worker_id
