from django.db import models


class WorkerHeartbeat(models.Model):
    """Each delivery worker's last sign of life, written by its own loop every few seconds."""

    worker_id = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    concurrency = models.PositiveSmallIntegerField(default=0, help_text="Deliveries it may send at once.")
    in_flight = models.PositiveSmallIntegerField(default=0, help_text="Deliveries it was sending at the last beat.")

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return self.worker_id
