"""The builds a benchmark run measures: this checkout, and optionally a baseline commit beside it (A/B).

A baseline is checked out as a git worktree under var/bench/ with a virtualenv of its own (its own
requirements), so both builds run on the same machine in the same run. The legacy Flask app, from a
checkout of it given by path, is a third build for the ingress scenario (nothing of it is copied here).
"""

import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.service import ROOT, LiveService, descendants


@dataclass(frozen=True)
class Build:
    name: str
    root: Path
    python: str

    @property
    def lanes(self) -> bool:
        """This build sends from lanes (`manage.py deliver`), not from the task queue (`db_worker`)."""
        return (self.root / "webhooks" / "worker.py").exists()

    def service(self, *, workers: int = 1, web_workers: int = 2, **env) -> LiveService:
        flag = "--delivery-workers" if self.lanes else "--task-workers"
        return LiveService(
            serve_args=(flag, str(workers), "--web-workers", str(web_workers)), root=self.root, python=self.python,
            LOG_LEVEL="WARNING", **env,
        )

    def worker_command(self, worker_id: str) -> list[str]:
        """One delivery worker, as `serve` starts it."""
        if self.lanes:
            return [self.python, "manage.py", "deliver", "--worker-id", worker_id]
        return [
            self.python, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.05",
            "--queue-name", "*", "--worker-id", worker_id,
        ]


def this_build() -> Build:
    return Build("this", ROOT, sys.executable)


def baseline_build(ref: str) -> Build:
    """`ref` checked out under var/bench/ with its own virtualenv (made once, then reused)."""
    sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    root = ROOT / "var" / "bench" / f"baseline-{sha[:12]}"
    if not (root / "manage.py").exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", "--force", str(root), sha)
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(root / "requirements.txt")], check=True
        )
    return Build(f"baseline {sha[:10]}", root, str(python))


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


# --- the legacy Flask app ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LegacyBuild:
    """The legacy app from a checkout, under gunicorn sync workers: the ingress scenario only."""

    name: str
    root: Path
    python: str

    def service(self, *, web_workers: int = 2, **env) -> "LegacyService":
        return LegacyService(self, web_workers, **env)


def legacy_build(path: str) -> LegacyBuild:
    """The checkout at `path`, run from var/bench/legacy-venv made from its requirements.txt."""
    root = Path(path).resolve()
    venv = ROOT / "var" / "bench" / "legacy-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # Every run: quick once satisfied, and it completes an install an interrupted run left half done.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(root / "requirements.txt")], check=True)
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return LegacyBuild(f"legacy {commit}".strip(), root, str(python))


class LegacyService(LiveService):
    """`gunicorn app_render:app` with what its Gmail ingress needs; its state is in memory and files (or Redis).

    It answers a new push "queued" and sends the webhook from a thread pool in the same web process: that
    competes with its requests for the CPU, and is part of what it costs."""

    def __init__(self, build: LegacyBuild, web_workers: int, **env):
        super().__init__(root=build.root, python=build.python, **env)
        self.web_workers = web_workers
        self.env.update(
            FLASK_SECRET_KEY=uuid.uuid4().hex,
            TRIGGER_PAGE_PASSWORD=uuid.uuid4().hex,  # required at import, unused by the ingress
            FLASK_LOG_LEVEL="WARNING",  # as ours runs (LOG_LEVEL): no INFO line per push
            # It takes 127.0.0.1 and localhost for placeholders and sends to its production URL instead;
            # 127.1 is the same address under another name.
            WEBHOOK_URL=self.env["WEBHOOK_URL"].replace("//127.0.0.1:", "//127.1:"),
            # Should it still fall back to that https URL, the send fails here rather than leave the machine.
            HTTPS_PROXY="http://127.0.0.1:9",
        )

    def _database_url(self) -> str:
        return ""  # no database of ours to create

    def start(self, timeout: float = 60) -> "LegacyService":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.python, "-m", "gunicorn", "app_render:app", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.web_workers), "--worker-class", "sync"],
            cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"legacy app exited early:\n{self.log()}")
            try:
                if requests.get(self.url("/health"), timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"legacy app did not answer /health in {timeout} s:\n{self.log()}")

    def children(self) -> list[int]:
        """The gunicorn master and its workers, as ours counts them."""
        return [self.process.pid, *descendants(self.process.pid)] if self.process else []

    def stop(self, timeout: float = 30) -> int | None:
        # Its workers install a SIGTERM handler that only logs: SIGQUIT is gunicorn's quick shutdown.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        return super().stop(timeout)
