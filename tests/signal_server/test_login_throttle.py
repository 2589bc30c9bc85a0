"""Admin login throttling (django-axes): failures lock a user name, or an address, out for a while."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("ops", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, password, username="ops", address="10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_correct_password_logs_in(client, staff):
    assert login(client, PASSWORD).status_code == 302


def test_five_failures_lock_the_account_even_for_the_right_password_and_from_elsewhere(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        assert login(client, "wrong").status_code in (200, 429)
    assert login(client, PASSWORD, address="10.9.9.9").status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_clears_the_count(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302


def test_one_address_spraying_many_accounts_is_locked(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        login(client, "wrong", username=f"user{n}")
    assert login(client, PASSWORD).status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(milliseconds=1)
    for _ in range(2):
        login(client, "wrong")
    time.sleep(0.01)
    assert login(client, PASSWORD).status_code == 302
