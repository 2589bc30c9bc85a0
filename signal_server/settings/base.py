"""Settings for Signal Server.

Environment variables carry secrets and infrastructure only (django-environ, `.env` read when present);
everything an operator tunes at runtime lives in models edited in admin. Every variable read here is
listed, with its default, in the README.
"""

import ipaddress
import json
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("SIGNAL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

VERSION = "1.0.0"

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "set DJANGO_SECRET_KEY (in the environment or .env; one is printed by "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or DJANGO_DEBUG=true for development."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "core",
    "configuration",
    "ops",
    "signal_server",
    "ingress",
    "routing",
    "webhooks",
    "transfers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "configuration.middleware.AdminTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "signal_server.urls"
WSGI_APPLICATION = "signal_server.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the worker write together; IMMEDIATE takes the write lock at
    # BEGIN so a read-then-write transaction waits instead of failing; transactions queue on a lock
    # file rather than SQLite's sleeping busy handler (infrastructure/sqlite).
    DATABASES["default"]["ENGINE"] = "infrastructure.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
            "transaction_mode": "IMMEDIATE",
            # The committing connection runs SQLite's automatic checkpoint, holding the write queue
            # through two fsyncs; `serve` checkpoints from its own process instead and raises this.
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                f"PRAGMA wal_autocheckpoint={env.int('SQLITE_WAL_AUTOCHECKPOINT_PAGES', default=1000)}"
            ),
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database fails a request within seconds (a 503 the client retries) instead of
    # holding a web worker until gunicorn's timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5)
    )
# Persistent connections: opening one (and, on SQLite, running its PRAGMAs) per request cost more
# than the whole ingress decision.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=600))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (hot configuration reads, rate limits) --------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="signal"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage degrades to database reads; it never fails a request.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "signal"}}

# --- Delivery workers (SPEC §7.1) -------------------------------------------------------------
# Deliveries each worker process sends at once (one thread each, and one database connection each).
DELIVERY_CONCURRENCY = env.int("DELIVERY_CONCURRENCY", default=32)
# Worker processes `serve` starts; more can run anywhere that reaches the database (`manage.py deliver`).
DELIVERY_WORKERS = env.int("DELIVERY_WORKERS", default=1)
# How often an idle worker looks for due deliveries.
DELIVERY_POLL_SECONDS = env.float("DELIVERY_POLL_SECONDS", default=0.005)
# Circuit breaker cool-down: the first open period, doubled after each failed probe up to the maximum.
DELIVERY_BREAKER_COOLDOWN_SECONDS = env.int("DELIVERY_BREAKER_COOLDOWN_SECONDS", default=30)
DELIVERY_BREAKER_COOLDOWN_MAX_SECONDS = env.int("DELIVERY_BREAKER_COOLDOWN_MAX_SECONDS", default=600)
# How long past its lease a delivery waits before another worker takes it back (clock skew between hosts).
DELIVERY_LEASE_GRACE_SECONDS = env.float("DELIVERY_LEASE_GRACE_SECONDS", default=5)
# On SIGTERM, how long sends in flight may take to finish before they are handed back to the queue.
DELIVERY_STOP_GRACE_SECONDS = env.float("DELIVERY_STOP_GRACE_SECONDS", default=20)
# `serve` lowers its workers' CPU priority by this nice value, so pushes are answered first under load.
DELIVERY_WORKER_NICE = env.int("DELIVERY_WORKER_NICE", default=10)
# While pushes pour in, a worker claims only once per this many seconds (0: always at once).
DELIVERY_INGRESS_YIELD_SECONDS = env.float("DELIVERY_INGRESS_YIELD_SECONDS", default=1.0)
# An endpoint whose every attempt failed for this long is deactivated (reason `failing`); 0 = never.
ENDPOINT_DISABLE_AFTER_HOURS = env.int("ENDPOINT_DISABLE_AFTER_HOURS", default=72)
# After a secret rotation, how long the previous secret still signs deliveries (beside the new one); 0 = not at all.
SECRET_ROTATION_OVERLAP_HOURS = max(0, env.int("SECRET_ROTATION_OVERLAP_HOURS", default=24))

# --- Alerts (docs/alerts.md) ------------------------------------------------------------------
# Who gets the alert e-mails (comma-separated; empty: none, alerts are still recorded and sent to the
# endpoints flagged `receives_alerts`).
ALERT_EMAILS = [a.strip() for a in env.str("ALERT_EMAILS", default="").split(",") if a.strip()]
# No push for this many minutes inside the time window raises an alert; 0 = off.
ALERT_NO_INGRESS_MINUTES = env.int("ALERT_NO_INGRESS_MINUTES", default=60)
# The oldest due delivery of a lane that may send waiting this many minutes raises an alert; 0 = off.
ALERT_QUEUE_AGE_MINUTES = env.int("ALERT_QUEUE_AGE_MINUTES", default=15)
# How often a delivery worker (one at a time) evaluates the alert rules.
ALERT_EVALUATE_SECONDS = env.float("ALERT_EVALUATE_SECONDS", default=30.0)

# --- E-mail (Django's mailers) -----------------------------------------------------------------
EMAIL_TIMEOUT_SECONDS = 10


def _mailer(url: dict) -> dict:
    """A MAILERS entry from django-environ's parse of EMAIL_URL (smtp://, smtp+tls://, consolemail://, …)."""
    backend = url["EMAIL_BACKEND"]
    if backend.endswith(".smtp.EmailBackend"):
        options = {
            "host": url["EMAIL_HOST"], "port": url["EMAIL_PORT"], "username": url["EMAIL_HOST_USER"] or None,
            "password": url["EMAIL_HOST_PASSWORD"] or None, "use_tls": url.get("EMAIL_USE_TLS", False),
            "use_ssl": url.get("EMAIL_USE_SSL", False), "timeout": EMAIL_TIMEOUT_SECONDS,
        }
    elif backend.endswith(".filebased.EmailBackend"):
        options = {"file_path": "/" + url["EMAIL_FILE_PATH"]}
    else:
        options = {}
    return {"BACKEND": backend, "OPTIONS": options}


# Parsed by django-environ (env.email_url's parser); an empty value, as .env.example leaves it, is the default:
# the console in development, else the local mail server, as Django's own default (and its deploy check) wants.
EMAIL_URL_DEFAULT = "consolemail://" if DEBUG else "smtp://localhost:25"
MAILERS = {"default": _mailer(environ.Env.email_url_config(env.str("EMAIL_URL", default="") or EMAIL_URL_DEFAULT))}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="signal-server@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Admin messages live in the session an admin user already has. The default storage tries a signed
# cookie first, and built its cookie signer on every request, ingress pushes included.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Security --------------------------------------------------------------------------------
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything is served from this origin (no CDN); inline scripts need the per-request nonce
# (`{{ csp_nonce }}`), inline style attributes are allowed for admin widgets and SVG charts.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Password logins (admin) are throttled by django-axes: after LOGIN_THROTTLE_FAILURES failures for one user
# name, or from one address, both are locked out for LOGIN_THROTTLE_SECONDS. Counted in the database,
# so every web process and host sees the same figure.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_THROTTLE_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_THROTTLE_SECONDS", default=900))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff holding the model permissions admin asks (view to read, change to act); docs/api.md.
    "DEFAULT_PERMISSION_CLASSES": ["webhooks.api.permissions.StaffModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.HistoryPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Signal Server API",
    "DESCRIPTION": "Gmail push ingress and webhook delivery history.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl None: Swagger UI would otherwise load a badge from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "EmailStatusEnum": "ingress.models.InboundEmail.Status",
    },
    # The ingress views reference this scheme; tokenAuth and cookieAuth come from REST_FRAMEWORK.
    # WebhookPayload is the body every delivery POSTs (docs/payload.schema.json, a JSON Schema written in the
    # subset OpenAPI 3.0 shares, without `enum`, which drf-spectacular's enum hook would rewrite in place);
    # OpenAPI 3.0 has no webhooks object, so it is listed as a component.
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "IngressBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer <PROCESS_API_TOKEN>` (ingress only).",
            }
        },
        "schemas": {
            "WebhookPayload": {
                key: value
                for key, value in json.loads((BASE_DIR / "docs" / "payload.schema.json").read_text("utf-8")).items()
                if key != "$schema"
            }
        },
    },
}

# --- Web processes (`manage.py serve`, `make run`) --------------------------------------------
SERVE_HOST = env.str("HOST", default="127.0.0.1")
SERVE_PORT = env.int("PORT", default=8000)
# gunicorn worker processes and threads per process; one thread runs its sync workers, more gthread ones.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=os.cpu_count() or 2)
WEB_THREADS = env.int("WEB_THREADS", default=1)
ACCESS_LOG = env.bool("ACCESS_LOG", default=False)

# --- Signal Server ---------------------------------------------------------------------------
PROCESS_API_TOKENS = [t.strip() for t in env.str("PROCESS_API_TOKEN", default="").split(",") if t.strip()]
INGRESS_MAX_BYTES = env.int("INGRESS_MAX_BYTES", default=10 * 1024 * 1024)
INGRESS_HMAC_SECRET = env.str("INGRESS_HMAC_SECRET", default="")
INGRESS_BATCH_MAX_ITEMS = 50
DATA_UPLOAD_MAX_MEMORY_SIZE = INGRESS_MAX_BYTES
WEBHOOK_URL = env.str("WEBHOOK_URL", default="")
# First start (`manage.py bootstrap`, run by `make run`): the admin user to create or update.
SUPERUSER_USERNAME = env.str("DJANGO_SUPERUSER_USERNAME", default="").strip()
SUPERUSER_PASSWORD = env.str("DJANGO_SUPERUSER_PASSWORD", default="")
SUPERUSER_EMAIL = env.str("DJANGO_SUPERUSER_EMAIL", default="")
GMAIL_SENDER_ALLOWLIST = [
    s.strip().lower() for s in env.str("GMAIL_SENDER_ALLOWLIST", default="").split(",") if s.strip()
]
SIGNAL_TIME_ZONE = env.str("SIGNAL_TIME_ZONE", default="") or env.str("POLLING_TIMEZONE", default="") or "Europe/Paris"
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# Receivers' TLS certificates are checked against this PEM bundle (requests' variable), else certifi's.
WEBHOOK_CA_BUNDLE = env.str("REQUESTS_CA_BUNDLE", default="")
WEBHOOK_USER_AGENT = f"signal-server/{VERSION}"

# /health/ready answers 503 when the last worker heartbeat, or the oldest due delivery, is older than this.
HEALTH_HEARTBEAT_MAX_AGE_SECONDS = env.int("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", default=60)
HEALTH_QUEUE_MAX_AGE_SECONDS = env.int("HEALTH_QUEUE_MAX_AGE_SECONDS", default=300)

# GET /metrics (Prometheus): a bearer token, or client addresses allowed without one; neither = no endpoint (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="").strip()
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(cidr.strip(), strict=False)
        for cidr in env.str("METRICS_ALLOWED_IPS", default="").split(",") if cidr.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc} (comma-separated addresses or CIDRs)") from exc

# File offload to an S3-compatible bucket (SPEC §8, transfers app). Off unless R2_ENABLED.
R2_ENABLED = env.bool("R2_ENABLED", default=False)
R2_ENDPOINT_URL = env.str("R2_ENDPOINT_URL", default="")
R2_BUCKET = env.str("R2_BUCKET", default="") or env.str("R2_BUCKET_NAME", default="")  # legacy name read too
R2_ACCESS_KEY_ID = env.str("R2_ACCESS_KEY_ID", default="")
R2_SECRET_ACCESS_KEY = env.str("R2_SECRET_ACCESS_KEY", default="")
R2_PUBLIC_BASE_URL = env.str("R2_PUBLIC_BASE_URL", default="")
R2_PRESIGN_SECONDS = env.int("R2_PRESIGN_SECONDS", default=86400)
R2_MAX_BYTES = env.int("R2_MAX_BYTES", default=100 * 1024 * 1024)
R2_DOWNLOAD_TIMEOUT_SECONDS = env.float("R2_DOWNLOAD_TIMEOUT_SECONDS", default=15.0)
R2_FOLDER_TIMEOUT_SECONDS = env.float("R2_FOLDER_TIMEOUT_SECONDS", default=120.0)
R2_LINK_TTL_DAYS = env.int("R2_LINK_TTL_DAYS", default=1)
R2_API_CONNECT_TIMEOUT_SECONDS = env.float("R2_API_CONNECT_TIMEOUT_SECONDS", default=5.0)
R2_API_READ_TIMEOUT_SECONDS = env.float("R2_API_READ_TIMEOUT_SECONDS", default=60.0)
# Hosts added to the provider allowlist (plain http and private addresses allowed for them). Tests only:
# production settings keep it empty and no environment variable feeds it.
TRANSFERS_EXTRA_ALLOWED_HOSTS: list[str] = []
if R2_ENABLED:
    _r2_missing = [
        name
        for name in ("R2_ENDPOINT_URL", "R2_BUCKET", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY")
        if not globals()[name]
    ]
    if _r2_missing:
        raise ImproperlyConfigured(f"R2_ENABLED is true but {', '.join(_r2_missing)} not set.")
    if not 1 <= R2_PRESIGN_SECONDS <= 604800:
        raise ImproperlyConfigured("R2_PRESIGN_SECONDS must be between 1 and 604800 (7 days).")
    if R2_LINK_TTL_DAYS < 1 or R2_MAX_BYTES < 1:
        raise ImproperlyConfigured("R2_LINK_TTL_DAYS and R2_MAX_BYTES must be positive.")

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One line per database or Redis outage and process, not a traceback per request (ops/outages.py);
    # before the redaction, which then also covers the error text it adds.
    "filters": {"outage": {"()": "ops.outages.OutageLogFilter"}, "redact": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["outage", "redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default "django" logger, whose debug-only console handler printed every line twice.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # its start-up banner, in every process
    },
}

WHITENOISE_USE_FINDERS = DEBUG
