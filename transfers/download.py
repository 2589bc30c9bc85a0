"""Streaming download of a provider link, with the guards of SPEC §8.

Only provider hosts are contacted (every redirect hop is checked again, by name and by resolved
address), the whole download runs against a wall-clock budget, the size cap holds while streaming,
HTML pages are refused, and a Dropbox folder must arrive as a zip. The body is spooled (memory, then
disk), so it is validated in full before anything reaches the bucket.
"""

import mimetypes
import re
import socket
import time
import unicodedata
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from django.conf import settings

from core.network import AddressRefused, public_addresses
from core.providers import provider_for_host

# Hosts a provider's download redirects to, beyond the provider domains themselves.
CONTENT_HOST_DOMAINS = ("dropboxusercontent.com",)
# Dropbox shared folders (current `/scl/fo/` and legacy `/sh/` links) download as a zip of the folder.
FOLDER_PATH_MARKERS = ("/scl/fo/", "/sh/")
MAX_REDIRECTS = 5
CONNECT_TIMEOUT_SECONDS = 10.0
CHUNK_BYTES = 64 * 1024
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
SNIFF_BYTES = 512
HTML_TYPES = {"text/html", "application/xhtml+xml"}
HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
GENERIC_TYPES = {
    "", "application/octet-stream", "application/binary", "binary/octet-stream", "application/force-download"
}
FILENAME_MAX_BYTES = 200
_PARAM_RE = re.compile(r";\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^;]*)")


class DownloadError(Exception):
    """A refused or failed download. The message names hosts, never a URL's path or query (which carry
    share keys), so it is safe to store and log."""


@dataclass
class Download:
    file: SpooledTemporaryFile  # positioned at the start
    size: int
    content_type: str
    filename: str  # from the provider's Content-Disposition, else the URL path; may be empty


def link_is_folder(url: str, provider: str) -> bool:
    return provider == "dropbox" and any(marker in urlsplit(url).path.lower() for marker in FOLDER_PATH_MARKERS)


def download_budget(url: str, provider: str) -> float:
    """Wall-clock seconds allowed for the whole download (every redirect hop included)."""
    if link_is_folder(url, provider):
        return settings.R2_FOLDER_TIMEOUT_SECONDS
    return settings.R2_DOWNLOAD_TIMEOUT_SECONDS


def host_is_extra(host: str) -> bool:
    return host in {h.lower() for h in settings.TRANSFERS_EXTRA_ALLOWED_HOSTS}


def host_allowed(host: str) -> bool:
    """A provider domain or a provider's content host, exactly or as a subdomain (never a look-alike)."""
    host = (host or "").lower().strip(".")
    if not host:
        return False
    if provider_for_host(host) or host_is_extra(host):
        return True
    return any(host == domain or host.endswith("." + domain) for domain in CONTENT_HOST_DOMAINS)


def url_check(url: str) -> str:
    """The host of a URL this service may download from; DownloadError otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DownloadError("not a valid URL") from exc
    host = (parts.hostname or "").lower().strip(".")
    if not host_allowed(host):
        raise DownloadError(f"host {host or '(none)'} is not an allowed provider host")
    extra = host_is_extra(host)
    if not _scheme_allowed(parts.scheme, extra):
        raise DownloadError(f"{parts.scheme or 'a missing'} scheme refused for {host}; only https is used")
    if parts.username or parts.password:
        raise DownloadError(f"credentials in the URL refused for {host}")
    if not extra:
        _address_check(host, port)
    return host


def _scheme_allowed(scheme: str, extra: bool) -> bool:
    # Plain http only for the extra hosts (the tests' local file server).
    return scheme == "https" or (extra and scheme == "http")


def _address_check(host: str, port: int | None) -> None:
    """Refuse a name resolving to a non-public address: the download would reach internal services."""
    try:
        public_addresses(host, port or 443)
    except AddressRefused as exc:
        raise DownloadError(f"{host} resolves to a non-public address ({', '.join(exc.addresses)})") from None
    except (OSError, UnicodeError):
        pass  # the request itself fails on an unknown name (or a configured proxy resolves it)


def download_fetch(url: str, provider: str, *, budget: float | None = None) -> Download:
    """Download `url` into a spooled file, following allowed redirects; DownloadError when refused."""
    budget = download_budget(url, provider) if budget is None else budget
    deadline = time.monotonic() + budget
    folder = link_is_folder(url, provider)

    def time_left() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DownloadError(f"download took longer than its {budget:g} s budget")
        return left

    with requests.Session() as session:
        session.headers.update(
            {"User-Agent": settings.WEBHOOK_USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
        )
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            host = url_check(current)
            left = time_left()
            try:
                response = session.get(
                    current, stream=True, allow_redirects=False, timeout=(min(CONNECT_TIMEOUT_SECONDS, left), left)
                )
            except requests.Timeout as exc:
                raise DownloadError(f"{host} did not answer within the {budget:g} s budget") from exc
            except requests.RequestException as exc:
                raise DownloadError(f"request to {host} failed ({_error_kind(exc)})") from exc
            if response.is_redirect:
                current = urljoin(current, response.headers["Location"])
                response.close()
                continue
            with response:
                return _body_read(response, host, url, folder, time_left)
        raise DownloadError(f"more than {MAX_REDIRECTS} redirects")


def _body_read(response: requests.Response, host: str, source_url: str, folder: bool, time_left) -> Download:
    mime = _headers_check(response, host)
    spool, size = _body_spool(response, host, folder, time_left)
    filename = disposition_filename(response.headers.get("Content-Disposition", "")) or url_filename(source_url)
    return Download(file=spool, size=size, content_type=_content_type(mime, filename), filename=filename)


def _headers_check(response: requests.Response, host: str) -> str:
    """The MIME type of a response whose status, type and announced size pass (refused before any body)."""
    if response.status_code != 200:
        raise DownloadError(f"{host} answered HTTP {response.status_code}")
    mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if mime in HTML_TYPES:
        raise DownloadError(f"{host} served an HTML page, not a file")
    limit = settings.R2_MAX_BYTES
    announced = response.headers.get("Content-Length", "").strip()
    if announced.isdigit() and int(announced) > limit:
        raise DownloadError(f"file of {announced} bytes is over the {limit} bytes limit")
    return mime


def _body_spool(response: requests.Response, host: str, folder: bool, time_left) -> tuple[SpooledTemporaryFile, int]:
    """The body in a spooled file positioned at its start, and its size; the file is closed on any error."""
    spool = SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    try:
        size = _body_copy(response, spool, host, folder, time_left)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size


def _body_copy(response: requests.Response, spool: SpooledTemporaryFile, host: str, folder: bool, time_left) -> int:
    """Stream the body into `spool`, holding the size cap and checking the first bytes; the size is returned."""
    limit = settings.R2_MAX_BYTES
    size, head, sniffed = 0, bytearray(), False
    while chunk := _chunk_read(response, host, time_left):
        size += len(chunk)
        if size > limit:
            raise DownloadError(f"file is over the {limit} bytes limit")
        if not sniffed:
            head += chunk[: SNIFF_BYTES - len(head)]
            if len(head) >= SNIFF_BYTES:
                _content_check(bytes(head), host, folder)
                sniffed = True
        spool.write(chunk)
    if size == 0:
        raise DownloadError(f"{host} sent an empty file")
    if not sniffed:
        _content_check(bytes(head), host, folder)
    return size


def _chunk_read(response: requests.Response, host: str, time_left) -> bytes:
    """The next chunk of the body (empty at its end), waiting no longer than the budget has left."""
    _socket_timeout_set(response, time_left())
    try:
        return response.raw.read1(CHUNK_BYTES, decode_content=True)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if _is_timeout(exc):
            time_left()  # raises the budget error when that is what happened
            raise DownloadError(f"{host} stalled and the download timed out") from exc
        raise DownloadError(f"download from {host} broke off ({_error_kind(exc)})") from exc


def _content_check(head: bytes, host: str, folder: bool) -> None:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(HTML_MARKERS):
        raise DownloadError(f"{host} served an HTML page, not a file")
    if folder and not head.startswith(b"PK"):
        raise DownloadError(f"Dropbox folder download from {host} is not a zip archive")


def _content_type(mime: str, filename: str) -> str:
    if mime not in GENERIC_TYPES:
        return mime
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    return guessed or "application/octet-stream"


def _socket_timeout_set(response: requests.Response, seconds: float) -> None:
    """Bound the next socket wait by the time left (a read otherwise waits its full initial timeout)."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(max(seconds, 0.01))


def _is_timeout(exc: BaseException) -> bool:
    for _depth in range(10):  # the cause chain of a wrapped socket timeout
        if exc is None:
            return False
        if isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        return "connection error"
    return type(exc).__name__


def disposition_filename(header: str) -> str:
    """The file name of a Content-Disposition header (RFC 6266: `filename*` wins over `filename`)."""
    params = _disposition_params(header)
    name = _extended_decode(params.get("filename*", "")) or _utf8_redecode(params.get("filename", ""))
    return _basename(name)


def _disposition_params(header: str) -> dict[str, str]:
    """The parameters of a Content-Disposition header by lower-case name, quotes removed; the first one wins."""
    params: dict[str, str] = {}
    _disposition, _, rest = (header or "").partition(";")
    for name, value in _PARAM_RE.findall(";" + rest):
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(name.lower(), value)
    return params


def _extended_decode(value: str) -> str:
    """An RFC 5987 value (`charset'language'percent-encoded`) decoded; empty when it is malformed."""
    if value.count("'") < 2:
        return ""
    charset, _language, encoded = value.split("'", 2)
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the charset name
        return ""


def _utf8_redecode(name: str) -> str:
    # HTTP headers arrive decoded as Latin-1; providers send raw UTF-8 names.
    try:
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def url_filename(url: str) -> str:
    """The last path segment of a URL when it looks like a file name (has an extension)."""
    segment = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return _basename(segment) if "." in segment.strip(".") else ""


def _basename(name: str) -> str:
    return re.split(r"[/\\]", name)[-1].strip()


def filename_for_key(name: str, content_type: str = "") -> str:
    """A name safe as the last part of an object key: no separators or control characters, bounded length.

    Without a name, `file` (the legacy key suffix) with the extension of the content type.
    """
    name = _name_clean(name)
    if not name:
        return "file" + (mimetypes.guess_extension(content_type or "") or "")
    stem, suffix = _extension_split(name)
    while len((stem + suffix).encode("utf-8")) > FILENAME_MAX_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "file") + suffix


def _name_clean(name: str) -> str:
    """`name` in NFC, separators, quotes and control characters replaced, runs of white space made one space."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join("_" if c in '/\\"' or unicodedata.category(c).startswith("C") else c for c in name)
    return " ".join(name.split()).strip(" .")


def _extension_split(name: str) -> tuple[str, str]:
    """(stem, `.extension`) of a cleaned name (it never ends with a dot); a long "extension" is part of the stem."""
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        return name, ""
    return stem, f".{extension}"
