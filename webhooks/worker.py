"""The delivery worker (SPEC §7.1): one process sending up to DELIVERY_CONCURRENCY deliveries at once.

The main thread runs the loop and does every database write: it records the attempts the sender
threads finished, in one transaction per round, claims due deliveries lane by lane
(webhooks.services.queue) and hands each to a sender thread, takes back the deliveries of dead workers
and beats the heartbeat; every few seconds it sends `worker_tick` (webhooks.signals), on which the ops app
evaluates its alerts. A sender thread only builds the payload and makes the HTTP tries, so a
receiver that is slow, or never answers, holds one thread and one slot of its own lane, never the
others, and thirty-two sends never queue for the database's write lock against the web processes.
Any number of these processes, on any number of machines, share one database.

Pushes first: while e-mails pour in (new deliveries at INGRESS_BUSY_PER_SECOND or more, read off the
queue itself), the worker claims only once every DELIVERY_INGRESS_YIELD_SECONDS, so a burst of pushes
is answered at full speed and delivered right after, and a long flood is still delivered, a batch at
a time. An idle service, or the Apps Script's steady trickle, is delivered at once.

Stopping (SIGTERM, SIGINT): no new claims; sends in flight get DELIVERY_STOP_GRACE_SECONDS to finish,
and those still running then are handed back to the queue, as a dead worker's would be.
"""

import logging
import os
import queue
import socket
import threading
import time
from collections import deque

from django.db import DatabaseError, InterfaceError, close_old_connections, connections
from django.utils import timezone

from webhooks.models import DeliverySettings, WebhookDelivery
from webhooks.selectors import delivery_newest_id
from webhooks.services.endpoints import deliveries_pause_align, endpoints_previous_secrets_clear
from webhooks.services.heartbeat import heartbeat_forget, heartbeat_record
from webhooks.services.queue import Claim, deliveries_claim
from webhooks.services.sending import (
    Sent,
    attempts_record,
    deliveries_load,
    deliveries_recover_expired,
    delivery_attempt,
    delivery_interrupt,
)
from webhooks.signals import worker_tick

logger = logging.getLogger("webhooks.worker")

HEARTBEAT_SECONDS = 5.0
RECOVER_SECONDS = 2.0
# Between checks for new pushes (one indexed read of the newest delivery id, every poll), the lanes are
# scanned for what fell due on its own (retries, deferred e-mails, lanes reopening) this often.
SCAN_SECONDS = 0.25
# After a send finishes the loop claims again at once, but not more often than this: completions
# arriving together are answered by one claim round.
MIN_ROUND_SECONDS = 0.005
OUTAGE_BACKOFF_MAX_SECONDS = 5.0
RECORD_BATCH = 8
# New deliveries per second above which pushes are pouring in: the Apps Script sends one at a time.
INGRESS_BUSY_PER_SECOND = 50.0
INGRESS_WINDOW_SECONDS = 0.5
DATABASE_ERRORS = (DatabaseError, InterfaceError)


def worker_id_default() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class IngressPressure:
    """How fast new deliveries arrive, from the newest delivery id the loop sees at each round."""

    def __init__(self, window: float = INGRESS_WINDOW_SECONDS, busy_per_second: float = INGRESS_BUSY_PER_SECOND):
        self.window, self.busy_per_second = window, busy_per_second
        self._samples: deque[tuple[float, int]] = deque()

    def observe(self, moment: float, newest_id: int) -> None:
        self._samples.append((moment, newest_id))
        while len(self._samples) > 2 and moment - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (first_at, first_id), (last_at, last_id) = self._samples[0], self._samples[-1]
        return (last_id - first_id) / max(last_at - first_at, 1e-3)

    def busy(self) -> bool:
        return self.rate() >= self.busy_per_second


class DeliveryWorker:
    def __init__(
        self, *, concurrency: int, poll_seconds: float, stop_grace: float, worker_id: str = "",
        ingress_yield: float = 0.0,
    ):
        self.concurrency = max(1, concurrency)
        self.poll_seconds = poll_seconds
        self.stop_grace = stop_grace
        self.worker_id = worker_id or worker_id_default()
        self.started_at = timezone.now()
        self._claims: queue.SimpleQueue = queue.SimpleQueue()
        self._running: dict[int, Claim] = {}  # by delivery id: claimed and not recorded yet
        self._unloaded: list[Claim] = []  # claimed, not read yet
        self._finished: list[Sent] = []  # attempts made, waiting to be recorded
        self._settled = 0  # sends finished so far
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._senders: list[threading.Thread] = []
        self._turn = 0
        self._next_beat = 0.0
        self._next_recovery = 0.0
        self._outage_since: float | None = None
        self._ingress_yield = ingress_yield
        self._pressure = IngressPressure()
        self._last_claim = 0.0
        self._next_scan = 0.0
        self._newest_seen = -1
        self._settled_at_claim = 0
        self._drain_mode = False

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler: it only sets a flag)."""
        self._stopping.set()

    def run(self, *, drain: bool = False) -> None:
        """Send until stopped; with `drain`, stop once nothing is due and nothing is in flight."""
        logger.info("Delivery worker %s started: up to %d deliveries at once", self.worker_id, self.concurrency)
        self._drain_mode = drain
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
        """One round: record, claim, hand out; how many sends are out (None while the database is down)."""
        settled = self._settled
        try:
            self._record()
            self._maintain()
            free = self.concurrency - len(self._running) - len(self._unloaded)
            claimed = deliveries_claim(free, turn=self._turn) if free and self._claiming() else None
            self._unloaded += claimed.claims if claimed else []
            ready = self._load()
        except DATABASE_ERRORS as exc:
            self._outage(exc)
            return None
        self._outage_over()
        self._turn += 1
        with self._changed:
            for claim, delivery in ready:
                self._running[claim.delivery_id] = claim
                self._claims.put((claim, delivery))
            busy = len(self._running)
        timeout = self.poll_seconds
        if claimed is not None and claimed.wait_until is not None:
            # A lane admits again then (rate limit, cool-down): look exactly then.
            wait = max(0.0, (claimed.wait_until - timezone.now()).total_seconds())
            self._next_scan = min(self._next_scan, time.monotonic() + wait)
            timeout = min(timeout, wait)
        started = time.monotonic()
        with self._changed:
            # Until a send finishes (a slot frees up), or it is time to look again.
            self._changed.wait_for(lambda: self._settled != settled or self._stopping.is_set(), timeout)
        if time.monotonic() - started < MIN_ROUND_SECONDS:
            self._stopping.wait(MIN_ROUND_SECONDS)
        return busy

    def _claiming(self) -> bool:
        """Claim this round when something may have fallen due: a new push, a finished send (a lane slot
        freed), or the periodic scan; but while pushes pour in, only once per ingress yield."""
        now = time.monotonic()
        newest = delivery_newest_id()
        arrived, self._newest_seen = newest != self._newest_seen, newest
        if self._ingress_yield:
            self._pressure.observe(now, newest)
            if self._pressure.busy() and now - self._last_claim < self._ingress_yield:
                return False
        freed = self._settled != self._settled_at_claim
        if not (arrived or freed or now >= self._next_scan or self._drain_mode):
            return False
        self._last_claim, self._next_scan, self._settled_at_claim = now, now + SCAN_SECONDS, self._settled
        return True

    def _load(self) -> list[tuple[Claim, WebhookDelivery]]:
        """The claimed deliveries, to hand out. Claims whose read failed (the database went away right after
        the claim) are read again next round, not left to their lease; one taken back meanwhile (its lease ran
        out during the outage) belongs to another attempt and is dropped."""
        if not self._unloaded:
            return []
        deliveries = deliveries_load(self._unloaded)
        claims, self._unloaded = self._unloaded, []
        held = [(claim, deliveries.get(claim.delivery_id)) for claim in claims]
        return [(claim, delivery) for claim, delivery in held if delivery and delivery.claim_token == claim.token]

    def _record(self) -> None:
        """Record the attempts the senders finished since the last round, RECORD_BATCH per transaction:
        short transactions keep the web processes' wait for SQLite's write lock short."""
        with self._changed:
            finished, self._finished = self._finished, []
        schedule = None  # read once a round, inside the guard: an outage keeps what is unrecorded
        for start in range(0, len(finished), RECORD_BATCH):
            batch = finished[start : start + RECORD_BATCH]
            try:
                schedule = schedule or DeliverySettings.load().retry_schedule_seconds
                attempts_record(batch, schedule=schedule)
            except DATABASE_ERRORS:
                with self._changed:
                    # Kept for the next round: nothing sent is forgotten.
                    self._finished = finished[start:] + self._finished
                raise
            with self._changed:
                for sent in batch:
                    self._running.pop(sent.claim.delivery_id, None)

    def _sender(self) -> None:
        """A sender thread: makes the attempts it is handed; its database connection (the file offload's)
        closes with it."""
        try:
            while (job := self._claims.get()) is not None:
                self._send(*job)
        finally:
            connections.close_all()

    def _send(self, claim: Claim, delivery) -> None:
        try:
            sent = delivery_attempt(claim, delivery)
        except Exception:
            # Building the payload failed (the database, most likely): the lease runs out and a round
            # takes the delivery back.
            logger.exception("WEBHOOK_SENDER: delivery #%s could not be sent", claim.delivery_id)
            sent = None
        with self._changed:
            if sent is not None:
                self._finished.append(sent)
            else:
                self._running.pop(claim.delivery_id, None)
            self._settled += 1
            self._changed.notify_all()

    def _maintain(self) -> None:
        now = time.monotonic()
        if now >= self._next_recovery:
            recovered = deliveries_recover_expired()
            if recovered:
                logger.warning("WEBHOOK_SENDER: took back %d deliveries whose worker stopped mid-attempt", recovered)
            deliveries_pause_align()
            endpoints_previous_secrets_clear()
            # Listeners (the ops alerts) act in this thread, between two rounds.
            worker_tick.send(sender=DeliveryWorker, worker_id=self.worker_id)
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
            # With the error as exc_info, the outage filter (ops.outages) folds the sender threads' failures
            # of this outage into this one line.
            logger.error("Delivery worker %s: lost the database; retrying with backoff", self.worker_id, exc_info=exc)
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
        """Let the sends in flight finish within the grace and record them, hand the others back; the claims
        left running."""
        deadline = time.monotonic() + self.stop_grace
        with self._changed:
            if self._running:
                logger.info(
                    "Delivery worker %s: waiting up to %g s for %d sends", self.worker_id, self.stop_grace,
                    len(self._running),
                )
            while len(self._finished) < len(self._running) and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        try:
            self._record()
        except DATABASE_ERRORS:
            logger.exception("WEBHOOK_SENDER: finished attempts left to their lease")
        with self._changed:
            left = list(self._running.values()) + self._unloaded
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
