"""The delivery workers' housekeeping, on their `worker_tick`: the hourly rollups the overview reads
(ops.rollups), by the one worker holding the rollup lease, and the daily retention run (ops.retention),
by the worker that claims it, a few short transactions per tick until it is done."""

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from configuration.models import RetentionSettings
from ops.retention import HistoryPurge, retention_run_claim, retention_run_record
from ops.rollups import rollup_lease_take, rollups_update

logger = logging.getLogger("ops.housekeeping")

PURGE_BUDGET_SECONDS = 0.3  # of purge batches per tick: the worker's loop goes on in between
RETENTION_CHECK_EVERY = timedelta(minutes=1)


class Housekeeper:
    def __init__(self, clock=timezone.now):
        self.clock = clock
        self._purge: HistoryPurge | None = None
        self._checked_at: datetime | None = None

    def on_tick(self, sender=None, *, worker_id: str, **kwargs) -> None:
        """A worker's tick (its loop thread). Database errors go up to the worker, which handles outages; any
        other failure is logged here and never stops the worker."""
        try:
            now = self.clock()
            if rollup_lease_take(worker_id, now=now):
                rollups_update(now)
            self._retention(worker_id, now)
        except (DatabaseError, InterfaceError):
            raise
        except Exception:
            logger.exception("HOUSEKEEPING: failed")

    def _retention(self, worker_id: str, now: datetime) -> None:
        if self._purge is None:
            if self._checked_at is not None and now - self._checked_at < RETENTION_CHECK_EVERY:
                return
            self._checked_at = now
            settings = RetentionSettings.objects.filter(pk=1).first() or RetentionSettings()
            if not settings.retention_days:
                return
            self._purge = retention_run_claim(settings.retention_days, worker_id, now)
            if self._purge is None:
                return
            logger.info("RETENTION: deleting history older than %d days", settings.retention_days)
        self._purge.run(budget=PURGE_BUDGET_SECONDS)
        retention_run_record(self._purge, now=now)
        if self._purge.done:
            logger.info("RETENTION: done: %s, longest transaction %d ms", self._purge.counts, self._purge.max_lock_ms)
            self._purge = None


housekeeper = Housekeeper()
