import os
import subprocess
import sys

from tests.service import ROOT

PROBE = """
import gc, sys
import signal_server.wsgi
print(gc.get_freeze_count(), "ingress.api.views" in sys.modules)
"""


def test_the_wsgi_module_loads_the_views_and_freezes_them_out_of_the_collector(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {"DJANGO_DEBUG": "true", "SIGNAL_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    frozen, views_loaded = result.stdout.split()
    assert int(frozen) > 50_000
    assert views_loaded == "True"
