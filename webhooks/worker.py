"""The delivery worker (SPEC §7.1): one process sending up to DELIVERY_CONCURRENCY deliveries at once.

The main thread runs the loop: it claims due deliveries lane by lane (webhooks.services.queue), hands
each to a thread of the pool, takes back the deliveries of dead workers and beats the heartbeat.
Each send runs in its own thread, so a receiver that is slow, or never answers, holds one thread and
one slot of its own lane, never the others. Any number of these processes, on any number of
machines, share one database.

Stopping (SIGTERM, SIGINT): no new claims; sends in flight get DELIVERY_STOP_GRACE_SECONDS to finish,
and those still running then are handed back to the queue, as a dead worker's would be.
"""

import logging
import os
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import DatabaseError, InterfaceError, close_old_connections
from django.utils import timezone

from signal_server.heartbeat import heartbeat_forget, heartbeat_record
from webhooks.services.queue import Claim, deliveries_claim
from webhooks.services.sending import deliveries_recover_expired, delivery_interrupt, delivery_send

logger = logging.getLogger("webhooks.worker")

HEARTBEAT_SECONDS = 5.0
RECOVER_SECONDS = 2.0
# After a send finishes the loop claims again at once, but not more often than this: completions
# arriving together are answered by one claim round.
MIN_ROUND_SECONDS = 0.005
OUTAGE_BACKOFF_MAX_SECONDS = 5.0


def worker_id_default() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class DeliveryWorker:
    def __init__(self, *, concurrency: int, poll_seconds: float, stop_grace: float, worker_id: str = ""):
        self.concurrency = max(1, concurrency)
        self.poll_seconds = poll_seconds
        self.stop_grace = stop_grace
        self.worker_id = worker_id or worker_id_default()
        self.started_at = timezone.now()
        self._running: dict[Future, Claim] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._turn = 0
        self._next_beat = 0.0
        self._next_recovery = 0.0
        self._outage_since: float | None = None

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def run(self, *, drain: bool = False) -> None:
        """Send until stopped; with `drain`, stop once nothing is due and nothing is in flight."""
        logger.info("Delivery worker %s started: up to %d deliveries at once", self.worker_id, self.concurrency)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="delivery")
        try:
            while not self._stopping.is_set():
                claimed = self._round(pool)
                if drain and claimed == 0 and not self._running:
                    break
        finally:
            left = self._drain()
            pool.shutdown(wait=not left, cancel_futures=True)
            self._forget()
        logger.info("Delivery worker %s stopped", self.worker_id)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def _round(self, pool: ThreadPoolExecutor) -> int | None:
        """One claim round; how many deliveries it claimed (None while the database is unreachable)."""
        self._reap()
        try:
            self._maintain()
            free = self.concurrency - len(self._running)
            claimed = deliveries_claim(free, turn=self._turn) if free else None
        except (DatabaseError, InterfaceError) as exc:
            self._outage(exc)
            return None
        self._outage_over()
        self._turn += 1
        for claim in claimed.claims if claimed else ():
            future = pool.submit(self._send, claim)
            self._running[future] = claim
        timeout = self.poll_seconds
        if claimed is not None and claimed.wait_until is not None:
            timeout = min(timeout, max(0.0, (claimed.wait_until - timezone.now()).total_seconds()))
        started = time.monotonic()
        self._wake.wait(timeout)
        self._wake.clear()
        if time.monotonic() - started < MIN_ROUND_SECONDS:
            time.sleep(MIN_ROUND_SECONDS)
        return len(claimed.claims) if claimed else 0

    def _send(self, claim: Claim) -> str | None:
        close_old_connections()
        try:
            return delivery_send(claim)
        except Exception:
            # The database, most likely: the lease runs out and a round takes the delivery back.
            logger.exception("WEBHOOK_SENDER: delivery #%s could not be sent or recorded", claim.delivery_id)
            return None
        finally:
            close_old_connections()
            self._wake.set()

    def _reap(self) -> None:
        for future in [f for f in self._running if f.done()]:
            del self._running[future]

    def _maintain(self) -> None:
        now = time.monotonic()
        if now >= self._next_recovery:
            recovered = deliveries_recover_expired()
            if recovered:
                logger.warning("WEBHOOK_SENDER: took back %d deliveries whose worker stopped mid-attempt", recovered)
            self._next_recovery = now + RECOVER_SECONDS
        if now >= self._next_beat:
            heartbeat_record(
                self.worker_id, started_at=self.started_at, concurrency=self.concurrency, in_flight=len(self._running)
            )
            self._next_beat = now + HEARTBEAT_SECONDS

    def _outage(self, exc: Exception) -> None:
        """The database is unreachable: log once, back off, and try again with a fresh connection."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            logger.error("Delivery worker %s: database unavailable (%s); retrying", self.worker_id, exc)
        close_old_connections()
        waited = time.monotonic() - self._outage_since
        self._stopping.wait(min(OUTAGE_BACKOFF_MAX_SECONDS, 0.5 + waited / 2))

    def _outage_over(self) -> None:
        if self._outage_since is not None:
            logger.warning(
                "Delivery worker %s: database back after %.1f s", self.worker_id, time.monotonic() - self._outage_since
            )
            self._outage_since = None

    def _drain(self) -> list[Claim]:
        """Let the sends in flight finish within the grace; hand the others back. The claims left running."""
        if not self._running:
            return []
        logger.info("Delivery worker %s: waiting up to %g s for %d sends", self.worker_id, self.stop_grace,
                    len(self._running))
        wait(list(self._running), timeout=self.stop_grace)
        self._reap()
        left = list(self._running.values())
        for claim in left:
            try:
                delivery_interrupt(claim, reason="its worker stopped")
            except (DatabaseError, InterfaceError):
                logger.exception("WEBHOOK_SENDER: delivery #%s left to its lease", claim.delivery_id)
        return left

    def _forget(self) -> None:
        try:
            heartbeat_forget(self.worker_id)
        except (DatabaseError, InterfaceError):
            pass
