"""Local stand-ins for the file providers: an HTTP(S) file server, and a CONNECT proxy that routes
provider host names (www.dropbox.com, dl.dropboxusercontent.com) to it over TLS signed by a test CA.

Everything listens on 127.0.0.1. The file server answers from routes (status, headers, body, pacing)
and counts the requests and the bytes it managed to send.
"""

import datetime
import ipaddress
import selectors
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    pad_to: int = 0  # serve `body` followed by filler bytes up to this size (large files, made lazily)
    announce_length: bool = True  # send Content-Length; otherwise the body ends when the connection closes
    chunk_bytes: int = 64 * 1024
    chunk_delay: float = 0.0  # pause before each chunk (a slow server)
    first_byte_delay: float = 0.0  # pause after the headers (a stalled server)

    @property
    def size(self) -> int:
        return max(len(self.body), self.pad_to)

    def chunks(self):
        sent = 0
        while sent < self.size:
            end = min(sent + self.chunk_bytes, self.size)
            head = self.body[sent:end]
            yield head + b"\0" * (end - sent - len(head))
            sent = end


@dataclass
class Hit:
    path: str
    query: str
    headers: dict


class FileServer:
    def __init__(self, tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.bytes_sent: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def hits_on(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]

    def start(self) -> "FileServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urlsplit(self.path)
                with server._lock:
                    server.hits.append(Hit(parts.path, parts.query, dict(self.headers)))
                route = server.routes.get(parts.path, Route(b"not found", status=404))
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if route.announce_length:
                    self.send_header("Content-Length", str(route.size))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                time.sleep(route.first_byte_delay)
                try:
                    for chunk in route.chunks():
                        time.sleep(route.chunk_delay)
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        with server._lock:
                            server.bytes_sent[parts.path] = server.bytes_sent.get(parts.path, 0) + len(chunk)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        return Handler


class LocalCA:
    """A throwaway certificate authority and one server certificate for the given host names."""

    def __init__(self, hostnames: list[str]):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.dir = Path(tempfile.mkdtemp(prefix="signal-test-ca-"))
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Signal Server test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_path = self.dir / "ca.pem"
        self.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_path = self.dir / "server.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_path = self.dir / "server.key"
        self.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


class ConnectProxy:
    """An HTTP CONNECT proxy that tunnels the listed host names to one local port, and refuses others."""

    IDLE_SECONDS = 30

    def __init__(self, hostnames: list[str], upstream_port: int):
        self.hostnames = set(hostnames)
        self.upstream_port = upstream_port
        self.tunnels: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                request_line = self.rfile.readline(8192).decode("latin-1").split()
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                if len(request_line) < 2 or request_line[0] != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                host = request_line[1].rsplit(":", 1)[0]
                proxy.tunnels.append(host)
                if host not in proxy.hostnames:
                    self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                with socket.create_connection(("127.0.0.1", proxy.upstream_port), timeout=10) as upstream:
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self.wfile.flush()
                    proxy._pipe(self.connection, upstream)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "ConnectProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                events = selector.select(timeout=self.IDLE_SECONDS)
                if not events:
                    return
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    key.data.sendall(data)
