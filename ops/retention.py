"""History retention: what is older than N days goes (`manage.py purge_history --days N`, and the delivery
workers' daily run of the retention setting), in short transactions, so that ingress keeps answering.

E-mails are taken oldest first, a chunk at a time. In one transaction per chunk, the deliveries of the
e-mails that may go lose their attempts (the largest table) first, then go themselves, then the e-mails;
old test sends, then old link pairs, follow the same way. Each transaction holds SQLite's writer lock:
its time is measured, and the next chunk grows or shrinks so that one takes about BATCH_TARGET_SECONDS.

Nothing in flight or touched since the cutoff goes: an old e-mail stays while any of its deliveries is
unfinished, or was created or attempted since the cutoff (a re-run or a replay). The check and the
deletes share the chunk's transaction (on PostgreSQL the deliveries read are locked), so a delivery
that came back in use between them stays.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ingress.models import InboundEmail
from ops.models import RetentionRun
from ops.rollups import rollups_freeze_before
from transfers.models import LinkPair
from webhooks.models import DeliveryAttempt, WebhookDelivery

Status = WebhookDelivery.Status
UNFINISHED = (Status.PENDING, Status.SENDING, Status.PAUSED)
BATCH_TARGET_SECONDS = 0.04  # well under the ~100 ms a write may hold SQLite's lock: room for a slow disk
# After each chunk the purge waits as long as the chunk held the lock, so that pushes waiting for it go first.
PAUSE_RATIO = 1.0
FIRST_BATCH = 100
MIN_BATCH, MAX_BATCH = 5, 5000


def _empty_counts() -> dict[str, int]:
    return {"emails": 0, "deliveries": 0, "attempts": 0, "link_pairs": 0}


def batch_size_next(size: int, elapsed: float, target: float = BATCH_TARGET_SECONDS) -> int:
    """The next chunk's size after one of `size` took `elapsed` seconds: aimed at `target`, growing by half at
    most at once (a chunk of older, bigger rows may follow) and shrinking at once, within MIN_BATCH and
    MAX_BATCH."""
    aimed = size * target / max(elapsed, 1e-4)
    return int(max(MIN_BATCH, min(MAX_BATCH, size * 1.5, aimed)))


@dataclass
class HistoryPurge:
    """One purge of what is older than `cutoff`, a transaction per step(); it can stop and go on later."""

    cutoff: datetime
    batch_size: int = FIRST_BATCH
    adaptive: bool = True
    target: float = BATCH_TARGET_SECONDS
    counts: dict[str, int] = field(default_factory=_empty_counts)
    examined: int = 0  # e-mails looked at so far
    total: int | None = None  # e-mails received before the cutoff at the start, when a progress display asked
    batches: int = 0
    max_lock_ms: int = 0
    last_lock_seconds: float = 0.0
    phase: int = 0
    _cursor: tuple = ()

    @property
    def done(self) -> bool:
        return self.phase >= len(PHASES)

    def emails_total(self) -> int:
        """E-mails received before the cutoff: what `examined` goes up to (one index range count)."""
        return InboundEmail.objects.filter(received_at__lt=self.cutoff).count()

    def step(self) -> None:
        """Delete one chunk of the current phase, in one transaction, or move on to the next phase."""
        with transaction.atomic():
            locked = time.monotonic()  # the writer lock is taken on entering: its wait is not counted
            found = PHASES[self.phase](self)
        held = self.last_lock_seconds = time.monotonic() - locked
        _wal_copy()
        if not found:
            self.phase, self._cursor = self.phase + 1, ()
            return
        self.batches += 1
        self.max_lock_ms = max(self.max_lock_ms, round(held * 1000))
        if self.adaptive:
            self.batch_size = batch_size_next(self.batch_size, held, self.target)

    def run(self, *, on_batch=None, budget: float | None = None) -> bool:
        """Steps until done (or `budget` seconds are spent); whether it is done."""
        deadline = None if budget is None else time.monotonic() + budget
        while not self.done and (deadline is None or time.monotonic() < deadline):
            self.step()
            if on_batch:
                on_batch(self)
            time.sleep(self.last_lock_seconds * PAUSE_RATIO)
        return self.done

    def _deleted(self, name: str, queryset) -> None:
        self.counts[name] += queryset.delete()[0] if name == "attempts" else queryset.only("pk").delete()[0]

    def _emails_chunk(self) -> bool:
        emails = InboundEmail.objects.filter(received_at__lt=self.cutoff)
        if self._cursor:
            at, pk = self._cursor
            # The range bound lets the index start at the cursor; the OR breaks ties of equal times.
            emails = emails.filter(received_at__gte=at).filter(Q(received_at__gt=at) | Q(received_at=at, pk__gt=pk))
        chunk = list(emails.order_by("received_at", "pk").values_list("pk", "received_at")[: self.batch_size])
        if not chunk:
            return False
        self._cursor, self.examined = chunk[-1][::-1], self.examined + len(chunk)
        ids = [pk for pk, _ in chunk]
        deliveries = list(
            WebhookDelivery.objects.select_for_update().filter(email_id__in=ids)
            .values_list("pk", "email_id", "status", "created_at", "last_attempt_at")
        )
        kept = {row[1] for row in deliveries if self._in_use(*row[2:])}
        going = [pk for pk in ids if pk not in kept]
        delivery_ids = [pk for pk, email_id, *_ in deliveries if email_id not in kept]
        self._deleted("attempts", DeliveryAttempt.objects.filter(delivery_id__in=delivery_ids))
        self._deleted("deliveries", WebhookDelivery.objects.filter(pk__in=delivery_ids))
        # An e-mail that gained a delivery since (a re-run) keeps it.
        fresh = WebhookDelivery.objects.filter(email_id__in=going).values("email_id")
        self._deleted("emails", InboundEmail.objects.filter(pk__in=going).exclude(pk__in=fresh))
        return True

    def _in_use(self, status: str, created: datetime, attempted: datetime | None) -> bool:
        return status in UNFINISHED or created >= self.cutoff or (attempted is not None and attempted >= self.cutoff)

    def _tests_chunk(self) -> bool:
        """Old test sends (no e-mail), by id."""
        recent = Q(status__in=UNFINISHED) | Q(created_at__gte=self.cutoff) | Q(last_attempt_at__gte=self.cutoff)
        after = self._cursor[0] if self._cursor else 0
        tests = WebhookDelivery.objects.filter(email__isnull=True, created_at__lt=self.cutoff, pk__gt=after)
        ids = list(tests.order_by("pk").values_list("pk", flat=True)[: self.batch_size])
        if not ids:
            return False
        self._cursor = (ids[-1],)
        going = list(
            WebhookDelivery.objects.select_for_update().filter(pk__in=ids).exclude(recent).values_list("pk", flat=True)
        )
        self._deleted("attempts", DeliveryAttempt.objects.filter(delivery_id__in=going))
        self._deleted("deliveries", WebhookDelivery.objects.filter(pk__in=going))
        return True

    def _link_pairs_chunk(self) -> bool:
        ids = list(
            LinkPair.objects.filter(created_at__lt=self.cutoff).order_by("created_at", "pk")
            .values_list("pk", flat=True)[: self.batch_size]
        )
        if ids:
            self._deleted("link_pairs", LinkPair.objects.filter(pk__in=ids))
        return bool(ids)


def _wal_copy() -> None:
    """On SQLite, copy the WAL a chunk wrote into the database now, outside the writer lock (a PASSIVE
    checkpoint waits for no one): otherwise a later chunk's commit would, holding the lock meanwhile."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


PHASES = (HistoryPurge._emails_chunk, HistoryPurge._tests_chunk, HistoryPurge._link_pairs_chunk)


def purge_cutoff(days: int, now: datetime | None = None) -> datetime:
    if days < 1:
        raise ValueError("days must be at least 1")
    return (now or timezone.now()) - timedelta(days=days)


def history_purge(
    days: int, *, batch_size: int | None = None, now: datetime | None = None, on_batch=None, holder: str = "command"
) -> dict[str, int]:
    """Delete the history older than `days` days, recorded as the last retention run; counts per kind.

    Without `batch_size`, chunks are sized to the time budget; with it, each chunk has that many e-mails."""
    purge = HistoryPurge(purge_cutoff(days, now), batch_size=batch_size or FIRST_BATCH, adaptive=batch_size is None)
    retention_run_start(days, purge.cutoff, holder, now=now)
    if on_batch:
        purge.total = purge.emails_total()
    purge.run(on_batch=on_batch)
    retention_run_record(purge, now=now)
    return purge.counts


def history_purge_preview(days: int, *, now: datetime | None = None) -> dict[str, int]:
    """What `history_purge` would delete now, without deleting anything (whole-table queries: a dry run)."""
    cutoff = purge_cutoff(days, now)
    recent = Q(status__in=UNFINISHED) | Q(created_at__gte=cutoff) | Q(last_attempt_at__gte=cutoff)
    emails_in_use = WebhookDelivery.objects.filter(recent, email__isnull=False).values("email_id")
    emails = InboundEmail.objects.filter(received_at__lt=cutoff).exclude(pk__in=emails_in_use)
    tests = WebhookDelivery.objects.filter(email__isnull=True, created_at__lt=cutoff).exclude(recent)
    deliveries = WebhookDelivery.objects.filter(Q(email__in=emails) | Q(pk__in=tests.values("pk")))
    return {
        "emails": emails.count(),
        "deliveries": deliveries.count(),
        "attempts": DeliveryAttempt.objects.filter(delivery__in=deliveries).count(),
        "link_pairs": LinkPair.objects.filter(created_at__lt=cutoff).count(),
    }


# --- The record of the last run, and the daily run's claim ---------------------------------------------------

RETENTION_EVERY = timedelta(days=1)


def retention_run_start(days: int, cutoff: datetime, holder: str, *, now: datetime | None = None) -> None:
    """Record a purge starting; the rollups of the hours it may touch are kept as they are."""
    rollups_freeze_before(cutoff)
    RetentionRun.objects.update_or_create(pk=1, defaults=_started(days, cutoff, holder, now or timezone.now()))


def retention_run_claim(days: int, holder: str, now: datetime) -> HistoryPurge | None:
    """The daily run, when a day has passed since the last one started and no other worker took it first."""
    run = RetentionRun.objects.filter(pk=1).first() or RetentionRun.objects.get_or_create(pk=1)[0]
    if run.started_at is not None and run.started_at > now - RETENTION_EVERY:
        return None
    cutoff = purge_cutoff(days, now)
    if not RetentionRun.objects.filter(pk=1, started_at=run.started_at).update(**_started(days, cutoff, holder, now)):
        return None
    rollups_freeze_before(cutoff)
    return HistoryPurge(cutoff)


def _started(days: int, cutoff: datetime, holder: str, now: datetime) -> dict:
    return {"days": days, "cutoff": cutoff, "holder": holder[:64], "started_at": now, "finished_at": None,
            "counts": _empty_counts(), "max_lock_ms": 0}


def retention_run_record(purge: HistoryPurge, *, now: datetime | None = None) -> None:
    """Record how far the run got (finished once the purge is done)."""
    finished = (now or timezone.now()) if purge.done else None
    RetentionRun.objects.filter(pk=1).update(counts=purge.counts, max_lock_ms=purge.max_lock_ms, finished_at=finished)
