"""End to end (SPEC §8 "done"): the real service, R2 on against moto's S3 server, a Dropbox link pushed.

Dropbox is played by a local HTTPS file server. The service reaches it exactly as it would reach
Dropbox: the pushed link is a genuine `https://www.dropbox.com/...` URL, the download goes through
an HTTPS proxy (standard `HTTPS_PROXY`) that tunnels www.dropbox.com and dl.dropboxusercontent.com to
the local server, whose certificate a test CA signs (`REQUESTS_CA_BUNDLE`). So the production host
allowlist, redirect checks and TLS verification all run unchanged.
"""

import json
import threading
import time
from types import SimpleNamespace

import pytest

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
        "from transfers.models import LinkPair as P; p = P.objects.get(source_url__contains='e2e123');"
        "print(p.status, p.provider, p.size, p.content_type, p.object_key.split('/')[0], p.expires_at > p.created_at)"
    )
    assert output.split() == ["stored", "dropbox", str(len(ZIP)), "application/zip", "dropbox", "True"]


def test_two_worker_processes_racing_on_one_source_download_it_once(service, dropbox, tmp_path):
    # A folder slow enough (about 2 s) that the second process arrives while the first is downloading.
    dropbox.server.add("/scl/fo/race42/shared", Route(ZIP, chunk_bytes=64 * 1024, chunk_delay=0.25))
    url = "https://www.dropbox.com/scl/fo/race42/shared?dl=1&rlkey=r"
    link = {"provider": "dropbox", "raw_url": url, "direct_url": url}
    # Each process checks in, waits (bounded) until both have, then offloads the same link.
    code = (
        "import json, time, uuid, pathlib; from transfers.services import links_offload;"
        f"gate = pathlib.Path({str(tmp_path)!r}); (gate / uuid.uuid4().hex).touch();"
        "deadline = time.monotonic() + 60\n"
        "while len(list(gate.iterdir())) < 2 and time.monotonic() < deadline: time.sleep(0.01)\n"
        f"started = time.time(); [link] = links_offload([{link!r}]);"
        "print(json.dumps({'started': started, 'ended': time.time(), 'link': link}))"
    )
    outputs, errors = [], []

    def worker():
        try:
            outputs.append(json.loads(service.shell(code).strip().splitlines()[-1]))
        except Exception as exc:  # surfaced below: an exception in a thread would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(outputs) == 2
    assert max(o["started"] for o in outputs) < min(o["ended"] for o in outputs), "the two calls did not overlap"
    assert len(dropbox.server.hits_on("/scl/fo/race42/shared")) == 1
    assert [fetch(o["link"]["r2_url"]).content == ZIP for o in outputs] == [True, True]
    states = service.shell(
        "from transfers.models import LinkPair as P;"
        "print(list(P.objects.filter(source_url__contains='race42').values_list('status', flat=True)))"
    )
    assert states.strip() == "['stored']"
