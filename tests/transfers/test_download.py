"""Downloading a provider link: allowlist, redirects, budget, size cap, content checks (SPEC §8)."""

import socket
import time

import pytest

from tests.transfers.fileserver import Route
from transfers.download import (
    DownloadError,
    disposition_filename,
    download_budget,
    download_fetch,
    filename_for_key,
    host_allowed,
    url_check,
    url_filename,
)

ZIP = b"PK\x03\x04" + bytes(range(256)) * 40


def read(download) -> bytes:
    with download.file as f:
        return f.read()


# --- host allowlist ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["dropbox.com", "www.dropbox.com", "dl.dropboxusercontent.com", "uc1a2b.dl.dropboxusercontent.com",
     "fromsmash.com", "sub.fromsmash.com", "www.swisstransfer.com", "wetransfer.com", "WWW.DROPBOX.COM."],
)
def test_provider_and_content_hosts_are_allowed(host):
    assert host_allowed(host)


@pytest.mark.parametrize(
    "host",
    ["dropbox.com.evil.tld", "evildropbox.com", "dropboxusercontent.com.evil.tld", "localhost", "", "example.org"],
)
def test_look_alike_and_foreign_hosts_are_refused(host):
    assert not host_allowed(host)


def test_plain_http_to_a_provider_is_refused():
    with pytest.raises(DownloadError, match="only https"):
        url_check("http://www.dropbox.com/s/abc/f.zip?dl=1")


def test_credentials_in_a_provider_url_are_refused():
    with pytest.raises(DownloadError, match="credentials"):
        url_check("https://user:pw@www.dropbox.com/s/abc/f.zip?dl=1")


@pytest.fixture
def dropbox_resolves_to(monkeypatch):
    """DNS is outside the machine: make www.dropbox.com answer with the given address."""
    real = socket.getaddrinfo

    def _set(address: str) -> None:
        def fake(host, *args, **kwargs):
            if host == "www.dropbox.com":
                return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                         (address, 443))]
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)

    return _set


def test_a_provider_name_resolving_to_a_private_address_is_refused(dropbox_resolves_to):
    dropbox_resolves_to("127.0.0.1")
    with pytest.raises(DownloadError, match="non-public address"):
        url_check("https://www.dropbox.com/s/abc/f.zip?dl=1")


@pytest.mark.parametrize(
    "address", ["::7f00:1", "::ffff:0:7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "::ffff:127.0.0.1"]
)
def test_a_provider_name_resolving_to_an_ipv4_address_hidden_in_ipv6_is_refused(dropbox_resolves_to, address):
    dropbox_resolves_to(address)
    with pytest.raises(DownloadError, match=rf"www\.dropbox\.com resolves to a non-public address \({address}\)"):
        url_check("https://www.dropbox.com/s/abc/f.zip?dl=1")


# --- budget ------------------------------------------------------------------------------------


def test_dropbox_folder_links_get_the_folder_budget(settings):
    settings.R2_FOLDER_TIMEOUT_SECONDS, settings.R2_DOWNLOAD_TIMEOUT_SECONDS = 120, 15
    assert download_budget("https://www.dropbox.com/scl/fo/abc/def?dl=1&rlkey=k", "dropbox") == 120
    assert download_budget("https://www.dropbox.com/sh/abc/def?dl=1", "dropbox") == 120


def test_files_and_other_providers_get_the_short_budget(settings):
    settings.R2_FOLDER_TIMEOUT_SECONDS, settings.R2_DOWNLOAD_TIMEOUT_SECONDS = 120, 15
    assert download_budget("https://www.dropbox.com/scl/fi/abc/f.zip?dl=1&rlkey=k", "dropbox") == 15
    assert download_budget("https://fromsmash.com/scl/fo/x", "fromsmash") == 15


# --- downloads against the local file server ------------------------------------------------


def test_a_zip_is_downloaded_whole_with_its_type(files):
    url = files.add("/s/abc/archive.zip", Route(ZIP, headers={"Content-Type": "application/zip"}))
    download = download_fetch(url, "dropbox")
    assert (download.size, download.content_type, download.filename) == (len(ZIP), "application/zip", "archive.zip")
    assert read(download) == ZIP


def test_the_utf8_filename_of_content_disposition_wins(files):
    disposition = "attachment; filename=\"R_union.zip\"; filename*=UTF-8''R%C3%A9union%20d%C3%A9cembre.zip"
    url = files.add("/s/abc/x", Route(ZIP, headers={"Content-Disposition": disposition}))
    assert download_fetch(url, "dropbox").filename == "Réunion décembre.zip"


def test_a_generic_content_type_is_guessed_from_the_filename(files):
    url = files.add(
        "/s/abc/y",
        Route(ZIP, headers={"Content-Type": "application/binary", "Content-Disposition": "attachment; filename=a.pdf"}),
    )
    assert download_fetch(url, "dropbox").content_type == "application/pdf"


def test_a_redirect_chain_through_allowed_hosts_is_followed(files):
    final = files.add("/content/file.zip", Route(ZIP, headers={"Content-Type": "application/zip"}))
    files.add("/hop2", Route(status=307, headers={"Location": final}))
    hop1 = files.add("/hop1", Route(status=301, headers={"Location": "/hop2"}))  # relative Location
    start = files.add("/s/abc/start.zip", Route(status=302, headers={"Location": hop1}))
    download = download_fetch(start, "dropbox")
    assert read(download) == ZIP
    assert [h.path for h in files.hits] == ["/s/abc/start.zip", "/hop1", "/hop2", "/content/file.zip"]


def test_a_redirect_to_a_host_outside_the_allowlist_is_refused_before_contacting_it(files):
    # `localhost` reaches the same server, but it is not an allowed host name.
    outside = files.url("/content/file.zip", host="localhost")
    files.add("/content/file.zip", Route(ZIP))
    start = files.add("/s/abc/start.zip", Route(status=302, headers={"Location": outside}))
    with pytest.raises(DownloadError, match="localhost is not an allowed provider host"):
        download_fetch(start, "dropbox")
    assert files.hits_on("/content/file.zip") == []


def test_endless_redirects_are_cut(files):
    loop = files.add("/loop", Route(status=302, headers={"Location": "/loop"}))
    with pytest.raises(DownloadError, match="redirects"):
        download_fetch(loop, "dropbox")
    assert 1 < len(files.hits_on("/loop")) <= 6


def test_an_html_landing_page_is_refused(files):
    page = b"<!DOCTYPE html><html><body>Sign in to download</body></html>"
    url = files.add("/landing", Route(page, headers={"Content-Type": "text/html; charset=utf-8"}))
    with pytest.raises(DownloadError, match="HTML page"):
        download_fetch(url, "fromsmash")


def test_an_html_body_with_a_file_content_type_is_refused(files):
    page = b"\n  <html><head><title>Dropbox</title></head><body>" + b"x" * 2000 + b"</body></html>"
    url = files.add("/disguised", Route(page, headers={"Content-Type": "application/octet-stream"}))
    with pytest.raises(DownloadError, match="HTML page"):
        download_fetch(url, "dropbox")


def test_a_dropbox_folder_download_must_be_a_zip(files):
    url = files.add("/scl/fo/abc/folder", Route(b"%PDF-1.7 not a zip" * 100))
    with pytest.raises(DownloadError, match="not a zip"):
        download_fetch(url, "dropbox")


def test_a_dropbox_folder_zip_is_accepted(files):
    disposition = 'attachment; filename="61 Camille.zip"'
    url = files.add("/scl/fo/abc/folder", Route(ZIP, headers={"Content-Disposition": disposition}))
    download = download_fetch(url, "dropbox")
    assert (download.filename, read(download)) == ("61 Camille.zip", ZIP)


def test_an_announced_size_over_the_cap_is_refused_without_reading(files, settings):
    settings.R2_MAX_BYTES = 1024 * 1024
    url = files.add("/big", Route(b"PK", pad_to=50 * 1024 * 1024))
    with pytest.raises(DownloadError, match="over the 1048576 bytes limit"):
        download_fetch(url, "dropbox")
    assert files.bytes_sent.get("/big", 0) < 10 * 1024 * 1024


def test_an_unannounced_size_over_the_cap_stops_at_the_cap(files, settings):
    settings.R2_MAX_BYTES = 1024 * 1024
    url = files.add("/big-stream", Route(b"PK", pad_to=50 * 1024 * 1024, announce_length=False))
    with pytest.raises(DownloadError, match="over the 1048576 bytes limit"):
        download_fetch(url, "dropbox")
    # What was sent is the cap plus what the socket buffers held, far from the 50 MB file.
    assert files.bytes_sent.get("/big-stream", 0) < 10 * 1024 * 1024


def test_a_trickling_server_is_cut_at_the_budget(files, settings):
    settings.R2_DOWNLOAD_TIMEOUT_SECONDS = 1
    url = files.add("/slow.zip", Route(b"PK", pad_to=1000 * 64, chunk_bytes=64, chunk_delay=0.05))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="1 s budget"):
        download_fetch(url, "dropbox")
    assert time.monotonic() - started < 2.5


def test_a_stalled_server_is_cut_at_the_budget(files, settings):
    settings.R2_DOWNLOAD_TIMEOUT_SECONDS = 1
    url = files.add("/stalled.zip", Route(ZIP, first_byte_delay=5))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="budget|timed out"):
        download_fetch(url, "dropbox")
    assert time.monotonic() - started < 2.5


def test_an_error_status_is_refused(files):
    url = files.add("/gone", Route(b"no", status=404))
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_fetch(url, "dropbox")


def test_an_empty_file_is_refused(files):
    url = files.add("/empty.zip", Route(b""))
    with pytest.raises(DownloadError, match="empty file"):
        download_fetch(url, "dropbox")


def test_errors_never_carry_the_share_key(files):
    url = files.add("/gone", Route(b"no", status=404)) + "?rlkey=SECRETKEY&dl=1"
    with pytest.raises(DownloadError) as caught:
        download_fetch(url, "dropbox")
    assert "SECRETKEY" not in str(caught.value)


def test_the_query_reaches_the_provider_exactly_as_canonicalised(files):
    url = files.add("/s/abc/f.zip", Route(ZIP)) + "?dl=1&rlkey=a%2Bb%26c"
    download_fetch(url, "dropbox")
    assert files.hits_on("/s/abc/f.zip")[0].query == "dl=1&rlkey=a%2Bb%26c"


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="61 Camille.zip"', "61 Camille.zip"),
        ("attachment; filename=plain.zip", "plain.zip"),
        ("attachment; filename=\"fallback.zip\"; filename*=UTF-8''%E2%82%AC%20rates.zip", "€ rates.zip"),
        ("attachment; filename*=utf-8'fr'caf%C3%A9.pdf", "café.pdf"),
        ('attachment; filename="quoted \\"name\\".txt"', 'quoted "name".txt'),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="R\xc3\xa9union.zip"', "Réunion.zip"),  # raw UTF-8 seen through Latin-1
        ("attachment", ""),
        ("", ""),
    ],
)
def test_content_disposition_filename(header, name):
    assert disposition_filename(header) == name


def test_url_filename_is_the_decoded_last_segment_when_it_has_an_extension():
    assert url_filename("https://www.dropbox.com/s/abc/my%20file.zip?dl=1") == "my file.zip"
    assert url_filename("https://www.dropbox.com/scl/fo/abc/def?dl=1") == ""


@pytest.mark.parametrize(
    ("name", "content_type", "safe"),
    [
        ("61 Camille.zip", "", "61 Camille.zip"),
        ("a/b\\c\"d\x00e.zip", "", "a_b_c_d_e.zip"),
        ("  spaced   out .zip ", "", "spaced out.zip"),
        ("", "application/zip", "file.zip"),
        ("", "", "file"),
        ("é" * 300 + ".zip", "", "é" * 98 + ".zip"),
    ],
)
def test_filename_for_key(name, content_type, safe):
    assert filename_for_key(name, content_type) == safe
