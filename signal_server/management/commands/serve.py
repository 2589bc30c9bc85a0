"""Run the whole service in the foreground: gunicorn (web) and the delivery worker(s).

Ctrl-C or SIGTERM stops every child cleanly. A child that exits on its own is started again after a
pause that doubles with each quick failure (1 s up to 30 s); one that fails RESTART_GIVE_UP times in
a row, each within RESTART_HEALTHY_SECONDS of its start, stops the whole service, so the supervisor
above (systemd, a container runtime) sees a failure it can report.

Each delivery worker (`manage.py deliver`) sends up to DELIVERY_CONCURRENCY deliveries at once and
takes back the deliveries of workers that died; deployments that run the processes separately run
as many of them as they like, on any machine that reaches the database.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from configuration.selectors import admin_usernames
from core.network import url_mask
from core.stopping import StopRequest
from signal_server.sqlite_checkpoint import (
    CHECKPOINT_INTERVAL_SECONDS,
    SERVED_AUTOCHECKPOINT_PAGES,
    uses_sqlite,
    wal_checkpoint,
)
from webhooks.selectors import endpoints_for_startup

STOP_GRACE_SECONDS = 20
RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 30.0
RESTART_HEALTHY_SECONDS = 60.0  # a child that ran this long starts over from the first delay
RESTART_GIVE_UP = 5


class Child:
    """One supervised process: its command, and how its recent failures pace its restarts."""

    def __init__(self, command: list[str], *, env: dict, name: str):
        self.command, self.env, self.name = command, env, name
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.quick_failures = 0
        self.restart_at: float | None = None

    def start(self) -> None:
        # Own session: a terminal Ctrl-C reaches only `serve`, which then stops each child exactly once.
        self.process = subprocess.Popen(self.command, cwd=settings.BASE_DIR, env=self.env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        if self.name == "deliver":
            delivery_worker_deprioritize(self.process.pid)

    def exited(self) -> int | None:
        return None if self.process is None or self.restart_at is not None else self.process.poll()

    def schedule_restart(self) -> float:
        """Note the exit; the delay before the next start."""
        ran = time.monotonic() - self.started_at
        self.quick_failures = self.quick_failures + 1 if ran < RESTART_HEALTHY_SECONDS else 1
        delay = min(RESTART_MAX_DELAY, RESTART_FIRST_DELAY * 2 ** (self.quick_failures - 1))
        self.restart_at = time.monotonic() + delay
        return delay


def endpoint_lines() -> list[str]:
    """What receives the mail, as operators check it at start: names, masked URLs (paths hold tokens), state."""
    endpoints = endpoints_for_startup()
    if not endpoints:
        return ["ENDPOINTS: none configured; pushes answer 409 until one exists"]
    lines = [f"ENDPOINTS: {len(endpoints)} configured"]
    for endpoint in endpoints:
        state = "active" if endpoint.is_active else f"inactive ({endpoint.deactivated_reason or 'by staff'})"
        default = ", default" if endpoint.is_default else ""
        lines.append(f"  {endpoint.name}: {url_mask(endpoint.url)} ({state}{default})")
    if not any(e.is_default and e.is_active for e in endpoints):
        lines.append("  no active default endpoint: e-mails no rule routes are not delivered")
    return lines


def delivery_worker_command(python: str, worker_id: str) -> list[str]:
    return [python, "manage.py", "deliver", "--worker-id", worker_id]


def children_env(base) -> dict:
    """The environment of processes whose SQLite WAL `serve` checkpoints (see sqlite_checkpoint)."""
    return {"SQLITE_WAL_AUTOCHECKPOINT_PAGES": str(SERVED_AUTOCHECKPOINT_PAGES), **base}


def delivery_worker_deprioritize(pid: int) -> None:
    """Lower a delivery worker's CPU priority (DELIVERY_WORKER_NICE): a push waits on its answer, a
    delivery does not, so under a burst the web processes get the CPU first; an idle service delivers
    at once, since nothing competes."""
    if settings.DELIVERY_WORKER_NICE:
        os.setpriority(os.PRIO_PROCESS, pid, settings.DELIVERY_WORKER_NICE)


class Command(BaseCommand):
    help = "Serve web (gunicorn) and background workers in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument(
            "--web-workers", type=int, default=settings.WEB_CONCURRENCY
        )
        parser.add_argument(
            "--web-threads", type=int, default=settings.WEB_THREADS,
            help="Threads per web process; 1 runs gunicorn's sync workers (measured fastest for ingress), "
            "more runs gthread workers (keep-alive, slow clients).",
        )
        parser.add_argument(
            "--delivery-workers", type=int, default=settings.DELIVERY_WORKERS,
            help="Delivery worker processes (default: DELIVERY_WORKERS).",
        )
        parser.add_argument("--no-web", action="store_true", help="Only the delivery workers.")

    def handle(self, *args, **options):
        checkpointing = uses_sqlite()
        children = self._children(options, checkpointing)
        for child in children:
            child.start()
        stop = StopRequest()
        self.stdout.write(self._banner(options, len(children)))
        exit_code = 0
        next_checkpoint = time.monotonic()
        while not stop.requested and exit_code == 0:
            exit_code = self._supervise(children)
            if checkpointing and time.monotonic() >= next_checkpoint:
                wal_checkpoint()
                next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_SECONDS
            stop.sleep(0.1)
        if stop.requested:
            self.stdout.write(f"PROCESS: {stop.signal_name} received; stopping web and workers")
        self._stop([child.process for child in children])
        sys.exit(exit_code)

    def _children(self, options, checkpointing: bool) -> list[Child]:
        """gunicorn (unless --no-web) and the delivery workers, not started yet."""
        python = sys.executable
        env = children_env(os.environ) if checkpointing else dict(os.environ)
        children = [] if options["no_web"] else [Child(self._gunicorn(python, options), env=env, name="web")]
        for index in range(options["delivery_workers"]):
            worker_id = f"{os.uname().nodename[:40]}-{os.getpid()}-{index}"
            children.append(Child(delivery_worker_command(python, worker_id), env=env, name="deliver"))
        return children

    def _supervise(self, children: list[Child]) -> int:
        """Restart children that exited; a nonzero code when one keeps failing and the service must stop."""
        for child in children:
            code = child.exited()
            if code is not None:
                delay = child.schedule_restart()
                if child.quick_failures >= RESTART_GIVE_UP:
                    self.stderr.write(
                        f"PROCESS: {child.name} exited with {code}, {child.quick_failures} times in a row within "
                        f"{RESTART_HEALTHY_SECONDS:g} s of its start; stopping."
                    )
                    return code or 1
                self.stderr.write(f"PROCESS: {child.name} exited with {code}; starting it again in {delay:g} s")
            elif child.restart_at is not None and time.monotonic() >= child.restart_at:
                child.start()
        return 0

    def _banner(self, options, processes: int) -> str:
        """Where the service listens, where admin is, and who can log in to it (or how to make someone)."""
        base = f"http://{options['host']}:{options['port']}"
        lines = [f"Signal Server on {base} ({processes} processes; Ctrl-C to stop)"]
        if not options["no_web"]:
            admins = admin_usernames()
            lines.append(f"Admin: {base}/admin/")
            if admins:
                lines.append(f"  admin users: {', '.join(admins)}")
            else:
                lines.append(
                    "  no admin user yet: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD and start "
                    "again, or run `.venv/bin/python manage.py createsuperuser`"
                )
        return "\n".join(lines + endpoint_lines())

    def _gunicorn(self, python, options):
        command = [
            python, "-m", "gunicorn", "signal_server.wsgi:application",
            "--bind", f"{options['host']}:{options['port']}",
            "--workers", str(options["web_workers"]),
            "--threads", str(options["web_threads"]),
            "--worker-class", "sync" if options["web_threads"] <= 1 else "gthread",
            "--graceful-timeout", str(STOP_GRACE_SECONDS - 5),
        ]
        # Without the option gunicorn skips building access records at all.
        if settings.ACCESS_LOG:
            command += ["--access-logfile", "-"]
        return command

    def _stop(self, children: list[subprocess.Popen]):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
