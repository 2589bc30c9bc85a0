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
# A rollup pass holds the worker's loop (and takes SQLite's write lock) for up to ~0.2 s; on every tick it
# delayed deliveries (end-to-end p95 435 ms against 23 ms). The overview reads the rows past the last pass
# live, so a pass a minute keeps it exact. The lease outlives a few passes, so one worker keeps it.
ROLLUP_EVERY = timedelta(minutes=1)
ROLLUP_LEASE_SECONDS = 3 * ROLLUP_EVERY.total_seconds()


class Housekeeper:
    def __init__(self, clock=timezone.now):
        self.clock = clock
        self._purge: HistoryPurge | None = None
        self._checked_at: datetime | None = None
        self._rolled_at: datetime | None = None

    def on_tick(self, sender=None, *, worker_id: str, **kwargs) -> None:
        """A worker's tick (its loop thread). Database errors go up to the worker, which handles outages; any
        other failure is logged here and never stops the worker."""
        try:
            now = self.clock()
            self._rollups(worker_id, now)
            self._retention(worker_id, now)
        except (DatabaseError, InterfaceError):
            raise
        except Exception:
            logger.exception("HOUSEKEEPING: failed")

    def _rollups(self, worker_id: str, now: datetime) -> None:
        if self._rolled_at is not None and now - self._rolled_at < ROLLUP_EVERY:
            return
        self._rolled_at = now
        if rollup_lease_take(worker_id, seconds=ROLLUP_LEASE_SECONDS, now=now):
            rollups_update(now)

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
