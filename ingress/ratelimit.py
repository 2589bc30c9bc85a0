"""Per-sender hourly rate limit (fixed one-hour buckets), counted where every process sees the same figure.

With Redis as the cache, the count is an atomic cache counter shared by every process and machine. A
local-memory cache is one per process (gunicorn workers each counted their own), so without Redis the
count is a database row per sender and hour, raised by one atomic upsert.
"""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connections, router, transaction

from ingress.models import SenderHourCount

CACHE_TIMEOUT_SECONDS = 3700  # the hour, plus a margin for clocks a little apart


def sender_rate_check(sender_email: str, limit_per_hour: int, now: datetime) -> int | None:
    """Count this push; return seconds until the next bucket when the sender is over the limit."""
    if limit_per_hour <= 0:
        return None
    hour = int(now.timestamp()) // 3600
    count = _cache_count(sender_email, hour) if _cache_is_shared() else sender_hour_increment(sender_email, hour)
    if count is None or count <= limit_per_hour:
        return None
    return max(1, (hour + 1) * 3600 - int(now.timestamp()))


def _cache_is_shared() -> bool:
    return settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def _cache_count(sender_email: str, hour: int) -> int | None:
    key = f"ingress-rate:{hour}:{sender_email}"
    cache.add(key, 0, timeout=CACHE_TIMEOUT_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr (or the cache is down): count this one alone
        cache.set(key, 1, timeout=CACHE_TIMEOUT_SECONDS)
        return 1


def sender_hour_increment(sender_email: str, hour: int) -> int:
    """Add one push to the sender's row for `hour` and return its count; a sender's first push of an hour
    also drops the rows of hours before the previous one, so the table holds about two hours."""
    alias = router.db_for_write(SenderHourCount)
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(SenderHourCount._meta.db_table)
    # One statement on SQLite (3.35+) and PostgreSQL alike: no read-then-write race between processes.
    sql = (
        f"INSERT INTO {table} ({quote('hour')}, {quote('sender')}, {quote('count')}) VALUES (%s, %s, 1) "
        f"ON CONFLICT ({quote('hour')}, {quote('sender')}) "
        f"DO UPDATE SET {quote('count')} = {table}.{quote('count')} + 1 RETURNING {quote('count')}"
    )
    # A transaction: on SQLite it queues on the writer lock instead of polling the busy timeout.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(sql, [hour, sender_email])
        count = cursor.fetchone()[0]
        if count == 1:
            SenderHourCount.objects.using(alias).filter(hour__lt=hour - 1).delete()
    return count
