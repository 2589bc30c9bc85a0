"""Test settings: the production settings with test credentials and loopback receivers allowed.

DATABASE_URL and REDIS_URL are honoured, so CI runs the same suite on PostgreSQL and Redis.
"""

import os
import tempfile
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-not-for-production")
os.environ["DJANGO_DEBUG"] = "false"
os.environ.setdefault("PROCESS_API_TOKEN", "test-token,rotated-token")
os.environ["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "true"
os.environ["R2_ENABLED"] = "false"  # tests that copy files turn it on against moto (tests/transfers)
os.environ.setdefault("SIGNAL_VAR_DIR", tempfile.mkdtemp(prefix="signal-tests-"))
# Own Redis key space per test run, so clearing it never touches a live service's cache.
os.environ.setdefault("CACHE_KEY_PREFIX", f"signal-tests-{uuid.uuid4().hex[:8]}")

from signal_server.settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns when it is missing)

# Transfers: the local file server standing in for the providers listens on 127.0.0.1.
TRANSFERS_EXTRA_ALLOWED_HOSTS = ["127.0.0.1"]

# A file, not SQLite's shared-cache memory database: threads then queue on the writer lock and read
# in WAL mode as the deployed service does, instead of failing on shared-cache table locks.
if DATABASES["default"]["ENGINE"] == "infrastructure.sqlite":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
