"""The real service as `make run` starts it (gunicorn + task worker), on its own SQLite file.

The database follows DATABASE_URL when it points at PostgreSQL (a separate database named after the
run is created), so the end-to-end tests exercise the same server CI deploys with.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "e2e-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_STATIC_ROOTS: dict[Path, Path] = {}


def static_collected(env: dict, root: Path = ROOT, python: str = sys.executable) -> Path:
    """Collect static files once per checkout and process; every live service serves them, as after `make run`."""
    if root not in _STATIC_ROOTS:
        target = Path(tempfile.mkdtemp(prefix="signal-static-"))
        subprocess.run(
            [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=root, env={**env, "DJANGO_STATIC_ROOT": str(target)}, check=True, timeout=120,
        )
        _STATIC_ROOTS[root] = target
    return _STATIC_ROOTS[root]


class LiveService:
    """`manage.py serve` of this checkout, or of another one (`root`, run by `python`: the benchmark's A/B)."""

    def __init__(self, serve_args: tuple[str, ...] = (), *, root: Path = ROOT, python: str = sys.executable, **env):
        self.serve_args = serve_args
        self.root, self.python = root, python
        self.pg_database: str | None = None  # set by _database_url when running on PostgreSQL
        self.var_dir = Path(tempfile.mkdtemp(prefix="signal-e2e-"))
        self.port = free_port()
        # Without the suite's DJANGO_SETTINGS_MODULE: each checkout's manage.py names its own settings.
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "e2e-secret-key-" + uuid.uuid4().hex,
            "PROCESS_API_TOKEN": TOKEN,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "SIGNAL_VAR_DIR": str(self.var_dir),
            "CACHE_KEY_PREFIX": f"signal-e2e-{uuid.uuid4().hex[:8]}",
            "WEB_CONCURRENCY": "2",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.update({k: str(v) for k, v in env.items()})
        if "DATABASE_URL" not in env:  # a database given by the test is the test's to make and drop
            self.env["DATABASE_URL"] = self._database_url()
        self.process: subprocess.Popen | None = None
        self.log_path = self.var_dir / "service.log"

    def _database_url(self) -> str:
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith(("postgres://", "postgresql://")):
            self.pg_database = f"signal_e2e_{uuid.uuid4().hex[:10]}"
            self._pg_execute(f'CREATE DATABASE "{self.pg_database}"')
            return base.rsplit("/", 1)[0] + "/" + self.pg_database
        return f"sqlite:///{self.var_dir / 'db.sqlite3'}"

    @staticmethod
    def _pg_execute(statement: str) -> None:
        import psycopg

        admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def manage(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [self.python, "manage.py", *args], cwd=self.root, env=self.env, input=input,
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def shell(self, code: str) -> str:
        """Run Python against the service's database (in a separate process)."""
        return self.manage("shell", "--no-imports", "-c", code)

    def start(self, timeout: float = 60) -> "LiveService":
        self.env["DJANGO_STATIC_ROOT"] = str(static_collected(self.env, self.root, self.python))
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage("bootstrap")
        self.start_processes(timeout)
        return self

    def start_processes(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.python, "manage.py", "serve", "--port", str(self.port), *self.serve_args],
            cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited early:\n{self.log()}")
            try:
                if requests.get(self.url("/health"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"service did not answer /health in {timeout} s:\n{self.log()}")

    def wait_ready(self, timeout: float = 30) -> requests.Response:
        """Poll /health/ready until it answers 200 (or the timeout passes); the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(self.url("/health/ready"), timeout=5)
            if response.status_code == 200 or time.monotonic() >= deadline:
                return response
            time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def push(self, payload: dict, path: str = "/api/ingress/gmail", **headers) -> requests.Response:
        return requests.post(
            self.url(path), json=payload, timeout=30, headers={"Authorization": f"Bearer {TOKEN}", **headers}
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """PIDs of the processes `serve` started (gunicorn master, task workers)."""
        return descendants(self.process.pid) if self.process else []

    def stop(self, timeout: float = 30) -> int | None:
        code = self._stop_processes(timeout)
        if self.pg_database:
            self._pg_execute(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')
            self.pg_database = None
        return code

    def _stop_processes(self, timeout: float) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        spawned = self.children()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *spawned]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return self.process.wait()


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`, read from /proc (children first, then theirs)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found
