"""One HTTP POST to a receiver: resolved once, checked, pinned, bounded in time, redirects never followed.

The SSRF guard and the connection share one DNS answer: the host is resolved here, every address is
checked, and the socket connects to a checked address while the Host header, TLS SNI and certificate
verification still use the endpoint's name. A DNS answer that changes between the check and the
connection (rebinding) therefore cannot steer the request to a private address. For the same reason
no proxy is used: a proxy would resolve the name again, out of our sight.

The whole exchange (connect, send, response) is bounded by the endpoint timeout: each socket
operation gets the time left, and a watchdog shuts the socket down at the deadline, so a receiver
that trickles bytes cannot hold a worker longer than the timeout.

Connections are kept alive per endpoint (scheme, host, port, TLS checks) between attempts: an answer
read to its end on a connection the receiver keeps open goes back to a small idle pool, and the next
attempt to the same receiver reuses it, pinned to the address that was checked when it was opened.
A connection the receiver closed while idle is noticed before use; one that fails before any byte of
an answer came back is replaced by a fresh connection, within the same deadline.
"""

import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.ssl_match_hostname import CertificateError

from core.network import AddressRefused, public_addresses

# Everything a receiver or the network can make a request fail with.
NETWORK_ERRORS = (OSError, HTTPException, Urllib3Error, CertificateError)
RESPONSE_READ_LIMIT = 64 * 1024
READ_CHUNK = 16 * 1024
# Idle connections kept per receiver, and for how long: receivers close idle keep-alive connections
# after a few seconds (gunicorn 2 s, Node 5 s), and a burst is where reuse pays.
IDLE_PER_RECEIVER = 32
IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    text: str
    error: str
    duration_ms: int
    headers: dict = field(default_factory=dict)  # response headers, lower-case names
    blocked: bool = False
    internal: bool = False  # the send raised: not the receiver's doing


class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self.seconds:g} s")
        return left


class _IdleConnections:
    """Keep-alive connections waiting for their receiver's next attempt, newest first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle: dict[tuple, deque] = defaultdict(deque)

    def take(self, key: tuple) -> HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn, since = idle.pop()
            if time.monotonic() - since <= IDLE_SECONDS and conn.is_connected:
                return conn
            conn.close()

    def give(self, key: tuple, conn: HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[key]
            if len(idle) < IDLE_PER_RECEIVER:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            connections = [conn for idle in self._idle.values() for conn, _ in idle]
            self._idle.clear()
        for conn in connections:
            conn.close()


idle_connections = _IdleConnections()


def webhook_post(url: str, *, body: bytes, headers: dict, timeout: float, verify_tls: bool) -> HttpResult:
    started = time.monotonic()
    deadline = _Deadline(timeout)
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    key = (tls, host, port, verify_tls)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {**headers, "Host": _host_header(host, port, tls)}
    reused = idle_connections.take(key)
    if reused is not None:
        exchange = _exchange(reused, target, body, headers, deadline)
        if exchange.status is not None or exchange.fired:
            return _result(exchange, key, timeout, started)
        # The receiver closed the idle connection as we used it: nothing was answered, try a fresh one.
        reused.close()
    try:
        addresses = public_addresses(host, port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except AddressRefused as exc:
        error = f"target resolves to a non-public address ({', '.join(exc.addresses)})"
        return HttpResult(None, "", error, _elapsed_ms(started), blocked=True)
    except (OSError, UnicodeError) as exc:
        return HttpResult(None, "", f"DNS lookup of {host} failed: {exc}"[:500], _elapsed_ms(started))
    try:
        conn = _connect(addresses, host, port, tls=tls, verify_tls=verify_tls, deadline=deadline)
    except NETWORK_ERRORS as exc:
        return HttpResult(None, "", _describe(exc, deadline), _elapsed_ms(started))
    return _result(_exchange(conn, target, body, headers, deadline), key, timeout, started)


@dataclass
class _Exchange:
    conn: HTTPConnection
    status: int | None = None
    headers: dict = field(default_factory=dict)
    raw: bytes = b""
    error: str = ""
    fired: bool = False  # the watchdog cut it at the deadline
    reusable: bool = False  # answered in full on a connection the receiver keeps open


def _exchange(conn: HTTPConnection, target: str, body: bytes, headers: dict, deadline: _Deadline) -> _Exchange:
    """One request and its answer on `conn`, bounded by the deadline."""
    exchange = _Exchange(conn)
    fired = threading.Event()
    watchdog = threading.Timer(max(0.0, deadline.at - time.monotonic()), _abort, (conn, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.sock.settimeout(deadline.left())
        conn.request("POST", target, body=body, headers=headers, preload_content=False)
        conn.sock.settimeout(deadline.left())
        response = conn.getresponse()
        if fired.is_set():
            raise TimeoutError("deadline reached before the answer's headers were complete")
        exchange.status = response.status
        exchange.headers = {k.lower(): v for k, v in response.headers.items()}
        exchange.raw, exchange.error, complete = _body_read(conn, response, deadline)
        exchange.reusable = complete and _keeps_alive(response) and not fired.is_set()
    except NETWORK_ERRORS as exc:
        exchange.error = _describe(exc, deadline)
    finally:
        watchdog.cancel()
    exchange.fired = fired.is_set()
    return exchange


def _result(exchange: _Exchange, key: tuple, timeout: float, started: float) -> HttpResult:
    if exchange.reusable and not exchange.error and exchange.conn.is_connected:
        idle_connections.give(key, exchange.conn)
    else:
        exchange.conn.close()
    error = exchange.error
    if exchange.fired:
        error = f"TimeoutError: no complete answer within {timeout:g} s"
    status, headers = exchange.status, exchange.headers
    if status is not None and 300 <= status < 400 and not error:
        error = f"HTTP {status} redirect not followed (Location: {headers.get('location', '-')[:200]})"
    text = exchange.raw.decode(_charset(headers), errors="replace")
    return HttpResult(status, text, error[:500], _elapsed_ms(started), headers)


def _keeps_alive(response) -> bool:
    tokens = {token.strip().lower() for token in response.headers.get("connection", "").split(",")}
    if response.version == 11:
        return "close" not in tokens
    return "keep-alive" in tokens


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
                ca_certs=settings.WEBHOOK_CA_BUNDLE or certifi.where(),
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


def _body_read(conn, response, deadline) -> tuple[bytes, str, bool]:
    """Up to RESPONSE_READ_LIMIT bytes, an error if cut short, and whether the answer was read to its end."""
    chunks, size = [], 0
    try:
        while size < RESPONSE_READ_LIMIT:
            conn.sock.settimeout(deadline.left())
            chunk = response.read(min(READ_CHUNK, RESPONSE_READ_LIMIT - size), decode_content=True)
            if not chunk:
                return b"".join(chunks), "", True
            chunks.append(chunk)
            size += len(chunk)
    except (*NETWORK_ERRORS, AttributeError) as exc:
        return b"".join(chunks), f"response body incomplete: {_describe(exc, deadline)}", False
    return b"".join(chunks), "", False


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
