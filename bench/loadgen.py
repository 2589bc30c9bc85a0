"""A small HTTP/1.1 load generator for loopback, on non-blocking sockets and one selector.

Every request opens its own connection, as Apps Script's UrlFetchApp does towards the service; that
also lets the kernel spread requests over gunicorn's worker processes. It runs on the same cores as
the service, so it is kept lean: per request it costs about a third of what an asyncio-streams client
did, which would otherwise be CPU taken from the server being measured.
"""

import json
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful (2xx) requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p) if self.latencies else float("nan")


@dataclass
class _Exchange:
    """One request on its own connection, from connect to the end of the answer."""

    sock: socket.socket
    started: float
    received: bytearray = field(default_factory=bytearray)
    head_end: int = -1
    expected: int = -1  # bytes of head plus body, once the head is in

    def answer_complete(self) -> bool:
        if self.head_end < 0:
            self.head_end = self.received.find(b"\r\n\r\n")
            if self.head_end < 0:
                return False
            length = 0
            for line in bytes(self.received[: self.head_end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.expected = self.head_end + 4 + length
        return len(self.received) >= self.expected

    def status(self) -> int:
        return int(self.received.split(b" ", 2)[1])


def load_run(
    *, host: str, port: int, path: str, token: str, make_body: Callable[[int], dict],
    concurrency: int, total: int, max_seconds: float,
) -> LoadResult:
    """Send `total` requests, `concurrency` at a time, stopping at `max_seconds`."""
    result = LoadResult()
    selector = selectors.DefaultSelector()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n" \
           "Content-Type: application/json\r\nConnection: close\r\n"
    requests = [
        (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        for body in (json.dumps(make_body(index)).encode() for index in range(total))
    ]
    sent = 0
    in_flight = 0
    started = time.monotonic()
    deadline = started + max_seconds

    def send_next() -> None:
        nonlocal sent, in_flight
        request = requests[sent]
        sent += 1
        exchange_started = time.perf_counter()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((host, port))  # loopback: the handshake completes inside the call
            sock.sendall(request)
            sock.setblocking(False)
        except OSError:
            sock.close()
            result.errors += 1
            return
        selector.register(sock, selectors.EVENT_READ, _Exchange(sock, exchange_started))
        in_flight += 1

    def finish(exchange: _Exchange, ok: bool) -> None:
        nonlocal in_flight
        selector.unregister(exchange.sock)
        exchange.sock.close()
        in_flight -= 1
        if not ok:
            result.errors += 1
            return
        status = exchange.status()
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            result.latencies.append(time.perf_counter() - exchange.started)

    while sent < min(concurrency, total):
        send_next()
    while in_flight and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            exchange = key.data
            try:
                chunk = exchange.sock.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                exchange.received += chunk
                if not exchange.answer_complete():
                    continue
                finish(exchange, ok=True)
            else:
                finish(exchange, ok=exchange.answer_complete())
            if sent < total and time.monotonic() < deadline:
                send_next()
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    selector.close()
    result.elapsed = time.monotonic() - started
    return result
