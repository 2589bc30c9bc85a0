"""Per-endpoint retried statuses (SPEC §7): `retry_on_status` adds codes such as n8n's 404 to the retried set."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import endpoint_create
from tests.queue import send_due
from tests.receiver import Answer
from tests.webhooks.conftest import finished
from webhooks.forms import status_codes_parse
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

INACTIVE_WORKFLOW = Answer(404, '{"code": 404, "message": "The requested webhook is not registered."}')


@pytest.mark.django_db(transaction=True)
def test_a_listed_404_is_retried_and_the_delivery_succeeds_once_the_receiver_answers_200(
    make_delivery, receiver, short_schedule, run_queue
):
    short_schedule(0, 1, 1)
    receiver.answer(INACTIVE_WORKFLOW)
    delivery = make_delivery(retry_on_status=[404, 409])

    assert run_queue(finished(delivery), timeout=15)

    delivery.refresh_from_db()
    attempts = list(delivery.attempts.order_by("number"))
    assert (delivery.status, [a.status_code for a in attempts]) == ("succeeded", [404, 200])
    assert attempts[0].failure_reason == "upstream_client_error"
    assert len(receiver.requests) == 2


@pytest.mark.django_db(transaction=True)
def test_without_retry_on_status_a_404_fails_at_once(make_delivery, receiver, short_schedule):
    short_schedule(0, 1, 1)
    receiver.answer(INACTIVE_WORKFLOW)
    delivery = make_delivery()

    assert send_due(delivery) == "failed"
    assert len(receiver.requests) == 1


def test_listed_statuses_count_towards_the_circuit_breaker(make_delivery, receiver):
    receiver.default = INACTIVE_WORKFLOW
    delivery = make_delivery(retry_on_status=[404], breaker_failures=1)

    assert send_due(delivery) == "pending"

    delivery.endpoint.lane.refresh_from_db()
    assert (delivery.endpoint.lane.state, delivery.endpoint.lane.consecutive_failures) == ("open", 1)


# --- validation -----------------------------------------------------------------------------------------
def clean(retry_on_status) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(name="n8n", url="http://127.0.0.1:9/hook", retry_on_status=retry_on_status)
    endpoint.full_clean()
    return endpoint


def clean_error(retry_on_status) -> str:
    with pytest.raises(ValidationError) as caught:
        clean(retry_on_status)
    return " ".join(caught.value.message_dict["retry_on_status"])


def test_statuses_are_deduplicated_and_sorted():
    assert clean([409, 404, 409, 503]).retry_on_status == [404, 409, 503]


@pytest.mark.parametrize("code", [399, 200, 302, 600])
def test_statuses_outside_4xx_and_5xx_are_refused(code):
    assert clean_error([404, code]) == f"Only 4xx and 5xx answers can be retried (400 to 599): {code}."


def test_410_cannot_be_listed_because_it_deactivates_the_endpoint():
    assert "410 Gone cannot be retried: it deactivates the endpoint" in clean_error([404, 410])


@pytest.mark.parametrize("value", [["404"], [404.0], [True], {"404": True}, "404"])
def test_anything_but_a_list_of_whole_numbers_is_refused(value):
    assert clean_error(value) == "Retried statuses are a list of HTTP status codes, e.g. [404, 409]."


def test_at_most_20_statuses():
    assert clean_error(list(range(400, 421))) == "At most 20 retried statuses."


@pytest.mark.parametrize(("text", "codes"), [("404, 409", [404, 409]), (" 404 ,409,", [404, 409]), ("", [])])
def test_the_admin_field_reads_comma_separated_codes(text, codes):
    assert status_codes_parse(text) == codes


def test_the_admin_field_names_what_is_not_a_code():
    with pytest.raises(ValidationError) as caught:
        status_codes_parse("404, abc, 4O9")
    assert caught.value.messages == [
        "Not a status code: 'abc', '4O9'. Write HTTP status codes separated by commas, e.g. 404, 409."
    ]


# --- admin ----------------------------------------------------------------------------------------------
def change_form(endpoint: WebhookEndpoint, **overrides) -> dict:
    data = {
        "name": endpoint.name, "url": endpoint.url, "is_active": "on", "delivery_mode": "json",
        "fallback_on_415": "on", "verify_tls": "on", "timeout_seconds": "30", "max_in_flight": "8",
        "breaker_failures": "5", "headers_text": "", "new_secret": "",
    }
    return {**data, **overrides}


def test_admin_saves_the_codes_typed_sorted_and_shows_them_comma_separated(admin_client):
    endpoint = endpoint_create(name="n8n")
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    assert admin_client.post(url, change_form(endpoint, retry_on_status="409, 404")).status_code == 302

    endpoint.refresh_from_db()
    assert endpoint.retry_on_status == [404, 409]
    assert 'name="retry_on_status" value="404, 409"' in admin_client.get(url).content.decode()


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("404, nope", "Not a status code: &#x27;nope&#x27;."),
        ("404, 410", "410 Gone cannot be retried"),
        ("302", "Only 4xx and 5xx answers can be retried (400 to 599): 302."),
    ],
)
def test_admin_refuses_bad_codes_with_a_clear_error_and_keeps_the_stored_ones(admin_client, typed, error):
    endpoint = endpoint_create(name="n8n", retry_on_status=[409])
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    response = admin_client.post(url, change_form(endpoint, retry_on_status=typed))

    assert response.status_code == 200 and error in response.content.decode()
    assert f'name="retry_on_status" value="{typed}"' in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.retry_on_status == [409]
