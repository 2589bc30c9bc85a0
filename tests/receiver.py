"""A real HTTP receiver on 127.0.0.1 for delivery tests.

It records every request and answers from a script of responses (status, body, delay, or a dropped
connection); when the script runs out it answers `default`. It can serve TLS (pass an `ssl_context`) and
be restarted on the same port (pass `port`) to play a receiver that was down.
"""

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: str = '{"success": true}'
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    headers: dict = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that hung up mid-answer (a killed worker, a timeout) is expected here, not an error."""


class Receiver:
    def __init__(self, default: Answer | None = None, *, port: int = 0, ssl_context: ssl.SSLContext | None = None):
        self.default = default or Answer()
        self.script: list[Answer] = []
        self.requests: list[Received] = []
        self.started: list[float] = []  # when each request's body had arrived, before any delay
        self.connections = 0  # TCP connections accepted
        self._sockets: list[socket.socket] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.tls = ssl_context is not None
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def drop_connections(self) -> None:
        """Close every connection from the receiver's side, as a server does with idle keep-alive ones."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None) -> list[Received]:
        """Block until `count` requests (on `path`, if given) arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = [r for r in self.requests if path is None or r.path == path]
                if len(got) >= count or time.monotonic() >= deadline:
                    return got
                self._arrived.wait(timeout=max(0.01, deadline - time.monotonic()))

    def wait_started(self, count: int, timeout: float = 10.0) -> int:
        """Block until `count` requests have arrived (even if still being answered); return how many did."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.started) < count and time.monotonic() < deadline:
                self._arrived.wait(timeout=max(0.01, deadline - time.monotonic()))
            return len(self.started)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY, delayed ACKs add ~40 ms to each answer.
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.connections += 1
                    receiver._sockets.append(self.connection)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._next_answer()
                with receiver._arrived:
                    receiver.started.append(time.time())
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    receiver._arrived.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                with receiver._arrived:
                    receiver.in_flight -= 1
                    receiver.requests.append(Received(self.path, dict(self.headers), body, time.time()))
                    receiver._arrived.notify_all()
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                data = answer.body.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                for key, value in answer.headers.items():
                    if key != "Content-Type":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


class BlackHole:
    """Accepts connections on 127.0.0.1 and never answers: the worst receiver there is."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    @property
    def accepted(self) -> int:
        return len(self._held)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "BlackHole":
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._closed.set()
        self._listener.close()
        for conn in self._held:
            conn.close()
