"""API tokens in admin: masked in every page, the full key shown once, when it is created."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from tests.history_factories import staff_create

pytestmark = pytest.mark.django_db

TOKENS = "/admin/signal_server/apitoken/"


@pytest.fixture
def superuser_token():
    owner = get_user_model().objects.create_superuser("root", password="root-pass-123")
    return Token.objects.create(user=owner)


VIEW, CHANGE = "signal_server.view_apitoken", "signal_server.change_apitoken"


@pytest.mark.parametrize("perms", [[VIEW], [VIEW, CHANGE]])
def test_the_token_list_and_page_never_show_a_key(client, superuser_token, perms):
    client.force_login(staff_create("viewer", perms=perms))

    pk = superuser_token.user.pk
    pages = [client.get(TOKENS), client.get(f"{TOKENS}{pk}/change/"), client.get(f"{TOKENS}{pk}/history/")]

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert all(superuser_token.key.encode() not in page.content for page in pages)
    assert superuser_token.key[-4:].encode() in pages[0].content


def test_a_new_token_is_shown_once_on_the_page_after_it_is_created(client):
    admin = get_user_model().objects.create_superuser("admin", password="admin-pass-123")
    client.force_login(admin)
    scripted = staff_create("script")

    created = client.post(f"{TOKENS}add/", {"user": scripted.pk}, follow=True)
    again = client.get(TOKENS)

    key = Token.objects.get(user=scripted).key
    assert created.status_code == 200
    assert key.encode() in created.content
    assert key.encode() not in again.content
