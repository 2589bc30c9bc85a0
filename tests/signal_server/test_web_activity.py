import os
import threading
import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from signal_server import web_activity
from signal_server.web_activity import WebActivityMiddleware, web_quiet_wait, web_requests_in_flight


def descriptors_close():
    for fd in web_activity._local.__dict__.values():
        os.close(fd)
    web_activity._local.__dict__.clear()


@pytest.fixture(autouse=True)
def lock_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    descriptors_close()  # this thread's descriptors may be open on another test's file
    yield
    descriptors_close()


class RequestInFlight:
    """A request held open in its own thread by the middleware until `finish()`."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

        def view(request):
            self.started.set()
            self.release.wait(10)
            return HttpResponse("ok")

        middleware = WebActivityMiddleware(view)
        self.thread = threading.Thread(target=middleware, args=(RequestFactory().post("/api/ingress/gmail"),))
        self.thread.start()
        assert self.started.wait(5)

    def finish(self):
        self.release.set()
        self.thread.join(5)


def test_nothing_is_in_flight_on_an_idle_host():
    assert web_requests_in_flight() is False


def test_a_request_is_in_flight_while_the_middleware_answers_it():
    seen = []
    WebActivityMiddleware(lambda request: seen.append(web_requests_in_flight()) or HttpResponse())(
        RequestFactory().get("/")
    )

    assert seen == [True]
    assert web_requests_in_flight() is False


def test_a_request_that_fails_is_no_longer_in_flight():
    def view(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        WebActivityMiddleware(view)(RequestFactory().get("/"))

    assert web_requests_in_flight() is False


def test_requests_of_several_threads_are_each_in_flight_until_their_own_end():
    first, second = RequestInFlight(), RequestInFlight()

    first.finish()
    assert web_requests_in_flight() is True

    second.finish()
    assert web_requests_in_flight() is False


def test_quiet_wait_returns_at_once_on_an_idle_host():
    assert web_quiet_wait(1.0) < 0.1


def test_quiet_wait_ends_when_the_request_in_flight_ends():
    request = RequestInFlight()
    threading.Timer(0.3, request.finish).start()

    waited = web_quiet_wait(5.0)

    assert 0.25 <= waited < 2.0


def test_quiet_wait_gives_up_after_its_limit():
    request = RequestInFlight()
    try:
        waited = web_quiet_wait(0.2)
    finally:
        request.finish()

    assert 0.2 <= waited < 1.0


@pytest.mark.django_db
def test_a_delivery_task_waits_for_the_request_in_flight(settings, monkeypatch):
    from webhooks import tasks

    settings.TASK_WORKER_YIELD_MS = 5000
    sent_at = []
    monkeypatch.setattr(tasks, "delivery_send", lambda delivery_id: sent_at.append(time.monotonic()))
    request = RequestInFlight()
    finished_at = time.monotonic() + 0.3
    threading.Timer(0.3, request.finish).start()

    tasks.delivery_send_task.call(1)

    assert sent_at and sent_at[0] >= finished_at - 0.05
