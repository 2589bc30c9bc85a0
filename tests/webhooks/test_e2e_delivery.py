"""End to end: the real service (gunicorn + delivery worker, as `make run`) against a real receiver.

A worker killed in the middle of a delivery, and a receiver that is down for a while: no accepted
e-mail is lost, and each delivery keeps to its own retry schedule.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.factories import push_payload
from tests.receiver import Answer, Receiver
from tests.service import LiveService
from tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.e2e

# Expired leases are taken back at once, and an open breaker probes again after a second.
FAST_RECOVERY = {"DELIVERY_LEASE_GRACE_SECONDS": "0.5", "DELIVERY_BREAKER_COOLDOWN_SECONDS": "1"}


def configure(service: LiveService, *, url: str, schedule: list[int], timeout: int, secret: str = "") -> None:
    service.shell(
        "from webhooks.models import DeliverySettings, WebhookEndpoint;"
        f"WebhookEndpoint.objects.filter(is_default=True).update(url={url!r}, timeout_seconds={timeout},"
        f" secret={secret!r});"
        f"s = DeliverySettings.load(); s.retry_schedule_seconds = {schedule!r}; s.save()"
    )


def deliveries(service: LiveService, subject: str) -> list[dict]:
    """The deliveries of e-mails whose subject starts with `subject`, with their attempts."""
    output = service.shell(
        "import json; from webhooks.models import WebhookDelivery as D;"
        "print(json.dumps([{'id': d.pk, 'status': d.status, 'webhook_id': d.webhook_id,"
        " 'attempts': [{'n': a.number, 'at': a.started_at.timestamp(), 'code': a.status_code, 'ok': a.succeeded,"
        " 'reason': a.failure_reason, 'error': a.error, 'open': a.finished_at is None}"
        " for a in d.attempts.order_by('number')]}"
        f" for d in D.objects.filter(email__subject__startswith={subject!r}).order_by('pk')]))"
    )
    return json.loads(output.strip().splitlines()[-1])


def wait_until(check, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


def children(pid: int) -> dict[int, str]:
    """Direct child processes of `pid` and their command lines, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/hook"), **FAST_RECOVERY)
    live.start()
    yield live
    live.stop()


def test_delivery_survives_its_worker_being_killed_mid_request(service, receiver_live):
    configure(service, url=receiver_live.url("/killed"), schedule=[0, 1, 1, 1], timeout=3, secret=SECRET)
    receiver_live.answer(Answer(200, delay=2.5))
    assert service.push(push_payload(subject="killed mid-request")).json()["status"] == "processed"
    assert receiver_live.wait_started(1, timeout=15) == 1, service.log()[-3000:]

    processes = children(service.process.pid)
    commands = " | ".join(processes.values())
    assert "gunicorn" in commands
    workers = [pid for pid, cmd in processes.items() if "manage.py deliver" in cmd]
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    # serve starts the worker again; the new one takes the dead worker's delivery back once its lease ran out.
    restarted = wait_until(
        lambda: [
            pid
            for pid, cmd in children(service.process.pid).items()
            if "manage.py deliver" in cmd and pid != workers[0]
        ],
        timeout=15, every=0.2,
    )
    assert restarted, service.log()[-3000:]
    assert "PROCESS: deliver exited with -9; starting it again in 1 s" in service.log()

    done = wait_until(lambda: deliveries(service, "killed")[0]["status"] == "succeeded", timeout=40)
    assert done, f"{deliveries(service, 'killed')}\n{service.log()[-4000:]}"
    time.sleep(1.5)
    delivery = deliveries(service, "killed")[0]

    interrupted, succeeded = delivery["attempts"]
    assert delivery["status"] == "succeeded" and len(delivery["attempts"]) == 2
    assert (interrupted["ok"], interrupted["reason"], interrupted["open"]) == (False, "request_failed", False)
    assert interrupted["error"].startswith("interrupted")
    assert (succeeded["ok"], succeeded["code"]) == (True, 200)
    # The receiver saw the interrupted request and exactly one more, both with the same webhook-id.
    got = [r for r in receiver_live.requests if r.path == "/killed"]
    assert len(got) == 2
    assert {r.headers["webhook-id"] for r in got} == {delivery["webhook_id"]}
    assert Webhook(SECRET).verify(got[-1].body, got[-1].headers)["subject"] == "killed mid-request"


def test_receiver_down_then_back_gets_every_delivery_each_on_its_schedule(service):
    schedule = [0, 1, 1, 2, 2, 2, 2, 2]
    down = Receiver().start()
    port = down.port
    down.stop()  # down: connections refused
    configure(service, url=f"http://127.0.0.1:{port}/down", schedule=schedule, timeout=2)
    subjects = [f"while down {n}" for n in range(3)]
    for subject in subjects:
        assert service.push(push_payload(subject=subject)).json()["status"] == "processed"

    refused = wait_until(
        lambda: all(len(d["attempts"]) >= 2 for d in deliveries(service, "while down")), timeout=20, every=0.3
    )
    assert refused, deliveries(service, "while down")

    back = Receiver(port=port).start()
    try:
        finished = wait_until(
            lambda: all(d["status"] == "succeeded" for d in deliveries(service, "while down")), timeout=30
        )
        assert finished, f"{deliveries(service, 'while down')}\n{service.log()[-3000:]}"
        final = deliveries(service, "while down")
    finally:
        back.stop()

    assert len(final) == 3
    assert sorted(r.json()["subject"] for r in back.requests) == sorted(subjects)
    for delivery in final:
        attempts = delivery["attempts"]
        assert [a["reason"] for a in attempts[:-1]] == ["request_failed"] * (len(attempts) - 1)
        assert attempts[-1]["ok"] and sum(a["ok"] for a in attempts) == 1
        gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:], strict=False)]
        for index, gap in enumerate(gaps, start=1):
            assert gap >= 0.8 * schedule[index] - 0.05, (index, gaps)


@pytest.mark.needs("chromium")
def test_staff_see_the_attempts_in_admin_and_replay_from_there(service, receiver_live, chromium_path):
    """Headless Chromium on the real admin: the killed-worker delivery's attempts, then a replay."""
    from playwright.sync_api import sync_playwright

    service.shell(
        "from django.contrib.auth.models import User;"
        "User.objects.create_superuser('staff', 'staff@acme.fr', 'e2e-pass-123')"
    )
    configure(service, url=receiver_live.url("/admin-replay"), schedule=[0, 1], timeout=3, secret=SECRET)
    assert service.push(push_payload(subject="replayed from admin")).json()["status"] == "processed"
    assert wait_until(lambda: deliveries(service, "replayed from admin")[0]["status"] == "succeeded", timeout=20)
    delivery = deliveries(service, "replayed from admin")[0]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            page = browser.new_page()
            page.goto(service.url("/admin/login/"))
            page.fill("#id_username", "staff")
            page.fill("#id_password", "e2e-pass-123")
            page.click("input[type=submit]")
            page.goto(service.url(f"/admin/webhooks/webhookdelivery/{delivery['id']}/change/"))
            attempts = page.inner_text("#attempts-group")
            assert "HTTP 200" in attempts and " ms" in attempts

            page.goto(service.url("/admin/webhooks/webhookdelivery/"))
            page.check(f"input[name=_selected_action][value='{delivery['id']}']")
            page.select_option("select[name=action]", "replay")
            page.click("button[name=index]")
            assert "1 deliveries queued again" in page.inner_text(".messagelist")
        finally:
            browser.close()

    replayed = wait_until(
        lambda: len(deliveries(service, "replayed from admin")[0]["attempts"]) == 2
        and deliveries(service, "replayed from admin")[0]["status"] == "succeeded",
        timeout=20,
    )
    assert replayed, deliveries(service, "replayed from admin")
    got = [r for r in receiver_live.requests if r.path == "/admin-replay"]
    assert len(got) == 2 and got[0].body == got[1].body
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"] == delivery["webhook_id"]
