import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with a cold configuration cache and fresh rate-limit counters."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def receiver():
    """A live HTTP receiver on 127.0.0.1 (see tests/receiver.py)."""
    from tests.receiver import Receiver

    server = Receiver().start()
    yield server
    server.stop()
