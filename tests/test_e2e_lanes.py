"""Delivery lanes end to end (SPEC §7.1): the real service (gunicorn + two delivery workers, as `serve`
starts them) against real receivers on 127.0.0.1 — a slow one, a black hole, a flapping one — beside a
healthy one; lane limits across worker processes; a worker killed mid-burst; a 410 from the default.

Bounded in count and time; the service runs on the database the stack gives (SQLite or PostgreSQL).
"""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import push_payload
from tests.receiver import Answer, BlackHole, Receiver
from tests.service import LiveService
from tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.e2e

ENV = {"DELIVERY_BREAKER_COOLDOWN_SECONDS": "1", "DELIVERY_LEASE_GRACE_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def service():
    live = LiveService(serve_args=("--delivery-workers", "2"), WEBHOOK_URL="http://127.0.0.1:9/unset", **ENV).start()
    token = live.shell(
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token;"
        "print(Token.objects.create(user=User.objects.create_user('ops', is_staff=True, is_superuser=True)).key)"
    ).split()[-1]
    live.api_token = token
    yield live
    live.stop()


def configure(service, *, default_url: str, lane: dict | None = None, also: dict | None = None, schedule=(0, 1, 1)):
    """The default endpoint (with `lane` fields) and, when `also` is given, a second endpoint `also` that
    a rule adds beside the default for every e-mail (subject contains "lane")."""
    fields = {"url": default_url, "secret": SECRET, "timeout_seconds": 3, "is_active": True, "max_in_flight": 8,
              "rate_limit_per_minute": None, "breaker_failures": 5, **(lane or {})}
    extra = also or {}
    service.shell(
        "from webhooks.models import DeliverySettings, EndpointLane, WebhookEndpoint as E;"
        "from routing.models import RoutingRule, RoutingCondition;"
        "from webhooks.services.endpoints import endpoints_activate;"
        "from webhooks.models import WebhookDelivery as D;"
        # What earlier tests left: their extra endpoint retired, their waiting deliveries cancelled.
        "RoutingRule.objects.all().delete();"
        "[E.objects.filter(pk=e.pk).update(name=f'retired-{e.pk}', is_active=False)"
        " for e in E.objects.filter(is_default=False)];"
        "D.objects.filter(status__in=['pending', 'paused']).update(status='cancelled');"
        f"E.objects.filter(is_default=True).update(**{fields!r});"
        "EndpointLane.objects.all().delete();"
        f"s = DeliverySettings.load(); s.retry_schedule_seconds = {list(schedule)!r}; s.save();"
        + (
            f"o = E.objects.create(name='other', **{extra!r});"
            "r = RoutingRule.objects.create(name='both', endpoint=o);"
            "RoutingCondition.objects.create(rule=r, field='subject', operator='contains', value='lane')"
            if extra else ""
        )
    )


def deliveries(service, subject: str) -> list[dict]:
    output = service.shell(
        "import json; from webhooks.models import WebhookDelivery as D;"
        "print(json.dumps([{'id': d.pk, 'endpoint': d.endpoint.name, 'status': d.status, 'webhook_id': d.webhook_id,"
        " 'series_attempts': d.series_attempt_count, 'attempts': [{'ok': a.succeeded, 'code': a.status_code}"
        " for a in d.attempts.order_by('number')]}"
        f" for d in D.objects.filter(email__subject__startswith={subject!r}).order_by('pk')]))"
    )
    return json.loads(output.strip().splitlines()[-1])


def burst(service, subject: str, count: int) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: service.push(push_payload(subject=f"{subject} {n}")), range(count)))
    assert [a.status_code for a in answers] == [200] * count, [a.text for a in answers]
    return [a.json()["email_id"] for a in answers]


def wait_until(check, timeout: float, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


def lanes(service) -> dict[str, dict]:
    response = requests.get(
        service.url("/api/webhooks/endpoints/"), headers={"Authorization": f"Token {service.api_token}"}, timeout=5
    )
    response.raise_for_status()
    return {endpoint["name"]: endpoint["lane"] for endpoint in response.json()}


def test_a_slow_endpoint_does_not_hold_back_a_healthy_one(service, receiver_live):
    slow = Receiver(Answer(200, delay=1.0)).start()
    try:
        configure(service, default_url=receiver_live.url("/beside-slow"),
                  also={"url": slow.url("/slow"), "max_in_flight": 2, "timeout_seconds": 5})
        burst(service, "lane slow", 12)

        healthy = receiver_live.wait_for(12, timeout=20, path="/beside-slow")
        assert len(healthy) == 12
        assert slow.wait_for(12, timeout=30) and len(slow.requests) == 12
        # Two slots, a second each: the slow endpoint's seventh request started three seconds in; by then every
        # healthy delivery had long arrived.
        assert max(r.at for r in healthy) < sorted(slow.started)[6]
        assert slow.max_in_flight == 2
    finally:
        slow.stop()


def test_a_black_hole_does_not_hold_back_a_healthy_one(service, receiver_live):
    hole = BlackHole().start()
    try:
        configure(service, default_url=receiver_live.url("/beside-hole"),
                  also={"url": hole.url(), "timeout_seconds": 3, "max_in_flight": 4})
        pushed_at = time.time()
        burst(service, "lane hole", 12)

        healthy = receiver_live.wait_for(12, timeout=20, path="/beside-hole")
        assert len(healthy) == 12
        assert max(r.at for r in healthy) - pushed_at < 3, "no healthy delivery waited for the black hole's timeout"
        assert wait_until(lambda: lanes(service)["other"]["consecutive_failures"] >= 4, timeout=15)
    finally:
        hole.stop()


def test_a_flapping_endpoint_opens_its_breaker_probes_and_closes_it(service):
    flapping = Receiver().start()
    flapping.answer(*[Answer(503, "down")] * 3)
    try:
        configure(service, default_url=flapping.url("/flap"), lane={"breaker_failures": 3, "max_in_flight": 3},
                  schedule=(0, 2, 2, 2))
        burst(service, "flap", 3)

        # The API is quick to read: the lane is open for a second, between the third failure and the probe.
        assert wait_until(lambda: lanes(service)["default"]["state"] == "open", timeout=15, every=0.05)
        done = wait_until(lambda: all(d["status"] == "succeeded" for d in deliveries(service, "flap")), timeout=30)
        assert done, deliveries(service, "flap")
        assert lanes(service)["default"]["state"] == "closed"
        # Three failures opened the lane; while open nothing went out; the probe and then the rest succeeded.
        assert len(flapping.requests) == 6
        assert all(d["series_attempts"] == 2 for d in deliveries(service, "flap"))
    finally:
        flapping.stop()


def test_a_lane_limit_holds_across_worker_processes(service):
    slow = Receiver(Answer(200, delay=0.5)).start()
    try:
        configure(service, default_url=slow.url("/limited"), lane={"max_in_flight": 2})
        burst(service, "limited", 10)
        assert len(slow.wait_for(10, timeout=30)) == 10
        assert slow.max_in_flight == 2
    finally:
        slow.stop()


def test_a_rate_limit_spaces_the_attempts(service):
    paced = Receiver().start()
    try:
        configure(service, default_url=paced.url("/paced"), lane={"rate_limit_per_minute": 60})
        burst(service, "paced", 4)
        got = paced.wait_for(4, timeout=20)
        assert len(got) == 4
        starts = sorted(paced.started)
        assert all(later - earlier >= 0.9 for earlier, later in zip(starts, starts[1:], strict=False)), starts
    finally:
        paced.stop()


def test_every_delivery_arrives_when_a_worker_is_killed_mid_burst(service):
    target = Receiver(Answer(200, delay=0.5)).start()
    try:
        configure(service, default_url=target.url("/burst"), lane={"max_in_flight": 16}, schedule=(0, 1, 1, 1, 1))
        email_ids = burst(service, "killed burst", 30)
        assert target.wait_started(6, timeout=15) >= 6
        workers = [
            pid for pid in service.children() if b"manage.py\0deliver" in open(f"/proc/{pid}/cmdline", "rb").read()
        ]
        os.kill(workers[0], signal.SIGKILL)

        finished = wait_until(
            lambda: all(d["status"] == "succeeded" for d in deliveries(service, "killed burst")), timeout=60
        )
        assert finished, deliveries(service, "killed burst")
        time.sleep(1)
        final = deliveries(service, "killed burst")
        assert {r.json()["email_id"] for r in target.requests} == set(email_ids)
        for delivery in final:
            # Nothing was sent that is not recorded as an attempt (a killed worker's last try may not have left).
            sent = [r for r in target.requests if r.headers["webhook-id"] == delivery["webhook_id"]]
            assert 1 <= len(sent) <= len(delivery["attempts"]), delivery
            assert sum(a["ok"] for a in delivery["attempts"]) == 1, delivery
            assert all(not a["ok"] and a["code"] is None for a in delivery["attempts"][:-1]), delivery
    finally:
        target.stop()


def test_after_a_410_from_the_default_endpoint_nothing_is_lost(service):
    retired = Receiver().start()
    retired.answer(Answer(410, "gone"))
    try:
        configure(service, default_url=retired.url("/gone"))
        first = service.push(push_payload(subject="gone 1")).json()
        assert first["status"] == "processed"
        assert wait_until(lambda: deliveries(service, "gone 1")[0]["status"] == "paused", timeout=15)
        assert lanes(service)["default"]["state"] == "disabled"

        second = service.push(push_payload(subject="gone 2")).json()
        assert second["status"] == "processed" and [d["endpoint"] for d in second["deliveries"]] == ["default"]
        assert deliveries(service, "gone 2")[0]["status"] == "paused"

        service.shell(
            "from webhooks.models import WebhookEndpoint as E; from webhooks.services.endpoints import "
            "endpoints_activate; endpoints_activate(E.objects.filter(is_default=True))"
        )
        assert len(retired.wait_for(3, timeout=15)) == 3
        assert {d["status"] for d in deliveries(service, "gone")} == {"succeeded"}
    finally:
        retired.stop()
