from django.db import models


class WriteProbe(models.Model):
    """One row, rewritten by each /health/ready: a database that reads but cannot commit a write (disk full,
    read-only) answers every push 500, so readiness proves a committed write."""

    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Write probe at {self.checked_at:%Y-%m-%d %H:%M:%S}"
