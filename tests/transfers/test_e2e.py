"""End to end (SPEC §8 "done"): the real service, R2 on against moto's S3 server, a Dropbox link pushed.

Dropbox is played by a local HTTPS file server. The service reaches it exactly as it would reach
Dropbox: the pushed link is a genuine `https://www.dropbox.com/...` URL, the download goes through
an HTTPS proxy (standard `HTTPS_PROXY`) that tunnels www.dropbox.com and dl.dropboxusercontent.com to
the local server, whose certificate a test CA signs (`REQUESTS_CA_BUNDLE`). So the production host
allowlist, redirect checks and TLS verification all run unchanged.
"""

import time
from types import SimpleNamespace

import pytest

from tests.receiver import Receiver
from tests.service import LiveService
from tests.transfers.conftest import CREDENTIALS, bucket_create, fetch
from tests.transfers.fileserver import ConnectProxy, FileServer, LocalCA, Route

pytestmark = pytest.mark.e2e

DROPBOX_HOSTS = ["www.dropbox.com", "dl.dropboxusercontent.com"]
ZIP = b"PK\x03\x04" + bytes(range(256)) * 2000
DISPOSITION = "attachment; filename=\"Photos ete.zip\"; filename*=UTF-8''Photos%20%C3%A9t%C3%A9.zip"


@pytest.fixture(scope="module")
def dropbox():
    ca = LocalCA(DROPBOX_HOSTS)
    server = FileServer(tls=ca.server_context()).start()
    proxy = ConnectProxy(DROPBOX_HOSTS, upstream_port=server.port).start()
    # A shared folder link answers with a redirect to the content host, which serves the zip.
    server.add(
        "/scl/fo/e2e123/photos",
        Route(status=302, headers={"Location": "https://dl.dropboxusercontent.com/zip_download_get/AbC123"}),
    )
    server.add(
        "/zip_download_get/AbC123",
        Route(ZIP, headers={"Content-Type": "application/zip", "Content-Disposition": DISPOSITION}),
    )
    yield SimpleNamespace(ca=ca, server=server, proxy=proxy)
    proxy.stop()
    server.stop()


@pytest.fixture(scope="module")
def receiver_live():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(moto_url, dropbox, receiver_live):
    bucket = bucket_create(moto_url)
    proxy_env = {
        "HTTPS_PROXY": dropbox.proxy.url, "https_proxy": dropbox.proxy.url,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "REQUESTS_CA_BUNDLE": str(dropbox.ca.ca_path),
    }
    live = LiveService(
        WEBHOOK_URL=receiver_live.url("/hook"),
        R2_ENABLED="true",
        R2_ENDPOINT_URL=moto_url,
        R2_BUCKET=bucket.name,
        R2_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        R2_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        **proxy_env,
    ).start()
    live.bucket = bucket
    yield live
    live.stop()


def test_a_pushed_dropbox_link_arrives_with_a_copy_that_downloads_the_same_bytes(service, dropbox, receiver_live):
    link = "https://www.dropbox.com/scl/fo/e2e123/photos?rlkey=a%2Bb&dl=0"
    response = service.push(
        {
            "sender": "Technique <technique@media-solution.fr>",
            "subject": "Photos du chantier",
            "date": "2026-04-10T09:54:38.000Z",
            "body": f'<p>Bonjour, les photos : <a href="{link.replace("&", "&amp;")}">dossier</a></p>',
            "message_id": f"e2e-transfer-{time.time()}",
        }
    )
    assert response.status_code == 200, response.text
    got = receiver_live.wait_for(1, timeout=30, path="/hook")
    assert got, f"no delivery arrived:\n{service.log()[-3000:]}"
    [delivered] = got[0].json()["delivery_links"]

    assert delivered["raw_url"] == link
    assert delivered["original_filename"] == "Photos été.zip"
    assert fetch(delivered["r2_url"]).content == ZIP
    # It really went to "Dropbox", following its redirect, with the share key intact (no double decoding).
    assert dropbox.proxy.tunnels == DROPBOX_HOSTS
    assert "rlkey=a%2Bb" in dropbox.server.hits_on("/scl/fo/e2e123/photos")[0].query
    assert "R2_TRANSFER: Successfully transferred dropbox link to R2" in service.log()


def test_the_copy_is_recorded_as_a_link_pair(service):
    output = service.shell(
        "from transfers.models import LinkPair as P; p = P.objects.get();"
        "print(p.status, p.provider, p.size, p.content_type, p.object_key.split('/')[0], p.expires_at > p.created_at)"
    )
    assert output.split() == ["stored", "dropbox", str(len(ZIP)), "application/zip", "dropbox", "True"]
