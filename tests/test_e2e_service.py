"""End to end: the real service (gunicorn + worker, as `make run`) delivering to a real receiver."""

import os
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from signal_server.sqlite_checkpoint import SERVED_AUTOCHECKPOINT_PAGES
from tests.service import LiveService

pytestmark = pytest.mark.e2e

DROPBOX = "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0"


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/hook")).start()
    yield live
    live.stop()


def test_pushed_email_reaches_the_receiver_with_the_legacy_payload(service, receiver_live):
    pushed_at = time.time()
    response = service.push(
        {
            "sender": "Technique <technique@media-solution.fr>",
            "subject": "Média Solution - Missions Recadrage - Lot 107",
            "date": "2026-04-10T09:54:38.000Z",
            "body": f'<p>À faire pour 14h30</p><a href="{DROPBOX.replace("&", "&amp;")}">Fichiers</a>',
            "message_id": "18f2a9c0d1e2f3a4",
        },
        **{"X-Source": "GoogleAppsScript"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"

    got = receiver_live.wait_for(1, timeout=15, path="/hook")
    assert got, f"no delivery arrived:\n{service.log()[-3000:]}"
    payload = got[0].json()
    assert got[0].at - pushed_at < 5
    assert payload["email_id"] == payload["microsoft_graph_email_id"] == response.json()["email_id"]
    assert payload["sender_email"] == "technique@media-solution.fr"
    assert payload["source"] == "gmail_push"
    assert payload["detector"] == "recadrage"
    assert payload["delivery_time"] == "14h30"
    assert payload["delivery_links"][0]["provider"] == "dropbox"
    assert payload["delivery_links"][0]["raw_url"] == DROPBOX
    assert got[0].headers["Content-Type"] == "application/json"
    assert got[0].headers["User-Agent"].startswith("signal-server/")


def test_same_email_pushed_twice_is_delivered_once(service, receiver_live):
    before = len(receiver_live.wait_for(0, timeout=0, path="/twice"))
    service.shell(
        "from webhooks.models import WebhookEndpoint as E;"
        "E.objects.filter(is_default=True).update(url=E.objects.get(is_default=True).url.replace('/hook','/twice'))"
    )
    payload = {"sender": "a@b.fr", "subject": "twice", "date": "d", "body": f"<a href='{DROPBOX}'>x</a>"}
    statuses = [service.push(payload).json()["status"] for _ in range(3)]
    assert statuses == ["processed", "already_processed", "already_processed"]
    assert len(receiver_live.wait_for(before + 1, timeout=15, path="/twice")) == before + 1
    time.sleep(1)
    assert len(receiver_live.wait_for(0, timeout=0, path="/twice")) == before + 1


def test_attempt_is_recorded_with_status_and_duration(service, receiver_live):
    output = service.shell(
        "from webhooks.models import DeliveryAttempt as A;"
        "a = A.objects.filter(succeeded=True).first();"
        "print(a.status_code, a.duration_ms >= 0, a.delivery.status)"
    )
    assert output.split() == ["200", "True", "succeeded"]


def test_sigterm_stops_web_and_worker_cleanly(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/stop")).start()
    assert live.stop(timeout=30) == 0


def test_ready_once_the_delivery_worker_beats(service):
    response = service.wait_ready(timeout=30)
    assert response.status_code == 200, response.text
    worker = response.json()["checks"]["worker"]
    assert worker["workers"] == 1 and worker["concurrency"] == 32


def _served_processes(service) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {"deliver": [], "gunicorn": []}
    for pid in service.children():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:
            continue
        for name, pids in found.items():
            if name.encode() in b" ".join(args):
                pids.append(pid)
    return found


def test_the_delivery_worker_runs_at_a_lower_cpu_priority_than_the_web(service):
    processes = _served_processes(service)

    assert processes["deliver"] and processes["gunicorn"]
    assert all(os.getpriority(os.PRIO_PROCESS, pid) == 10 for pid in processes["deliver"])
    assert all(os.getpriority(os.PRIO_PROCESS, pid) == 0 for pid in processes["gunicorn"])


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite WAL only")
def test_serve_checkpoints_the_wal_into_the_database_file(service, tmp_path):
    email_id = service.push(
        {"sender": "a@b.fr", "subject": "checkpointed", "date": "d", "body": f"<a href='{DROPBOX}'>x</a>"}
    ).json()["email_id"]
    database = Path(service.env["DATABASE_URL"].removeprefix("sqlite:///"))
    copy = tmp_path / "main-file-only.sqlite3"

    deadline = time.monotonic() + 10
    found = False
    while not found and time.monotonic() < deadline:
        time.sleep(0.3)
        # The main file alone, without its -wal: only what a checkpoint has copied is there.
        shutil.copyfile(database, copy)
        try:
            with closing(sqlite3.connect(copy)) as connection:
                found = connection.execute(
                    "SELECT count(*) FROM ingress_inboundemail WHERE email_id = ?", (email_id,)
                ).fetchone()[0] == 1
        except sqlite3.DatabaseError:
            continue  # copied in the middle of a checkpoint
    assert found


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite WAL only")
def test_served_processes_checkpoint_only_past_the_safety_threshold(service):
    pid = _served_processes(service)["gunicorn"][0]
    with open(f"/proc/{pid}/environ", "rb") as environ:
        variables = dict(item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item)
    assert variables[b"SQLITE_WAL_AUTOCHECKPOINT_PAGES"] == str(SERVED_AUTOCHECKPOINT_PAGES).encode()


def test_the_start_banner_says_where_admin_is_and_that_no_admin_user_exists_yet(service):
    log = service.log()
    assert f"Signal Server on http://127.0.0.1:{service.port} " in log
    assert f"Admin: http://127.0.0.1:{service.port}/admin/" in log
    assert "no admin user yet: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD" in log


def test_the_start_banner_names_the_admin_users(receiver_live):
    live = LiveService(DJANGO_SUPERUSER_USERNAME="alice", DJANGO_SUPERUSER_PASSWORD="a long password 2026").start()
    try:
        assert "  admin users: alice" in live.log()
    finally:
        live.stop()
