"""The configuration ingress reads on every push: one snapshot per process, checked against the
configuration's version on every read, reloaded from the database when the version moved.

The version is a number in the database (ConfigVersion), raised in the same transaction as every
change, so every process on every host sees a change at its commit, whatever the cache. With Redis
(REDIS_URL), readers look at a copy of the number there: a change writes the new number at commit,
readers that find none put the database's there (without overwriting a newer one), and the copy
expires after CACHE_VERSION_SECONDS, which bounds how long a copy Redis kept through a failed write
can be wrong.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F

from configuration.models import ConfigVersion, IngressSettings, RuntimeFlags
from routing.evaluation import CompiledRule
from routing.selectors import rules_compiled
from webhooks.models import WebhookEndpoint

CACHE_VERSION_KEY = "configuration:version"
CACHE_VERSION_SECONDS = 5
VERSION_SQL = f"SELECT version FROM {ConfigVersion._meta.db_table} WHERE id = 1"
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
    prefs = IngressSettings.load()
    endpoints = list(WebhookEndpoint.objects.values_list("id", "name", "is_active", "is_default"))
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
        default_endpoint_id=next((pk for pk, _, _, is_default in endpoints if is_default), None),
        endpoint_names={pk: name for pk, name, _, _ in endpoints},
        inactive_endpoint_ids=frozenset(pk for pk, _, is_active, _ in endpoints if not is_active),
        rules=rules_compiled(),
    )


def _shared_cache() -> bool:
    return bool(settings.REDIS_URL)


def _version_read() -> int:
    if not _shared_cache():
        return _version_of_database()
    version = cache.get(CACHE_VERSION_KEY)
    if version is None:
        version = _version_of_database()
        cache.add(CACHE_VERSION_KEY, version, timeout=CACHE_VERSION_SECONDS)
    return version


def _version_of_database() -> int:
    # Plain SQL: without Redis this runs on every push, and the ORM would cost several times the query.
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0


def ingress_config_get() -> IngressConfig:
    global _snapshot
    version = _version_read()
    snapshot = _snapshot
    if snapshot is not None and snapshot[0] == version:
        return snapshot[1]
    config = ingress_config_load()
    _snapshot = (version, config)
    return config


def snapshot_forget() -> None:
    """Drop this process's snapshot (tests restore a database, and its version with it, between tests)."""
    global _snapshot
    _snapshot = None


def config_changed() -> None:
    """Make every process reload the configuration once the caller's transaction commits."""
    if not ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1):
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    if _shared_cache():
        # Dropped now, so this transaction's own reads see the change; rewritten at commit, so no
        # reader's copy of the old number (read before the commit) outlives it.
        cache.delete(CACHE_VERSION_KEY)
        transaction.on_commit(_cache_refresh)


def _cache_refresh() -> None:
    cache.set(CACHE_VERSION_KEY, _version_of_database(), timeout=CACHE_VERSION_SECONDS)
