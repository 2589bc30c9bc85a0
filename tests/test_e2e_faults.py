"""Load, concurrency and fault behaviour of the real service (bounded in count and time, loopback only)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests import servers
from tests.service import LiveService

pytestmark = pytest.mark.e2e

LINK = "https://www.dropbox.com/scl/fo/abc/def?rlkey=k&dl=0"


def email(n: int, **overrides) -> dict:
    return {"sender": "Ops <ops@acme.fr>", "subject": f"Fichiers {n}", "date": "2026-04-10T09:00:00Z",
            "body": f"<p>Fichiers <a href='{LINK}&n={n}'>ici</a></p>", **overrides}


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/faults")).start()
    yield live
    live.stop()


def test_two_hundred_concurrent_pushes_of_one_email_make_one_delivery(service, receiver_live):
    payload = email(0, message_id="same-message-everywhere")
    before = len(receiver_live.wait_for(0, timeout=0, path="/faults"))
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: service.push(payload), range(200)))
    codes = {a.status_code for a in answers}
    statuses = [a.json()["status"] for a in answers]
    assert codes == {200}
    assert statuses.count("processed") == 1
    assert statuses.count("already_processed") == 199
    assert len(receiver_live.wait_for(before + 1, timeout=15, path="/faults")) == before + 1
    time.sleep(1)
    assert len(receiver_live.wait_for(0, timeout=0, path="/faults")) == before + 1


def test_concurrent_distinct_pushes_while_the_worker_delivers_lose_nothing(service, receiver_live):
    before = len(receiver_live.wait_for(0, timeout=0, path="/faults"))
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda n: service.push(email(1000 + n)), range(300)))
    assert [a.status_code for a in answers].count(200) == 300
    ids = {a.json()["email_id"] for a in answers}
    got = receiver_live.wait_for(before + 300, timeout=60, path="/faults")
    assert {r.json()["email_id"] for r in got} >= ids
    assert "database is locked" not in service.log()


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of our own (pytest-redis's executor), so the test can stop and restart it."""
    executor = servers.redis_executor(tmp_path / "redis")
    executor.start()
    yield executor
    executor.stop()


@pytest.mark.needs("redis")
def test_redis_outage_keeps_ingress_answering_from_the_database(receiver_live, redis_server):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/redis"), REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0")
    live.start()
    try:
        assert live.push(email(1)).json()["status"] == "processed"
        redis_server.stop()

        started = time.monotonic()
        answers = [live.push(email(n)) for n in range(2, 12)]
        assert [a.status_code for a in answers] == [200] * 10
        assert time.monotonic() - started < 10
        live.shell(
            "from configuration.models import RuntimeFlags as F; f = F.load(); f.ingress_enabled = False; f.save()"
        )
        assert live.push(email(50)).status_code == 409, "a flag change must apply even without the cache"

        redis_server.start()
        live.shell(
            "from configuration.models import RuntimeFlags as F; f = F.load(); f.ingress_enabled = True; f.save()"
        )
        assert live.push(email(51)).json()["status"] == "processed"
        assert len(receiver_live.wait_for(12, timeout=30, path="/redis")) == 12
    finally:
        live.stop()


def test_health_answers_while_the_service_runs(service):
    assert requests.get(service.url("/health"), timeout=5).json() == {"status": "ok"}
