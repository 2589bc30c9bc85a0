import os
import signal
import threading
import time

import pytest

from core.stopping import StopRequest


@pytest.fixture
def stop():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield StopRequest()
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_request_a_stop(stop, signum):
    os.kill(os.getpid(), signum)

    assert stop.requested


def test_sleep_lasts_its_duration_without_a_request(stop):
    started = time.monotonic()
    stop.sleep(0.3, step=0.05)

    assert time.monotonic() - started >= 0.3


def test_sleep_returns_within_a_step_of_a_stop_request(stop):
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()

    stop.sleep(10, step=0.05)

    assert stop.requested
    assert time.monotonic() - started < 1
