"""`manage.py serve` supervises its children: restarts with a growing pause, gives up on a crash loop."""

import time

import pytest

from signal_server.management.commands.serve import RESTART_GIVE_UP, Child, endpoint_lines
from tests.factories import endpoint_create
from tests.service import LiveService

pytestmark = pytest.mark.django_db


def crashed_after(child: Child, seconds: float) -> float:
    child.started_at = time.monotonic() - seconds
    return child.schedule_restart()


def test_quick_failures_double_the_pause_up_to_thirty_seconds():
    child = Child(["true"], env={}, name="deliver")
    assert [crashed_after(child, 1) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_child_that_ran_a_minute_starts_again_after_the_first_pause():
    child = Child(["true"], env={}, name="deliver")
    crashed_after(child, 1), crashed_after(child, 1)
    assert crashed_after(child, 61) == 1 and child.quick_failures == 1


@pytest.mark.e2e
def test_serve_gives_up_when_a_child_keeps_failing_at_once():
    live = LiveService(DELIVERY_CONCURRENCY="0")  # `deliver` refuses to start: exits 1 every time
    live.manage("migrate", "--noinput", "--verbosity", "0")
    live.start_processes()
    try:
        code = live.process.wait(timeout=60)
    finally:
        live.stop()
    assert code == 1
    log = live.log()
    assert log.count("PROCESS: deliver exited with 1; starting it again") == RESTART_GIVE_UP - 1
    assert f"{RESTART_GIVE_UP} times in a row" in log


def test_the_start_lines_name_each_endpoint_with_its_url_masked():
    endpoint_create(name="billing", url="https://hooks.example.net/abc/secret-token", is_default=True)
    endpoint_create(name="old", url="https://old.example.net/", is_active=False)
    assert endpoint_lines() == [
        "ENDPOINTS: 2 configured",
        "  billing: https://hooks.example.net/… (active, default)",
        "  old: https://old.example.net/ (inactive (by staff))",
    ]


def test_the_start_lines_warn_when_no_active_default_endpoint_exists():
    endpoint_create(name="paused", url="https://hook.example.net/", is_default=True, is_active=False,
                    deactivated_reason="gone")
    assert endpoint_lines()[1:] == [
        "  paused: https://hook.example.net/ (inactive (gone), default)",
        "  no active default endpoint: e-mails no rule routes are not delivered",
    ]


def test_the_start_lines_say_when_no_endpoint_exists():
    assert endpoint_lines() == ["ENDPOINTS: none configured; pushes answer 409 until one exists"]


@pytest.mark.e2e
def test_serve_logs_its_endpoints_at_start_and_the_signal_that_stops_it(receiver):
    live = LiveService(WEBHOOK_URL=receiver.url("/private/path-token-123")).start()
    live.stop()
    log = live.log()
    assert f"  default: {receiver.url('/')[:-1]}/… (active, default)" in log
    assert "path-token-123" not in log
    assert "PROCESS: SIGTERM received; stopping web and workers" in log
    assert "PROCESS: SIGTERM received; delivery worker" in log
