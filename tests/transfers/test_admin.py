"""LinkPairs in Django admin: listed with filters, read-only, with a link to the copy."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from transfers.models import LinkPair

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@acme.fr", "pw-for-tests")
    client.force_login(user)
    return client


@pytest.fixture
def pairs():
    stored = LinkPair.objects.create(
        source_url="https://www.dropbox.com/scl/fo/a/b?dl=1&rlkey=k", provider="dropbox", status="stored",
        object_key="dropbox/12345678/9abcdef0/61 Camille.zip", original_filename="61 Camille.zip",
        size=2_500_000, content_type="application/zip", expires_at=timezone.now() + timedelta(hours=20),
        r2_url="https://files.acme.fr/dropbox/12345678/9abcdef0/61%20Camille.zip",
    )
    failed = LinkPair.objects.create(
        source_url="https://fromsmash.com/AbC", provider="fromsmash", status="failed",
        error="fromsmash.com served an HTML page, not a file",
    )
    return stored, failed


def test_the_list_shows_name_status_and_size(staff_client, pairs):
    page = staff_client.get("/admin/transfers/linkpair/").content.decode()
    assert "61 Camille.zip" in page and "2.4\xa0MB" in page
    assert "fromsmash" in page


def listed(client, query: str) -> list[str]:
    response = client.get(f"/admin/transfers/linkpair/?{query}")
    assert response.status_code == 200
    return [pair.provider for pair in response.context["cl"].result_list]


def test_the_list_filters_by_provider_and_status(staff_client, pairs):
    assert listed(staff_client, "status__exact=failed") == ["fromsmash"]
    assert listed(staff_client, "provider=dropbox") == ["dropbox"]


def test_the_list_searches_file_names(staff_client, pairs):
    assert listed(staff_client, "q=Camille") == ["dropbox"]


def test_a_link_finds_its_copy_exactly(staff_client, pairs):
    assert listed(staff_client, "q=https://fromsmash.com/AbC") == ["fromsmash"]
    assert listed(staff_client, "q=https://fromsmash.com/A") == []


def test_a_file_name_is_looked_for_in_the_newest_copies_of_the_window_only(staff_client, pairs, monkeypatch):
    monkeypatch.setattr("core.admin.SEARCH_WINDOW", 1)
    LinkPair.objects.filter(pk=pairs[0].pk).update(created_at=timezone.now() - timedelta(days=1))
    assert listed(staff_client, "q=Camille") == []


def test_the_detail_is_read_only_with_a_link_to_the_copy(staff_client, pairs, settings):
    settings.R2_ENDPOINT_URL, settings.R2_BUCKET = "http://127.0.0.1:9", "bucket"
    settings.R2_ACCESS_KEY_ID, settings.R2_SECRET_ACCESS_KEY = "id", "secret"
    settings.R2_PUBLIC_BASE_URL = "https://files.acme.fr"
    page = staff_client.get(f"/admin/transfers/linkpair/{pairs[0].pk}/change/").content.decode()
    assert 'href="https://files.acme.fr/dropbox/12345678/9abcdef0/61%20Camille.zip"' in page
    assert 'name="_save"' not in page


def test_link_pairs_cannot_be_added_by_hand(staff_client):
    assert staff_client.get("/admin/transfers/linkpair/add/").status_code == 403
