"""The delivery worker (SPEC §7.1): one process sending up to DELIVERY_CONCURRENCY deliveries at once.

The main thread runs the loop: it claims due deliveries lane by lane (webhooks.services.queue), hands
each to one of the sender threads, takes back the deliveries of dead workers and beats the heartbeat.
Each send runs in a sender thread of its own, so a receiver that is slow, or never answers, holds one
thread and one slot of its own lane, never the others. Any number of these processes, on any number
of machines, share one database.

Stopping (SIGTERM, SIGINT): no new claims; sends in flight get DELIVERY_STOP_GRACE_SECONDS to finish,
and those still running then are handed back to the queue, as a dead worker's would be.
"""

import logging
import os
import queue
import socket
import threading
import time

from django.db import DatabaseError, InterfaceError, close_old_connections, connections
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
DATABASE_ERRORS = (DatabaseError, InterfaceError)


def worker_id_default() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class DeliveryWorker:
    def __init__(self, *, concurrency: int, poll_seconds: float, stop_grace: float, worker_id: str = ""):
        self.concurrency = max(1, concurrency)
        self.poll_seconds = poll_seconds
        self.stop_grace = stop_grace
        self.worker_id = worker_id or worker_id_default()
        self.started_at = timezone.now()
        self._claims: queue.SimpleQueue = queue.SimpleQueue()
        self._running: dict[int, Claim] = {}  # by delivery id: claimed and not settled yet
        self._settled = 0  # sends finished so far
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._senders: list[threading.Thread] = []
        self._turn = 0
        self._next_beat = 0.0
        self._next_recovery = 0.0
        self._outage_since: float | None = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler: it only sets a flag)."""
        self._stopping.set()

    def run(self, *, drain: bool = False) -> None:
        """Send until stopped; with `drain`, stop once nothing is due and nothing is in flight."""
        logger.info("Delivery worker %s started: up to %d deliveries at once", self.worker_id, self.concurrency)
        self._senders = [
            threading.Thread(target=self._sender, name=f"delivery-{n}", daemon=True) for n in range(self.concurrency)
        ]
        for thread in self._senders:
            thread.start()
        try:
            while not self._stopping.is_set():
                if self._round() == 0 and drain:
                    break
        finally:
            left = self._drain()
            for _ in self._senders:
                self._claims.put(None)
            if not left:
                for thread in self._senders:
                    thread.join(timeout=5)
            self._forget()
        logger.info("Delivery worker %s stopped", self.worker_id)

    def senders_alive(self) -> bool:
        return any(thread.is_alive() for thread in self._senders)

    # --- the loop ------------------------------------------------------------------------------------------
    def _round(self) -> int | None:
        """One claim round: how many sends it started or found running (None while the database is down)."""
        settled = self._settled
        try:
            self._maintain()
            free = self.concurrency - len(self._running)
            claimed = deliveries_claim(free, turn=self._turn) if free else None
        except DATABASE_ERRORS as exc:
            self._outage(exc)
            return None
        self._outage_over()
        self._turn += 1
        with self._changed:
            for claim in claimed.claims if claimed else ():
                self._running[claim.delivery_id] = claim
                self._claims.put(claim)
            busy = len(self._running)
        timeout = self.poll_seconds
        if claimed is not None and claimed.wait_until is not None:
            timeout = min(timeout, max(0.0, (claimed.wait_until - timezone.now()).total_seconds()))
        started = time.monotonic()
        with self._changed:
            # Until a send finishes (a slot frees up), or it is time to look again.
            self._changed.wait_for(lambda: self._settled != settled or self._stopping.is_set(), timeout)
        if time.monotonic() - started < MIN_ROUND_SECONDS:
            self._stopping.wait(MIN_ROUND_SECONDS)
        return busy

    def _sender(self) -> None:
        """A sender thread: sends the claims it is handed; its database connection closes with it."""
        try:
            while (claim := self._claims.get()) is not None:
                self._send(claim)
        finally:
            connections.close_all()

    def _send(self, claim: Claim) -> None:
        close_old_connections()
        try:
            delivery_send(claim)
        except Exception:
            # The database, most likely: the lease runs out and a round takes the delivery back.
            logger.exception("WEBHOOK_SENDER: delivery #%s could not be sent or recorded", claim.delivery_id)
        finally:
            with self._changed:
                self._running.pop(claim.delivery_id, None)
                self._settled += 1
                self._changed.notify_all()

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

    # --- stopping ------------------------------------------------------------------------------------------
    def _drain(self) -> list[Claim]:
        """Let the sends in flight finish within the grace, hand the others back; the claims left running."""
        deadline = time.monotonic() + self.stop_grace
        with self._changed:
            if self._running:
                logger.info(
                    "Delivery worker %s: waiting up to %g s for %d sends", self.worker_id, self.stop_grace,
                    len(self._running),
                )
            while self._running and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            left = list(self._running.values())
        for claim in left:
            try:
                delivery_interrupt(claim, reason="its worker stopped")
            except DATABASE_ERRORS:
                logger.exception("WEBHOOK_SENDER: delivery #%s left to its lease", claim.delivery_id)
        return left

    def _forget(self) -> None:
        try:
            heartbeat_forget(self.worker_id)
        except DATABASE_ERRORS:
            pass
