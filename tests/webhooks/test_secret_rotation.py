"""Secret rotation with an overlap (SPEC §7): the previous secret keeps signing for SECRET_ROTATION_OVERLAP_HOURS."""

import io
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from configuration.document import config_export
from tests.factories import endpoint_create
from tests.queue import send_due
from tests.webhooks.conftest import SECRET
from webhooks import signing
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import endpoint_secret_rotate, endpoints_previous_secrets_clear

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("admin:webhooks_webhookendpoint_changelist")


def change_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])


def overlap_end(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())


def rotate_command(*args) -> str:
    out = io.StringIO()
    call_command("endpoint_rotate_secret", *args, stdout=out)
    return out.getvalue()


# --- what receivers get ---------------------------------------------------------------------------------
def test_during_the_overlap_a_receiver_verifies_with_the_old_and_with_the_new_secret(make_delivery, receiver):
    delivery = make_delivery(secret=SECRET)
    new = endpoint_secret_rotate(delivery.endpoint).secret

    send_due(delivery)

    request = receiver.requests[0]
    assert Webhook(SECRET).verify(request.body, request.headers) == request.json()
    assert Webhook(new).verify(request.body, request.headers) == request.json()


def test_during_the_overlap_the_signature_header_holds_the_new_signature_first(make_delivery, receiver):
    delivery = make_delivery(secret=SECRET)
    new = endpoint_secret_rotate(delivery.endpoint).secret

    send_due(delivery)

    request = receiver.requests[0]
    first, second = request.headers["webhook-signature"].split(" ")
    Webhook(new).verify(request.body, {**request.headers, "webhook-signature": first})
    Webhook(SECRET).verify(request.body, {**request.headers, "webhook-signature": second})


def test_after_the_overlap_only_the_new_secret_verifies(make_delivery, receiver):
    delivery = make_delivery(secret=SECRET)
    new = endpoint_secret_rotate(delivery.endpoint).secret
    overlap_end(delivery.endpoint)

    send_due(delivery)

    request = receiver.requests[0]
    assert Webhook(new).verify(request.body, request.headers) == request.json()
    assert " " not in request.headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body, request.headers)


# --- the rotation itself --------------------------------------------------------------------------------
def test_the_previous_secret_stays_valid_for_the_configured_overlap(settings):
    settings.SECRET_ROTATION_OVERLAP_HOURS = 6
    endpoint = endpoint_create(secret=SECRET)

    rotation = endpoint_secret_rotate(endpoint)

    endpoint.refresh_from_db()
    signing.secret_validate(rotation.secret)
    assert (endpoint.secret, endpoint.previous_secret) == (rotation.secret, SECRET)
    expected = timezone.now() + timedelta(hours=6)
    assert abs((endpoint.previous_secret_expires_at - expected).total_seconds()) < 5
    assert endpoint.previous_secret_expires_at == rotation.previous_valid_until


def test_with_an_overlap_of_0_hours_the_old_secret_stops_at_once(settings):
    settings.SECRET_ROTATION_OVERLAP_HOURS = 0
    endpoint = endpoint_create(secret=SECRET)

    rotation = endpoint_secret_rotate(endpoint)

    endpoint.refresh_from_db()
    assert rotation.previous_valid_until is None
    assert endpoint.signing_secrets(timezone.now()) == [rotation.secret] and endpoint.previous_secret == ""


def test_rotating_an_unsigned_endpoint_starts_signing_with_nothing_to_overlap():
    endpoint = endpoint_create()

    rotation = endpoint_secret_rotate(endpoint)

    assert rotation.previous_valid_until is None
    assert endpoint.signing_secrets(timezone.now()) == [rotation.secret]


def test_a_second_rotation_during_the_overlap_keeps_only_the_secret_it_replaces():
    endpoint = endpoint_create(secret=SECRET)
    middle = endpoint_secret_rotate(endpoint).secret

    newest = endpoint_secret_rotate(endpoint).secret

    assert endpoint.signing_secrets(timezone.now()) == [newest, middle]


@pytest.mark.parametrize("secret", [SECRET, "hunter2"])
def test_a_rotation_to_the_current_or_a_malformed_secret_is_refused(secret):
    endpoint = endpoint_create(secret=SECRET)
    with pytest.raises(ValidationError):
        endpoint_secret_rotate(endpoint, secret=secret)
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (SECRET, "")


def test_previous_secrets_are_forgotten_once_their_overlap_ended():
    ended, running = endpoint_create(secret=SECRET), endpoint_create(secret=SECRET)
    endpoint_secret_rotate(ended)
    endpoint_secret_rotate(running)
    overlap_end(ended)

    assert endpoints_previous_secrets_clear() == 1

    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.previous_secret, ended.previous_secret_expires_at) == ("", None)
    assert running.previous_secret == SECRET


def test_an_export_with_secrets_never_carries_the_previous_secret():
    endpoint_secret_rotate(endpoint_create(name="default", is_default=True, secret=SECRET))
    assert SECRET not in str(config_export(include_secrets=True))


# --- manage.py endpoint_rotate_secret ---------------------------------------------------------------------
def test_the_command_rotates_by_name_and_prints_the_new_secret_once():
    endpoint = endpoint_create(name="n8n", secret=SECRET)

    out = rotate_command("n8n")

    endpoint.refresh_from_db()
    assert out.count(endpoint.secret) == 1 and endpoint.previous_secret == SECRET
    assert SECRET not in out
    assert f"also signs deliveries until {endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M:%S} UTC" in out


def test_the_command_takes_an_id_and_a_given_secret():
    endpoint = endpoint_create(name="n8n", secret=SECRET)
    chosen = signing.secret_generate()

    rotate_command(str(endpoint.pk), "--secret", chosen)

    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (chosen, SECRET)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nowhere"], "No endpoint named 'nowhere' (nor with that id)."),
        (["n8n", "--secret", "hunter2"], "A signing secret starts with 'whsec_' (use the generated one)."),
    ],
)
def test_the_command_refuses_an_unknown_endpoint_or_a_bad_secret(args, error):
    endpoint_create(name="n8n", secret=SECRET)
    with pytest.raises(CommandError, match=re.escape(error)):
        rotate_command(*args)
    assert WebhookEndpoint.objects.get().secret == SECRET


# --- admin ------------------------------------------------------------------------------------------------
def rotate_action(client, endpoint: WebhookEndpoint, **extra):
    return client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [str(endpoint.pk)], **extra})


def test_the_admin_action_asks_first_and_changes_nothing_yet(admin_client):
    endpoint = endpoint_create(name="n8n", secret=SECRET)

    page = rotate_action(admin_client, endpoint).content.decode()

    assert "n8n" in page and 'name="apply"' in page and "for <strong>24 h</strong>" in page
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (SECRET, "")


def test_the_admin_action_rotates_and_shows_the_new_secret_once(admin_client):
    endpoint = endpoint_create(name="n8n", secret=SECRET)

    response = rotate_action(admin_client, endpoint, apply="Rotate")

    endpoint.refresh_from_db()
    assert endpoint.previous_secret == SECRET and endpoint.secret != SECRET
    assert "no-store" in response["Cache-Control"]
    assert f'<code class="new-secret">{endpoint.secret}</code>' in response.content.decode()
    for url in (change_url(endpoint), ENDPOINTS):
        assert endpoint.secret.encode() not in admin_client.get(url).content


def test_the_change_page_offers_the_rotation_for_its_endpoint(admin_client):
    endpoint = endpoint_create(name="n8n", secret=SECRET)
    page = admin_client.get(change_url(endpoint)).content.decode()
    assert 'name="action" value="rotate_secret"' in page
    assert f'name="_selected_action" value="{endpoint.pk}"' in page


@pytest.mark.parametrize("page", ["change", "changelist", "confirm", "done"])
def test_the_previous_secret_never_reaches_an_admin_page(admin_client, page):
    endpoint = endpoint_create(name="n8n", secret=SECRET)
    endpoint_secret_rotate(endpoint)
    response = {
        "change": lambda: admin_client.get(change_url(endpoint)),
        "changelist": lambda: admin_client.get(ENDPOINTS),
        "confirm": lambda: rotate_action(admin_client, endpoint),
        "done": lambda: rotate_action(admin_client, endpoint, apply="Rotate"),
    }[page]()
    assert response.status_code == 200
    assert SECRET.encode() not in response.content


def test_the_change_page_shows_the_previous_secret_masked_with_the_end_of_its_overlap(admin_client):
    endpoint = endpoint_create(name="n8n", secret=SECRET)
    endpoint_secret_rotate(endpoint)
    page = admin_client.get(change_url(endpoint)).content.decode()
    assert f"The previous secret, whsec_…{SECRET[-4:]}, still signs deliveries too until" in page


def test_a_secret_typed_in_the_form_replaces_the_current_one_at_once_ending_the_overlap(admin_client):
    endpoint = endpoint_create(name="n8n", secret=SECRET)
    endpoint_secret_rotate(endpoint)
    typed = signing.secret_generate()
    data = {
        "name": "n8n", "url": endpoint.url, "is_active": "on", "delivery_mode": "json", "fallback_on_415": "on",
        "verify_tls": "on", "timeout_seconds": "30", "max_in_flight": "8", "breaker_failures": "5",
        "headers_text": "", "new_secret": typed, "retry_on_status": "",
    }

    assert admin_client.post(change_url(endpoint), data).status_code == 302

    endpoint.refresh_from_db()
    assert endpoint.signing_secrets(timezone.now()) == [typed] and endpoint.previous_secret == ""
