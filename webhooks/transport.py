"""One HTTP POST to a receiver: resolved once, checked, pinned, bounded in time, redirects never followed.

The SSRF guard and the connection share one DNS answer: the host is resolved here, every address is
checked, and the socket connects to a checked address while the Host header, TLS SNI and certificate
verification still use the endpoint's name. A DNS answer that changes between the check and the
connection (rebinding) therefore cannot steer the request to a private address. For the same reason
no proxy is used: a proxy would resolve the name again, out of our sight.

The whole exchange (connect, send, response) is bounded by the endpoint timeout: each socket
operation gets the time left, and a watchdog shuts the socket down at the deadline, so a receiver
that trickles bytes cannot hold a worker longer than the timeout.
"""

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.ssl_match_hostname import CertificateError

from webhooks.validators import host_addresses, ip_is_private

# Everything a receiver or the network can make a request fail with.
NETWORK_ERRORS = (OSError, HTTPException, Urllib3Error, CertificateError)
RESPONSE_READ_LIMIT = 64 * 1024
READ_CHUNK = 16 * 1024


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    text: str
    error: str
    duration_ms: int
    headers: dict = field(default_factory=dict)  # response headers, lower-case names
    blocked: bool = False
    internal: bool = False  # the send raised: not the receiver's doing


class TargetBlocked(Exception):
    """The endpoint's host resolves to an address a webhook must never reach."""


class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self.seconds:g} s")
        return left


def target_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to, resolved once; TargetBlocked when any of them is not public."""
    addresses = host_addresses(host, port)
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        private = [a for a in addresses if ip_is_private(a)]
        if private:
            raise TargetBlocked(f"target resolves to a non-public address ({', '.join(private)})")
    return addresses


def webhook_post(url: str, *, body: bytes, headers: dict, timeout: float, verify_tls: bool) -> HttpResult:
    started = time.monotonic()
    deadline = _Deadline(timeout)
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        addresses = target_addresses(host, port)
    except TargetBlocked as exc:
        return HttpResult(None, "", str(exc), _elapsed_ms(started), blocked=True)
    except (OSError, UnicodeError) as exc:
        return HttpResult(None, "", f"DNS lookup of {host} failed: {exc}"[:500], _elapsed_ms(started))

    try:
        conn = _connect(addresses, host, port, tls=tls, verify_tls=verify_tls, deadline=deadline)
    except NETWORK_ERRORS as exc:
        return HttpResult(None, "", _describe(exc, deadline), _elapsed_ms(started))

    fired = threading.Event()
    watchdog = threading.Timer(max(0.0, deadline.at - time.monotonic()), _abort, (conn, fired))
    watchdog.daemon = True
    watchdog.start()
    status, response_headers, raw, error = None, {}, b"", ""
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.sock.settimeout(deadline.left())
        conn.request(
            "POST", target, body=body, headers={**headers, "Host": _host_header(host, port, tls)}, preload_content=False
        )
        conn.sock.settimeout(deadline.left())
        response = conn.getresponse()
        if fired.is_set():
            raise TimeoutError("deadline reached before the answer's headers were complete")
        status = response.status
        response_headers = {k.lower(): v for k, v in response.headers.items()}
        raw, error = _body_read(conn, response, deadline)
    except NETWORK_ERRORS as exc:
        error = _describe(exc, deadline)
    finally:
        watchdog.cancel()
        conn.close()
    if fired.is_set():
        error = f"TimeoutError: no complete answer within {timeout:g} s"
    if status is not None and 300 <= status < 400 and not error:
        error = f"HTTP {status} redirect not followed (Location: {response_headers.get('location', '-')[:200]})"
    text = raw.decode(_charset(response_headers), errors="replace")
    return HttpResult(status, text, error[:500], _elapsed_ms(started), response_headers)


def _connect(addresses, host, port, *, tls, verify_tls, deadline) -> HTTPConnection:
    """Connect to the first checked address that answers (each one gets the time left)."""
    last_error: Exception | None = None
    for address in addresses:
        if tls:
            conn = HTTPSConnection(
                address,
                port,
                timeout=deadline.left(),
                server_hostname=host,
                assert_hostname=host if verify_tls else False,
                cert_reqs="CERT_REQUIRED" if verify_tls else "CERT_NONE",
                ca_certs=os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where(),
            )
        else:
            conn = HTTPConnection(address, port, timeout=deadline.left())
        try:
            conn.connect()
            return conn
        except NETWORK_ERRORS as exc:
            conn.close()
            last_error = exc
    raise last_error or OSError(f"no address for {host}")


def _body_read(conn, response, deadline) -> tuple[bytes, str]:
    """Up to RESPONSE_READ_LIMIT bytes; an answer cut short keeps its status and says why."""
    chunks, size = [], 0
    try:
        while size < RESPONSE_READ_LIMIT:
            conn.sock.settimeout(deadline.left())
            chunk = response.read(min(READ_CHUNK, RESPONSE_READ_LIMIT - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (*NETWORK_ERRORS, AttributeError) as exc:
        return b"".join(chunks), f"response body incomplete: {_describe(exc, deadline)}"
    return b"".join(chunks), ""


def _abort(conn, fired: threading.Event) -> None:
    fired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _describe(exc: BaseException, deadline: _Deadline) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timed out" in str(exc).lower():
        return f"TimeoutError: no complete answer within {deadline.seconds:g} s"
    cause = exc.__cause__ or exc.__context__
    detail = str(cause or exc)
    # urllib3 prefixes some messages with the connection object's repr; keep only the reason.
    detail = detail.split(">: ", 1)[-1]
    return f"{type(cause or exc).__name__}: {detail}"[:500]


def _host_header(host: str, port: int, tls: bool) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if tls else 80) else f"{name}:{port}"


def _charset(headers: dict) -> str:
    for part in headers.get("content-type", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                "".encode(value.strip('"'))
                return value.strip('"')
            except LookupError:
                break
    return "utf-8"


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
