"""Settings read from the environment, checked in a fresh process as an operator would start it."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_read(code: str, tmp_path, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    environment = {**clean, "DJANGO_DEBUG": "true", "SIGNAL_VAR_DIR": str(tmp_path), **env}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_sqlite_waits_for_the_write_lock_as_long_as_sqlite_busy_timeout_seconds(tmp_path):
    code = "from django.db import connection\ncursor = connection.cursor()\n"
    code += "cursor.execute('PRAGMA busy_timeout'); print(*cursor.fetchone())"
    assert settings_read(code, tmp_path, SQLITE_BUSY_TIMEOUT_SECONDS="3") == "3000"


def test_serve_listens_where_host_and_port_say(tmp_path):
    code = "from django.conf import settings as s; print(s.SERVE_HOST, s.SERVE_PORT, s.WEB_THREADS, s.ACCESS_LOG)"
    assert settings_read(code, tmp_path, HOST="0.0.0.0", PORT="9100", WEB_THREADS="4", ACCESS_LOG="true") == (
        "0.0.0.0 9100 4 True"
    )


def test_a_postgresql_that_never_answers_fails_a_connection_within_its_connect_timeout(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP, never speaks PostgreSQL
        port = silent.getsockname()[1]
        code = (
            "import time\nfrom django.db import connection, OperationalError\nstarted = time.monotonic()\n"
            "try:\n    connection.ensure_connection()\nexcept OperationalError:\n"
            "    print(round(time.monotonic() - started))"
        )
        waited = settings_read(
            code, tmp_path, DATABASE_URL=f"postgres://u:p@127.0.0.1:{port}/db", DATABASE_CONNECT_TIMEOUT_SECONDS="2"
        )
    assert waited in {"2", "3"}
