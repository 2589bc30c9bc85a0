"""Web requests in flight on this host, so that deliveries give way to pushes (ingress first).

A push waits on its answer, a delivery does not: under a burst, a task worker sending deliveries
takes CPU and the SQLite writer queue from the web processes (measured: a fifth of the ingress
throughput on two cores). So a delivery task first waits for a moment when no request is in flight,
for at most TASK_WORKER_YIELD_MS: a burst defers deliveries by that much, a sustained flood still
leaves each worker one delivery per wait, and an idle service delivers at once.

Each request holds a shared flock() on a file in SIGNAL_VAR_DIR; the worker asks for it exclusively
without blocking, which fails while any request holds it. The kernel drops the lock of a process that
dies, so a crashed web process never holds deliveries back. Web and worker on different hosts do not
see each other, and do not compete for a CPU either.
"""

import fcntl
import os
import threading
import time

from django.conf import settings

LOCK_FILE_NAME = "web-activity.lock"
POLL_SECONDS = 0.002

# Descriptors per thread and per role: flock() belongs to an open file, so threads of a gthread worker
# sharing one would release each other's hold, and a probe on the request's own descriptor would
# convert its shared lock instead of testing it.
_local = threading.local()


def _thread_lock_fd(role: str) -> int:
    fd = getattr(_local, role, None)
    if fd is None:
        fd = os.open(settings.VAR_DIR / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        setattr(_local, role, fd)
    return fd


class WebActivityMiddleware:
    """Marks the request in flight for the task workers of this host (outermost, so it spans the rest)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fd = _thread_lock_fd("request_fd")
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            return self.get_response(request)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def web_requests_in_flight() -> bool:
    fd = _thread_lock_fd("probe_fd")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def web_quiet_wait(max_seconds: float) -> float:
    """Wait until no web request is in flight, at most `max_seconds`; the seconds waited."""
    started = time.monotonic()
    deadline = started + max_seconds
    while time.monotonic() < deadline and web_requests_in_flight():
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started
