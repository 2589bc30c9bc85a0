"""The builds a benchmark run measures: this checkout, and optionally a baseline commit beside it (A/B).

A baseline is checked out as a git worktree under var/bench/ with a virtualenv of its own (its own
requirements), so both builds run on the same machine in the same run.
"""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.service import ROOT, LiveService


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
