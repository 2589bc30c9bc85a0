"""Liveness (`/health`: the process answers) and readiness (`/health/ready`: it can do its job)."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.times import seconds_since
from ops.models import WriteProbe
from webhooks.selectors import heartbeat_last_at, queue_oldest_due, workers_alive

logger = logging.getLogger("ops.health")

READY_CACHE_KEY = "health:ready-probe"


@require_GET
@never_cache
def health(request):
    return JsonResponse({"status": "ok"})


def _check_database(now) -> dict:
    """The database commits a write: one upsert of one row. A database that reads but cannot write (disk
    full, read-only) would otherwise look ready while every push answers 500."""
    try:
        with transaction.atomic():
            WriteProbe.objects.bulk_create(
                [WriteProbe(pk=1, checked_at=now)], update_conflicts=True, unique_fields=["id"],
                update_fields=["checked_at"],
            )
    except DatabaseError as exc:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # unreachable raises here, and the check says so
        logger.warning("HEALTH: the database refused a write: %s", exc)
        return {"ok": False, "writable": False, "error": f"database cannot take a write ({type(exc).__name__})"}
    return {"ok": True, "writable": True}


def _check_cache(now) -> dict:
    # With django-redis set to ignore errors, an outage shows up as a value that does not come back.
    probe = uuid.uuid4().hex
    cache.set(READY_CACHE_KEY, probe, timeout=30)
    if cache.get(READY_CACHE_KEY) != probe:
        return {"ok": False, "error": "cache did not return the value just written"}
    return {"ok": True}


def _check_worker(now) -> dict:
    """At least one delivery worker beat recently; how many, and how busy they are."""
    limit = settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS
    alive = workers_alive(limit, now)
    # The newest beat is among the live workers' when there are any; the table is read again only without.
    last_beat = max(w.beat_at for w in alive) if alive else heartbeat_last_at()
    age = seconds_since(last_beat, now)
    check = {
        "ok": bool(alive), "workers": len(alive), "last_beat_age_seconds": age, "max_age_seconds": limit,
        "in_flight": sum(w.in_flight for w in alive), "concurrency": sum(w.concurrency for w in alive),
    }
    if not alive:
        check["error"] = "no delivery worker heartbeat yet" if age is None else f"last worker heartbeat {age:.0f} s ago"
    return check


def _check_queue(now) -> dict:
    """The oldest due delivery of a lane that may send has not waited too long (open breakers excluded)."""
    age = seconds_since(queue_oldest_due(now), now) or 0.0
    limit = settings.HEALTH_QUEUE_MAX_AGE_SECONDS
    check = {"ok": age <= limit, "oldest_due_age_seconds": age, "max_age_seconds": limit}
    if not check["ok"]:
        check["error"] = f"oldest due delivery waiting {age:.0f} s"
    return check


CHECKS = {"database": _check_database, "cache": _check_cache, "worker": _check_worker, "queue": _check_queue}


@require_GET
@never_cache
def health_ready(request):
    """200 when every part works; 503 naming the failing parts otherwise."""
    now = timezone.now()
    checks = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check(now)
        except Exception as exc:
            logger.warning("HEALTH: %s check failed: %s", name, type(exc).__name__)
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: check failed"}
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)
