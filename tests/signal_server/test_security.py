"""Production safety: deploy checks, security headers, secret key requirement."""

import os
import subprocess
import sys

import pytest

from tests.service import ROOT

pytestmark = pytest.mark.django_db

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "signal.acme.fr",
    "DJANGO_BEHIND_TLS_PROXY": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SETTINGS_MODULE": "signal_server.settings.base",
}


def run_manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "SIGNAL_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_process_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "", "SIGNAL_VAR_DIR": str(tmp_path)}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("Signal Server is not configured: set DJANGO_SECRET_KEY")
    assert len(result.stderr.strip().splitlines()) == 1, "one line that says what to set, no traceback"


def test_responses_carry_csp_and_nosniff_and_frame_denial(client):
    response = client.get("/health")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_admin_pages_carry_the_csp_header(client):
    assert "script-src 'self'" in client.get("/admin/login/")["Content-Security-Policy"]
