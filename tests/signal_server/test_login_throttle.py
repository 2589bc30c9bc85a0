"""Admin login throttling (issue: security)."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("ops", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, password, username="ops"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_correct_password_logs_in(client, staff):
    assert login(client, PASSWORD).status_code == 302


def test_five_failures_lock_the_account_even_for_the_right_password(client, staff, settings):
    settings.LOGIN_THROTTLE_FAILURES = 5
    for _ in range(5):
        assert login(client, "wrong").status_code == 200
    response = login(client, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_success_before_the_limit_clears_the_count(client, staff, settings):
    settings.LOGIN_THROTTLE_FAILURES = 3
    for _ in range(2):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302


def test_one_address_spraying_many_accounts_is_locked(client, staff, settings):
    settings.LOGIN_THROTTLE_FAILURES = 2
    for n in range(8):
        login(client, "wrong", username=f"user{n}")
    assert login(client, PASSWORD).status_code == 200
