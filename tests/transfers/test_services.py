"""links_offload: copying provider links into the bucket, reusing copies, never failing a delivery (SPEC §8)."""

import hashlib
from datetime import timedelta
from urllib.parse import quote

import pytest
from boto3.s3.transfer import TransferConfig
from django.utils import timezone

from tests.service import free_port
from tests.transfers.conftest import fetch
from tests.transfers.fileserver import Route
from transfers import services
from transfers.models import LinkPair
from transfers.services import links_offload, links_refresh

pytestmark = pytest.mark.django_db

ZIP = b"PK\x03\x04" + b"archive bytes " * 4000
MB = 1024 * 1024
DISPOSITION = "attachment; filename=\"61 Camille.zip\"; filename*=UTF-8''61%20Camille%20%C3%A9t%C3%A9.zip"


def link_to(url: str, provider: str = "dropbox") -> dict:
    return {"provider": provider, "raw_url": url.replace("dl=1", "dl=0"), "direct_url": url}


@pytest.fixture
def zip_link(files):
    url = files.add(
        "/scl/fo/abc123/camille",
        Route(ZIP, headers={"Content-Type": "application/zip", "Content-Disposition": DISPOSITION}),
    )
    return link_to(url + "?dl=1&rlkey=k3y")


def test_nothing_happens_when_r2_is_off(settings, zip_link, files):
    settings.R2_ENABLED = False
    links = [zip_link]
    assert links_offload(links) is links
    assert files.hits == [] and not LinkPair.objects.exists()


def test_a_copied_link_gains_a_url_that_serves_the_same_bytes(bucket, zip_link):
    [link] = links_offload([zip_link])
    assert {k: link[k] for k in zip_link} == zip_link
    assert link["original_filename"] == "61 Camille été.zip"
    assert fetch(link["r2_url"]).content == ZIP


def test_the_link_pair_records_the_copy(bucket, zip_link):
    links_offload([zip_link])
    pair = LinkPair.objects.get(source_url=zip_link["direct_url"])
    assert (pair.status, pair.error, pair.provider) == ("stored", "", "dropbox")
    assert (pair.size, pair.content_type) == (len(ZIP), "application/zip")
    assert pair.original_filename == "61 Camille été.zip"
    assert pair.r2_url.startswith(bucket.endpoint)
    assert timedelta(hours=23) < pair.expires_at - timezone.now() <= timedelta(days=1)


def test_the_object_key_hashes_the_canonical_source_url(bucket, zip_link):
    links_offload([zip_link])
    digest = hashlib.sha256(zip_link["direct_url"].encode()).hexdigest()
    assert bucket.keys() == [f"dropbox/{digest[:8]}/{digest[8:16]}/61 Camille été.zip"]


def test_the_object_carries_its_type_and_download_name(bucket, zip_link):
    links_offload([zip_link])
    head = bucket.head(LinkPair.objects.get().object_key)
    assert head["ContentType"] == "application/zip"
    assert head["ContentDisposition"] == (
        "attachment; filename=\"61 Camille _t_.zip\"; filename*=UTF-8''61%20Camille%20%C3%A9t%C3%A9.zip"
    )


def test_an_already_copied_source_is_reused_without_downloading_again(bucket, zip_link, files):
    first = links_offload([zip_link])[0]
    second = links_offload([dict(zip_link)])[0]
    assert len(files.hits) == 1
    assert LinkPair.objects.count() == 1
    assert fetch(second["r2_url"]).content == ZIP
    assert second["original_filename"] == first["original_filename"]


def test_an_expired_copy_is_made_again(bucket, zip_link, files):
    links_offload([zip_link])
    LinkPair.objects.update(expires_at=timezone.now() + timedelta(minutes=30))
    [link] = links_offload([zip_link])
    assert len(files.hits) == 2 and "r2_url" in link
    assert LinkPair.objects.get().expires_at > timezone.now() + timedelta(hours=23)


def test_a_copy_deleted_from_the_bucket_is_made_again(bucket, zip_link, files):
    links_offload([zip_link])
    bucket.client.delete_object(Bucket=bucket.name, Key=LinkPair.objects.get().object_key)
    [link] = links_offload([zip_link])
    assert len(files.hits) == 2
    assert fetch(link["r2_url"]).content == ZIP


def test_a_refused_download_keeps_the_link_and_records_the_error(bucket, files):
    url = files.add("/landing", Route(b"<html>Sign in</html>", headers={"Content-Type": "text/html"}))
    link = link_to(url, provider="fromsmash")
    assert links_offload([link]) == [link]
    pair = LinkPair.objects.get()
    assert pair.status == "failed" and "HTML page" in pair.error
    assert bucket.keys() == []


def test_a_recent_failure_is_not_retried(bucket, files):
    url = files.add("/landing", Route(b"<html>Sign in</html>", headers={"Content-Type": "text/html"}))
    links_offload([link_to(url)])
    links_offload([link_to(url)])
    assert len(files.hits) == 1


def test_an_old_failure_is_retried(bucket, files):
    url = files.add("/later.zip", Route(ZIP))
    LinkPair.objects.create(
        source_url=url, provider="dropbox", status="failed", error="timed out",
    )
    LinkPair.objects.update(updated_at=timezone.now() - services.FAILED_RETRY_AFTER - timedelta(seconds=1))
    [link] = links_offload([link_to(url)])
    assert fetch(link["r2_url"]).content == ZIP
    assert LinkPair.objects.get().status == "stored"


def test_a_missing_bucket_keeps_the_link_and_records_the_error(bucket, settings, zip_link):
    settings.R2_BUCKET = "signal-no-such-bucket"
    assert links_offload([zip_link]) == [zip_link]
    pair = LinkPair.objects.get()
    assert pair.status == "failed"
    assert "NoSuchBucket" in pair.error


def test_an_unreachable_store_keeps_the_link_and_records_the_error(bucket, settings, zip_link):
    settings.R2_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    assert links_offload([zip_link]) == [zip_link]
    pair = LinkPair.objects.get()
    assert pair.status == "failed" and pair.error.startswith("upload to the bucket failed")
    assert "test-secret-key" not in pair.error


def test_a_public_base_url_gives_plain_object_urls(bucket, settings, zip_link):
    settings.R2_PUBLIC_BASE_URL = "https://files.acme.fr/"
    [link] = links_offload([zip_link])
    key = LinkPair.objects.get().object_key
    assert link["r2_url"] == "https://files.acme.fr/" + quote(key)


# links_refresh: the copies of a payload built earlier --------------------------------------------------------
def test_a_refresh_leaves_links_without_a_copy_untouched_without_a_query(bucket, zip_link, django_assert_num_queries):
    links = [zip_link]
    with django_assert_num_queries(0):
        assert links_refresh(links) is links


def test_a_refresh_keeps_each_link_and_its_keys_in_order(bucket, files, zip_link):
    plain = link_to("https://www.dropbox.com/s/xyz/plan.pdf?dl=1")
    copied = links_offload([zip_link])[0]
    refreshed = links_refresh([plain, copied])
    assert refreshed[0] == plain and list(refreshed[1]) == list(copied)
    assert fetch(refreshed[1]["r2_url"]).content == ZIP


def test_a_refresh_with_an_unreachable_bucket_keeps_the_copies(bucket, settings, zip_link):
    [copied] = links_offload([zip_link])
    settings.R2_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    [refreshed] = links_refresh([copied])
    assert refreshed["r2_url"].startswith(settings.R2_ENDPOINT_URL)
    assert refreshed["original_filename"] == copied["original_filename"]


def test_a_source_another_worker_is_copying_is_not_downloaded_twice(bucket, settings, monkeypatch, zip_link, files):
    settings.R2_FOLDER_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(services, "CLAIM_UPLOAD_MARGIN_SECONDS", 0)
    monkeypatch.setattr(services, "WAIT_POLL_SECONDS", 0.05)
    LinkPair.objects.create(source_url=zip_link["direct_url"], provider="dropbox", status="pending")
    assert links_offload([zip_link]) == [zip_link]
    assert files.hits == []


def test_a_stale_claim_is_taken_over(bucket, zip_link, files):
    LinkPair.objects.create(source_url=zip_link["direct_url"], provider="dropbox", status="pending")
    LinkPair.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    [link] = links_offload([zip_link])
    assert fetch(link["r2_url"]).content == ZIP
    assert LinkPair.objects.get().status == "stored"


def test_every_link_of_an_email_is_copied(bucket, files, zip_link):
    other = files.add("/s/xyz/notes.pdf", Route(b"%PDF-1.7 " * 300, headers={"Content-Type": "application/pdf"}))
    links = links_offload([zip_link, link_to(other + "?dl=1")])
    assert [fetch(link["r2_url"]).content[:4] for link in links] == [b"PK\x03\x04", b"%PDF"]
    assert links[1]["original_filename"] == "notes.pdf"


def test_one_failed_link_does_not_spoil_the_others(bucket, files, zip_link):
    broken = link_to(files.add("/s/xyz/gone.zip", Route(b"", status=404)) + "?dl=1")
    good, bad = links_offload([zip_link, broken])
    assert "r2_url" in good and bad == broken


def test_links_without_a_usable_url_pass_through(bucket):
    odd = [{"provider": "dropbox"}, {"raw_url": "https://www.dropbox.com/s/a/b.zip"}, {"provider": "", "raw_url": ""}]
    assert links_offload(odd) == odd
    assert not LinkPair.objects.exists()


def test_transfer_logs_use_the_legacy_prefix_without_the_share_key(bucket, zip_link, caplog):
    with caplog.at_level("INFO", logger="transfers"):
        links_offload([zip_link])
    messages = [r.getMessage() for r in caplog.records if r.name == "transfers"]
    assert any(m.startswith("R2_TRANSFER: Successfully transferred dropbox link to R2") for m in messages)
    assert not any("k3y" in m for m in messages)


def test_a_large_file_goes_up_in_parts(bucket, files, monkeypatch):
    # Parts of 5 MB (the S3 minimum) so a 12 MB file, spooled to disk past 8 MB, goes up in three.
    monkeypatch.setattr(
        services, "TRANSFER_CONFIG", TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    )
    body = b"PK" + bytes(range(256)) * (12 * MB // 256)
    url = files.add("/s/big/video.mp4", Route(body, headers={"Content-Type": "video/mp4"}))
    [link] = links_offload([link_to(url)])
    assert fetch(link["r2_url"]).content == body
    assert bucket.head(LinkPair.objects.get().object_key)["ETag"].strip('"').endswith("-3")
