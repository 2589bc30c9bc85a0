"""Per-sender hourly rate limit, counted in the shared cache (fixed one-hour buckets)."""

from datetime import datetime

from django.core.cache import cache


def sender_rate_check(sender_email: str, limit_per_hour: int, now: datetime) -> int | None:
    """Count this push; return seconds until the next bucket when the sender is over the limit."""
    if limit_per_hour <= 0:
        return None
    bucket = int(now.timestamp()) // 3600
    key = f"ingress-rate:{bucket}:{sender_email}"
    cache.add(key, 0, timeout=3700)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr (or the cache is down): count this one alone
        cache.set(key, 1, timeout=3700)
        count = 1
    if count is None or count <= limit_per_hour:
        return None
    return max(1, (bucket + 1) * 3600 - int(now.timestamp()))
