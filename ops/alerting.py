"""Alert evaluation in the delivery workers: on their `worker_tick`, every ALERT_EVALUATE_SECONDS, the one
worker holding the alert lease runs the rules and hands the notifications due to the sending thread."""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, InterfaceError

from ops.notifications import Notifier
from ops.services import alert_lease_take, alerts_evaluate

logger = logging.getLogger("ops.alerts")

# A worker that stops evaluating (it died) leaves the lease to another after this many evaluation periods.
LEASE_PERIODS = 3


class AlertWatcher:
    def __init__(self, notifier: Notifier | None = None):
        self.notifier = notifier or Notifier()
        self._next_at: float | None = None

    def on_tick(self, sender=None, *, worker_id: str, **kwargs) -> None:
        """A worker's tick (its loop thread): evaluate when the period has passed and this worker holds the lease.

        Database errors go up to the worker, which handles outages; any other failure is logged here and
        never stops the worker."""
        interval = settings.ALERT_EVALUATE_SECONDS
        now = time.monotonic()
        if self._next_at is None:
            self._next_at = now + interval  # a worker just started: the first evaluation after one period
        if now < self._next_at:
            return
        self._next_at = now + interval
        try:
            if alert_lease_take(worker_id, seconds=interval * LEASE_PERIODS + 5):
                self.notifier.submit(alerts_evaluate())
        except (DatabaseError, InterfaceError):
            raise
        except Exception:
            logger.exception("ALERT: evaluation failed")


watcher = AlertWatcher()
