"""The database and cache the suite runs on, and the real servers behind them (a pytest plugin).

`--stack` chooses, before Django reads its settings:

- `embedded`: SQLite (WAL) and the local-memory cache, the defaults of `make run`;
- `servers`: the servers users deploy with, a throw-away PostgreSQL and Redis started for this run;
- `env` (the default): DATABASE_URL and REDIS_URL as the environment gives them.

The servers are pytest-postgresql's and pytest-redis's executors (mirakuru underneath), driven here
rather than through their fixtures because Django needs the addresses before any fixture runs. They
listen on free loopback ports, keep their files under a directory of this run, and are stopped when
the run ends, whether it passed, failed or was interrupted with Ctrl-C.

Tests that need a program beyond Python say so with `@pytest.mark.needs("chromium")` (see
tests/prerequisites.py). When a selected test needs a program that is missing, the run stops before
any test starts and names the command that installs it: nothing is skipped silently.
"""

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from tests import prerequisites

STACKS = ("env", "embedded", "servers")
_servers: list = []  # executors this run started, stopped at the end


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_addoption(parser):
    parser.addoption(
        "--stack", choices=STACKS, default="env",
        help="database and cache to run on: env (DATABASE_URL/REDIS_URL as set), embedded (SQLite + local "
        "memory), servers (a throw-away PostgreSQL + Redis started for the run)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Point DATABASE_URL and REDIS_URL at the chosen stack before pytest-django loads the settings."""
    stack = parser.parse_known_args(args).stack
    if stack == "embedded":
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
    elif stack == "servers":
        missing = prerequisites.tools_missing(["postgresql", "redis"])
        if missing:
            raise pytest.UsageError(prerequisites.missing_message(missing))
        run_dir = Path(tempfile.mkdtemp(prefix="signal-test-servers-"))
        _servers.append((None, run_dir))
        try:
            os.environ["DATABASE_URL"] = postgresql_start(run_dir / "postgresql")
            os.environ["REDIS_URL"] = redis_start(run_dir / "redis")
        except BaseException:
            servers_stop()
            raise


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*programs): the test runs these programs (tests/prerequisites.py)")


def pytest_unconfigure(config):
    servers_stop()


def servers_stop() -> None:
    """Stop what this run started, newest first, and remove its files."""
    while _servers:
        executor, directory = _servers.pop()
        if executor is not None:
            try:
                executor.stop()
            except Exception as exc:  # the others are still stopped and every directory removed
                print(f"stopping {type(executor).__name__} failed: {exc}", file=sys.stderr)
                executor.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    needed = {program for item in items for mark in item.iter_markers("needs") for program in mark.args}
    missing = prerequisites.tools_missing(sorted(needed))
    if missing:
        raise pytest.UsageError(prerequisites.missing_message(missing))


def redis_start(directory: Path, port: int | None = None):
    """A Redis server of its own on loopback; returns its URL (the executor is stopped at the end of the run)."""
    executor = redis_executor(directory, port)
    executor.start()
    _servers.append((executor, directory))
    return f"redis://127.0.0.1:{executor.port}/0"


def redis_executor(directory: Path, port: int | None = None):
    """An unstarted Redis executor (pytest-redis): no persistence, files under `directory`."""
    from pytest_redis.executor import RedisExecutor

    directory.mkdir(parents=True, exist_ok=True)
    return RedisExecutor(
        prerequisites.tool_path("redis"), databases=16, redis_timeout=30, loglevel="warning",
        host="127.0.0.1", port=port or free_port(), save="", datadir=directory, startup_timeout=30,
    )


def postgresql_start(directory: Path) -> str:
    """A PostgreSQL cluster of its own on loopback (pytest-postgresql); returns the URL of database `signal`."""
    executor = postgresql_executor(directory)
    executor.start()
    _servers.append((executor, directory))
    return f"postgres://postgres@127.0.0.1:{executor.port}/signal"


def postgresql_executor(directory: Path):
    """An unstarted PostgreSQL executor (pytest-postgresql), files under `directory`; stopping it keeps them,
    so it can be started again on the same data and port."""
    from pytest_postgresql.executors import PostgreSQLExecutor

    directory.mkdir(parents=True)
    pg_ctl = _pg_ctl_for_this_user(prerequisites.tool_path("postgresql"), directory)
    return PostgreSQLExecutor(
        executable=pg_ctl, host="127.0.0.1", port=free_port(), datadir=str(directory / "data"),
        unixsocketdir=str(directory), logfile=str(directory / "postgresql.log"), startparams="-w",
        dbname="signal", user="postgres",
        # Durability is not under test; a fresh cluster per run makes these safe and the suite faster.
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
    )


def _pg_ctl_for_this_user(pg_ctl: str, directory: Path) -> str:
    """pg_ctl itself, or as root (PostgreSQL refuses to run as root) a wrapper running it as `postgres`."""
    if os.geteuid() != 0:
        return pg_ctl
    import pwd

    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise pytest.UsageError(
            "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as: "
            "install Debian's postgresql package, which creates it, or run the tests as another user."
        ) from None
    os.chown(directory, owner.pw_uid, owner.pw_gid)
    wrapper = directory.parent / "pg_ctl"
    # From a directory `postgres` can enter: pg_ctl starts by changing back to the caller's.
    wrapper.write_text(
        f'#!/bin/sh\ncd "{directory}" && '
        f'exec setpriv --reuid=postgres --regid=postgres --init-groups -- "{pg_ctl}" "$@"\n'
    )
    wrapper.chmod(0o755)
    directory.parent.chmod(0o755)
    return str(wrapper)
