"""R2 settings are checked at start: switched on without its bucket settings, the service refuses to start."""

import os
import subprocess
import sys

from tests.service import ROOT


def start_with(**env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "signal_server.settings.base", "DJANGO_SECRET_KEY": "k" * 50, **env
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_r2_enabled_without_its_settings_refuses_to_start():
    result = start_with(
        R2_ENABLED="true", R2_ENDPOINT_URL="", R2_BUCKET="", R2_ACCESS_KEY_ID="a", R2_SECRET_ACCESS_KEY="b"
    )
    assert result.returncode != 0
    assert "R2_ENABLED is true but R2_ENDPOINT_URL, R2_BUCKET not set." in result.stderr


def test_r2_presigned_urls_cannot_exceed_seven_days():
    result = start_with(
        R2_ENABLED="true", R2_ENDPOINT_URL="http://127.0.0.1:9", R2_BUCKET="b", R2_ACCESS_KEY_ID="a",
        R2_SECRET_ACCESS_KEY="s", R2_PRESIGN_SECONDS="604801",
    )
    assert result.returncode != 0
    assert "R2_PRESIGN_SECONDS must be between 1 and 604800" in result.stderr
