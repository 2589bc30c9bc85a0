"""Hot configuration for ingress: one snapshot, read through the cache, invalidated on every config save.

With Redis the cache is shared and a delete reaches every process. With the local-memory cache each
process has its own copy, so a stamp file under var/ (one stat() per read) tells every process on the
machine that its copy is stale.
"""

import os
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from ingress.models import InboundEmail, RuntimeFlags
from routing.evaluation import CompiledRule
from routing.selectors import rules_compiled
from webhooks.models import WebhookEndpoint, WebhookSettings

CONFIG_CACHE_KEY = "ingress-config:v1"


@dataclass(frozen=True)
class IngressConfig:
    ingress_enabled: bool
    allow_without_links: bool
    email_id_dedup_enabled: bool
    sending_enabled: bool
    time_zone: str
    window_start: str
    window_end: str
    outside_window_policy: str
    absence_enabled: bool
    absence_days: frozenset[str]
    sender_allowlist: frozenset[str]
    rate_limit_per_sender_per_hour: int
    default_endpoint_id: int | None
    active_endpoint_names: dict[int, str]
    rules: tuple[CompiledRule, ...]


def ingress_config_load() -> IngressConfig:
    flags = RuntimeFlags.load()
    prefs = WebhookSettings.load()
    endpoints = dict(WebhookEndpoint.objects.filter(is_active=True).values_list("id", "name"))
    default_id = (
        WebhookEndpoint.objects.filter(is_active=True, is_default=True).values_list("id", flat=True).first()
    )
    return IngressConfig(
        ingress_enabled=flags.ingress_enabled,
        allow_without_links=flags.allow_without_links,
        email_id_dedup_enabled=flags.email_id_dedup_enabled,
        sending_enabled=prefs.sending_enabled,
        time_zone=prefs.time_zone,
        window_start=prefs.window_start,
        window_end=prefs.window_end,
        outside_window_policy=prefs.outside_window_policy,
        absence_enabled=prefs.absence_enabled,
        absence_days=frozenset(prefs.absence_days),
        sender_allowlist=frozenset(prefs.sender_allowlist),
        rate_limit_per_sender_per_hour=prefs.rate_limit_per_sender_per_hour,
        default_endpoint_id=default_id,
        active_endpoint_names=endpoints,
        rules=rules_compiled(),
    )


def _cache_is_local() -> bool:
    return settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def _stamp_path() -> str:
    return os.path.join(settings.VAR_DIR, "config.stamp")


def _stamp_read() -> int:
    if not _cache_is_local():
        return 0
    try:
        return os.stat(_stamp_path()).st_mtime_ns
    except FileNotFoundError:
        return 0


def _stamp_touch() -> None:
    if _cache_is_local():
        with open(_stamp_path(), "a"):
            pass
        now = time.time_ns()
        os.utime(_stamp_path(), ns=(now, now))


def ingress_config_get() -> IngressConfig:
    stamp = _stamp_read()
    entry = cache.get(CONFIG_CACHE_KEY)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    config = ingress_config_load()
    # The TTL is a safety net for a reader that cached a snapshot just before a concurrent commit.
    cache.set(CONFIG_CACHE_KEY, (stamp, config), timeout=300)
    return config


def _drop() -> None:
    cache.delete(CONFIG_CACHE_KEY)
    _stamp_touch()


def ingress_config_invalidate() -> None:
    """Drop the snapshot now and again at commit, so no reader caches the pre-commit state."""
    _drop()
    transaction.on_commit(_drop)


def email_is_known(email_id: str) -> bool:
    return InboundEmail.objects.filter(dedup_key=email_id).exists()



# --- History reads (REST API, admin, overview) ------------------------------------------------------


def _deliveries_prefetch():
    from django.db.models import Prefetch

    from webhooks.models import WebhookDelivery

    return Prefetch("deliveries", queryset=WebhookDelivery.objects.select_related("endpoint").defer("payload_json"))


def emails_list():
    """Newest first, without bodies, each with its deliveries and their endpoints (constant query count)."""
    return InboundEmail.objects.defer("body").prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


def email_detail_queryset():
    return InboundEmail.objects.prefetch_related(_deliveries_prefetch()).order_by("-received_at", "-id")


def email_counts_by_hour(since, tz) -> list[tuple]:
    """(local hour as a naive datetime, status, count) for e-mails received since `since`; one query.

    Hours are truncated in `tz` by the database, so buckets follow the configured zone (and its DST).
    """
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    rows = (
        InboundEmail.objects.filter(received_at__gte=since)
        .annotate(hour=TruncHour("received_at", tzinfo=tz))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [(row["hour"].astimezone(tz).replace(tzinfo=None), row["status"], row["n"]) for row in rows]


def email_counts_by_provider(since, providers) -> dict[str, int]:
    """E-mails received since `since` that carry at least one link of each provider; one query.

    Each link is stored as {"provider": …}; matching that text works alike on SQLite and PostgreSQL JSON.
    """
    from django.db.models import Count, Q

    recent = InboundEmail.objects.filter(received_at__gte=since)
    return recent.aggregate(
        **{p: Count("pk", filter=Q(links__icontains=f'"provider": "{p}"')) for p in providers}
    )
