"""Hot configuration for ingress: one snapshot per process, revalidated against a version on every read.

The version lives in the Django cache: with Redis (REDIS_URL) every process and machine sees a bump at
once. The local-memory cache is private to each process, so there the version is the mtime of a stamp
file under var/ (one stat() per read), shared by every process of the machine. Saving configuration
bumps the version, now and again at commit; a reader whose version differs reloads from the database.
If Redis is unreachable the version is unknown and every read goes to the database.
"""

import os
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from ingress.models import InboundEmail, RuntimeFlags
from routing.evaluation import CompiledRule
from routing.selectors import rules_compiled
from webhooks.models import WebhookEndpoint, WebhookSettings

CONFIG_VERSION_KEY = "ingress-config:version"
_snapshot: tuple[object, "IngressConfig"] | None = None  # (version, config) of this process


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
    default_endpoint_id: int | None  # the default endpoint, active or not (inactive: its deliveries wait, paused)
    endpoint_names: dict[int, str]
    inactive_endpoint_ids: frozenset[int]
    rules: tuple[CompiledRule, ...]


def ingress_config_load() -> IngressConfig:
    flags = RuntimeFlags.load()
    prefs = WebhookSettings.load()
    endpoints = list(WebhookEndpoint.objects.values_list("id", "name", "is_active", "is_default"))
    default_id = next((pk for pk, _, _, is_default in endpoints if is_default), None)
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
        endpoint_names={pk: name for pk, name, _, _ in endpoints},
        inactive_endpoint_ids=frozenset(pk for pk, _, is_active, _ in endpoints if not is_active),
        rules=rules_compiled(),
    )


def _cache_is_local() -> bool:
    return settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def _stamp_path() -> str:
    return os.path.join(settings.VAR_DIR, "config.stamp")


def _version_read() -> object:
    if _cache_is_local():
        try:
            return os.stat(_stamp_path()).st_mtime_ns
        except FileNotFoundError:
            return 0
    return cache.get(CONFIG_VERSION_KEY)


def _version_bump() -> None:
    if _cache_is_local():
        with open(_stamp_path(), "a"):
            pass
        now = time.time_ns()
        os.utime(_stamp_path(), ns=(now, now))
    else:
        cache.set(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def ingress_config_get() -> IngressConfig:
    global _snapshot
    version = _version_read()
    snapshot = _snapshot
    if version is not None and snapshot is not None and snapshot[0] == version:
        return snapshot[1]
    if version is None:
        # No version yet (fresh cache) or Redis is down: `add` keeps a concurrent writer's bump.
        cache.add(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(CONFIG_VERSION_KEY)
    config = ingress_config_load()
    if version is not None:
        _snapshot = (version, config)
    return config


def ingress_config_invalidate(*, at_commit: bool = True) -> None:
    """Bump the version now and again at commit, so no reader keeps a snapshot of the pre-commit state."""
    _version_bump()
    if at_commit:
        transaction.on_commit(_version_bump)


def email_is_known(email_id: str) -> bool:
    return InboundEmail.objects.filter(email_id=email_id, dedup_key=email_id).exists()



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
