"""`manage.py serve` supervises its children: restarts with a growing pause, gives up on a crash loop."""

import time

import pytest

from signal_server.management.commands.serve import RESTART_GIVE_UP, Child
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
