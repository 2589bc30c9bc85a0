"""Two workers offloading the same source at once: one download, one LinkPair, the same copy for both."""

import threading

import pytest
from django.db import connection

from tests.transfers.conftest import fetch
from tests.transfers.fileserver import Route
from transfers.models import LinkPair
from transfers.services import links_offload

ZIP = b"PK\x03\x04" + b"shared " * 20000


@pytest.mark.django_db(transaction=True)
def test_racing_workers_share_one_download(bucket, files):
    # The file is served slowly enough that both workers arrive while the first one is downloading.
    url = files.add("/scl/fo/race/folder", Route(ZIP, chunk_bytes=16 * 1024, chunk_delay=0.05)) + "?dl=1&rlkey=r"
    link = {"provider": "dropbox", "raw_url": url, "direct_url": url}
    start = threading.Barrier(2, timeout=10)
    results, errors = {}, []

    def worker(name):
        try:
            start.wait()
            results[name] = links_offload([dict(link)])[0]
        except Exception as exc:  # surfaced below: an exception in a thread would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(files.hits) == 1
    assert LinkPair.objects.get().status == "stored"
    assert [fetch(results[n]["r2_url"]).content == ZIP for n in ("a", "b")] == [True, True]
