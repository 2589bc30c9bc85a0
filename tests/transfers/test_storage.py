"""The bucket client and object URLs."""

import threading
from urllib.parse import parse_qs, urlsplit

from transfers.storage import object_url, s3_client


def test_one_client_per_process_signed_s3v4_in_region_auto(bucket):
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(s3_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len({id(c) for c in clients}) == 1
    client = clients[0]
    assert client.meta.region_name == "auto"
    assert client.meta.config.signature_version == "s3v4"
    assert client.meta.endpoint_url == bucket.endpoint


def test_the_quick_client_gives_up_within_a_few_seconds(bucket):
    config = s3_client(quick=True).meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (1, 2, 1)
    assert s3_client(quick=True) is not s3_client()


def test_changed_settings_build_a_new_client(bucket, settings, moto_url):
    before = s3_client()
    settings.R2_ENDPOINT_URL = moto_url + "/"
    assert s3_client() is not before


def test_public_urls_quote_the_key(settings):
    settings.R2_PUBLIC_BASE_URL = "https://files.acme.fr/"
    assert object_url("dropbox/12345678/9abcdef0/61 Camille été.zip") == (
        "https://files.acme.fr/dropbox/12345678/9abcdef0/61%20Camille%20%C3%A9t%C3%A9.zip"
    )


def test_presigned_urls_last_the_configured_time(bucket, settings):
    settings.R2_PRESIGN_SECONDS = 7200
    query = parse_qs(urlsplit(object_url("dropbox/a/b/f.zip")).query)
    assert query["X-Amz-Expires"] == ["7200"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_presigned_urls_do_not_outlive_the_copy(bucket, settings):
    settings.R2_PRESIGN_SECONDS = 86400
    query = parse_qs(urlsplit(object_url("dropbox/a/b/f.zip", max_seconds=3600.7)).query)
    assert query["X-Amz-Expires"] == ["3600"]
