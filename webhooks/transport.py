"""One HTTP POST to a receiver, guarded against private targets, with bounded response reading."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

from webhooks.validators import host_addresses, ip_is_private

RESPONSE_READ_LIMIT = 64 * 1024
_session = requests.Session()


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    text: str
    error: str
    duration_ms: int
    headers: dict
    blocked: bool = False


def target_check(url: str) -> str | None:
    """Why this URL must not be called now (resolved address private), or None."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return None
    parts = urlsplit(url)
    try:
        addresses = host_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return None  # the request itself then fails and reports the lookup error
    private = [a for a in addresses if ip_is_private(a)]
    return f"target resolves to a non-public address ({', '.join(private)})" if private else None


def webhook_post(url: str, *, body: bytes, headers: dict, timeout: float, verify_tls: bool) -> HttpResult:
    started = time.monotonic()
    blocked = target_check(url)
    if blocked:
        return HttpResult(None, "", blocked, 0, {}, blocked=True)
    try:
        with _session.post(
            url, data=body, headers=headers, timeout=timeout, verify=verify_tls, allow_redirects=False, stream=True
        ) as response:
            raw = response.raw.read(RESPONSE_READ_LIMIT, decode_content=True) or b""
            text = raw.decode(response.encoding or "utf-8", errors="replace")
            return HttpResult(
                response.status_code, text, "", _elapsed_ms(started), dict(response.headers)
            )
    except requests.RequestException as exc:
        return HttpResult(None, "", f"{type(exc).__name__}: {exc}"[:500], _elapsed_ms(started), {})


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
