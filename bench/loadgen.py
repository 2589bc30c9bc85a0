"""A small asyncio HTTP/1.1 load generator over keep-alive connections (loopback only)."""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _connection(host, port, path, token, make_body, counter, total, result, deadline):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline:
            index = next(counter)
            if index >= total:
                return
            body = json.dumps(make_body(index)).encode()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            close = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.latencies.append(time.perf_counter() - started)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _run(host, port, path, token, make_body, concurrency, total, max_seconds):
    import itertools

    result = LoadResult()
    counter = itertools.count()
    started = time.monotonic()
    deadline = started + max_seconds
    tasks = [
        asyncio.create_task(_connection(host, port, path, token, make_body, counter, total, result, deadline))
        for _ in range(concurrency)
    ]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    result.errors = sum(1 for o in outcomes if isinstance(o, BaseException))
    result.elapsed = time.monotonic() - started
    return result


def load_run(
    *, host: str, port: int, path: str, token: str, make_body: Callable[[int], dict],
    concurrency: int, total: int, max_seconds: float,
) -> LoadResult:
    """Send `total` requests over `concurrency` keep-alive connections, stopping at `max_seconds`."""
    return asyncio.run(_run(host, port, path, token, make_body, concurrency, total, max_seconds))
