import os

import pytest
from django.core.cache import cache

from tests import prerequisites, servers


def cache_empty() -> None:
    """Empty this run's keys only (django-redis would otherwise flush the whole Redis database)."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with fresh rate-limit counters and a configuration snapshot of its own database."""
    from configuration.snapshot import snapshot_forget

    cache_empty()
    snapshot_forget()
    yield
    cache_empty()


@pytest.fixture(scope="module")
def receiver_live():
    """One live receiver for a module's end-to-end tests (each test uses its own path)."""
    from tests.receiver import Receiver

    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    """A live HTTP receiver on 127.0.0.1 (see tests/receiver.py)."""
    from tests.receiver import Receiver

    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def api():
    """A REST client authenticated with the token (`Authorization: Token …`) of a staff user who may view
    the whole history."""
    from tests.history_factories import HISTORY_VIEW_PERMS, staff_create, token_client

    return token_client(staff_create(perms=HISTORY_VIEW_PERMS))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: the run's own (REDIS_URL) or, on the embedded stack, one started for the session."""
    return os.environ.get("REDIS_URL") or servers.redis_start(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def chromium_path():
    return prerequisites.tool_path("chromium")
