"""Load, concurrency and fault behaviour of the real service (bounded in count and time, loopback only)."""

import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


@pytest.fixture
def postgresql_server():
    """A PostgreSQL cluster of the test's own (pytest-postgresql's executor), so it can be stopped and started."""
    directory = Path(tempfile.mkdtemp(prefix="signal-pg-restart-"))
    executor = servers.postgresql_executor(directory / "postgresql")
    executor.start()
    yield executor
    executor.stop()
    shutil.rmtree(directory, ignore_errors=True)


class Burst:
    """Pushes e-mails one after another from a thread, noting when each was answered and how (or that the
    connection was refused), until told to stop or `limit` pushes were made."""

    def __init__(self, live: LiveService, *, limit: int, pause: float):
        self.live, self.limit, self.pause = live, limit, pause
        self.answers: list[tuple[float, int | str, dict]] = []  # (answered at, status or "refused", body)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Burst":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        for n in range(self.limit):
            if self._stop.is_set():
                return
            try:
                response = self.live.push(email(7000 + n))
                self.answers.append((time.monotonic(), response.status_code, response.json()))
            except requests.ConnectionError:
                self.answers.append((time.monotonic(), "refused", {}))
            self._stop.wait(self.pause)

    def wait_for(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(list(self.answers)):
                return True
            time.sleep(0.05)
        return False


def outage_lines_per_process(log: str) -> dict[str, int]:
    """How many times each process (by pid) logged that the database was unavailable."""
    pids = re.findall(r"\[(\d+)\] [\w.]+: .*database unavailable", log)
    return {pid: pids.count(pid) for pid in pids}


@pytest.mark.needs("postgresql")
def test_a_postgresql_restart_mid_burst_loses_no_accepted_email(receiver_live, postgresql_server):
    database_url = f"postgres://postgres@127.0.0.1:{postgresql_server.port}/postgres"
    live = LiveService(WEBHOOK_URL=receiver_live.url("/pg-restart"), DATABASE_URL=database_url).start()
    burst = Burst(live, limit=80, pause=0.1).start()
    try:
        assert burst.wait_for(lambda answers: len(answers) >= 10, timeout=30)
        postgresql_server.stop()
        time.sleep(2)  # a restart that takes a while: pushes keep coming meanwhile
        postgresql_server.start()
        back_at = time.monotonic()
        burst.wait_for(lambda answers: sum(a[0] > back_at and a[1] == 200 for a in answers) >= 10, timeout=20)
    finally:
        burst.stop()
    try:
        answers = burst.answers
        refused = [a for a in answers if a[1] == "refused"]
        during = [(a[1], a[2]) for a in answers if a[1] != 200]
        assert refused == [], "the web must answer throughout, never refuse a connection"
        assert during and all(code in (409, 500, 503) and body["success"] is False for code, body in during)
        first_200_after = min(a[0] for a in answers if a[0] > back_at and a[1] == 200)
        assert first_200_after - back_at < 5
        accepted = {a[2]["email_id"] for a in answers if a[1] == 200}
        got = receiver_live.wait_for(len(accepted), timeout=30, path="/pg-restart")
        assert {r.json()["email_id"] for r in got} >= accepted
        log = live.log()
        assert "Traceback" not in log
        assert "lost the database" in log and set(outage_lines_per_process(log).values()) == {1}
    finally:
        live.stop()
