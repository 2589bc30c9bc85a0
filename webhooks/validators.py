"""Validation of webhook targets (SSRF guard) and of settings values, shared by admin, import and send."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from core.network import AddressRefused, host_is_placeholder, public_addresses

LOCALHOST_NAMES = ("localhost", "localhost.")


def endpoint_url_validate(url: str, *, allow_private: bool | None = None) -> None:
    """Refuse URLs a webhook must never target. DNS failures are tolerated here (checked at send time)."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS if allow_private is None else allow_private
    parts, port = _url_split(url)
    host = (parts.hostname or "").lower()
    _url_shape_check(parts, host, allow_private)
    private = _host_is_private(host, port)
    if private and not allow_private:
        raise ValidationError(
            f"'{host}' points to a non-public address (private, loopback, link-local, reserved, or one of those "
            "inside an IPv6 form); set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it."
        )
    if parts.scheme == "http" and not private:
        raise ValidationError("Use https; plain http is allowed only for private targets.")


def _url_split(url: str):
    try:
        parts = urlsplit(url)
        return parts, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError(f"Not a valid URL: {exc}.") from exc


def _url_shape_check(parts, host: str, allow_private: bool) -> None:
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("Enter a full http(s) URL with a host name.")
    if parts.username or parts.password:
        raise ValidationError("Credentials in the URL are not allowed; use custom headers or a signing secret.")
    if host_is_placeholder(host) and not (allow_private and host in LOCALHOST_NAMES):
        raise ValidationError(f"'{host}' is a placeholder host, not a real receiver.")


def _host_is_private(host: str, port: int) -> bool:
    """localhost, or a name or address resolving to a private one (unresolvable names count as public)."""
    if host in LOCALHOST_NAMES:
        return True
    try:
        public_addresses(host, port)
    except AddressRefused:
        return True
    except (OSError, UnicodeError):
        return False
    return False


def retry_schedule_validate(schedule: list) -> None:
    if (
        not isinstance(schedule, list)
        or not 1 <= len(schedule) <= 20
        or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 7 * 86400 for s in schedule)
    ):
        raise ValidationError("The retry schedule is a list of 1 to 20 delays in whole seconds (0 to 604800).")
    if schedule[0] != 0:
        # The first attempt goes out as soon as the e-mail is accepted (or the window opens); the schedule's
        # first slot only says so, which keeps "delay before attempt N" true for every N.
        raise ValidationError("The first attempt is sent immediately: start the retry schedule with 0.")


RETRY_ON_STATUS_MAX = 20


def retry_on_status_validate(codes: list) -> None:
    """Extra HTTP statuses an endpoint retries: whole numbers from 400 to 599, never 410.

    410 Gone is how a receiver retires a URL (the endpoint is deactivated and its deliveries wait,
    paused); retrying it would hide that, so it cannot be listed.
    """
    if not isinstance(codes, list) or any(isinstance(c, bool) or not isinstance(c, int) for c in codes):
        raise ValidationError("Retried statuses are a list of HTTP status codes, e.g. [404, 409].")
    if len(codes) > RETRY_ON_STATUS_MAX:
        raise ValidationError(f"At most {RETRY_ON_STATUS_MAX} retried statuses.")
    outside = sorted({c for c in codes if not 400 <= c <= 599})
    if outside:
        raise ValidationError(
            f"Only 4xx and 5xx answers can be retried (400 to 599): {', '.join(map(str, outside))}."
        )
    if 410 in codes:
        raise ValidationError(
            "410 Gone cannot be retried: it deactivates the endpoint (its deliveries wait, paused, until it is "
            "activated again)."
        )


# RFC 9110 token characters for names; values are sent as Latin-1 by the HTTP client, so printable ASCII
# (and tab) is what every receiver reads the same way.
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e]*")
HEADERS_MAX = 20
HEADER_VALUE_MAX = 4096


def headers_validate(headers: dict) -> None:
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValidationError("Custom headers are an object of header names to string values.")
    if len(headers) > HEADERS_MAX:
        raise ValidationError(f"At most {HEADERS_MAX} custom headers.")
    bad_names = sorted(k for k in headers if not HEADER_NAME_RE.fullmatch(k))
    if bad_names:
        raise ValidationError(
            f"Invalid header name(s): {', '.join(repr(k) for k in bad_names)} (letters, digits and !#$%&'*+.^_`|~-)."
        )
    bad_values = sorted(k for k, v in headers.items() if not HEADER_VALUE_RE.fullmatch(v) or len(v) > HEADER_VALUE_MAX)
    if bad_values:
        raise ValidationError(
            f"The value of {', '.join(bad_values)} must be printable ASCII without line breaks "
            f"(at most {HEADER_VALUE_MAX} characters)."
        )
    reserved = {
        "content-type", "content-length", "host", "user-agent", "transfer-encoding",
        "webhook-id", "webhook-timestamp", "webhook-signature",
    }
    clash = sorted(k for k in headers if k.strip().lower() in reserved)
    if clash:
        raise ValidationError(f"These headers are set by Signal Server and cannot be overridden: {', '.join(clash)}.")
