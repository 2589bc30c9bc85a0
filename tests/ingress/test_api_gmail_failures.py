"""GET /api/ingress/gmail/failures: the pushed Gmail messages whose delivery failed, for the Apps Script's label."""

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ingress.models import InboundEmail
from tests.factories import TOKEN, endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from webhooks.models import WebhookDelivery
from webhooks.services.deliveries import delivery_replay

pytestmark = pytest.mark.django_db

URL = "/api/ingress/gmail/failures"
Status = WebhookDelivery.Status


@pytest.fixture
def failures(client):
    """GET the failures with the test token; `query` is sent as is (and signed with `secret`, if given)."""

    def _get(query: str = "", *, token=TOKEN, secret: str | None = None, headers=None):
        extra = dict(headers or {})
        if token is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if secret is not None:
            extra.update(signature_headers(secret, query))
        return client.get(f"{URL}?{query}" if query else URL, **extra)

    return _get


def signature_headers(secret: str, signed: str) -> dict:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.{signed}".encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_SIGNATURE_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": f"sha256={digest}"}


def pushed(message_id: str, *statuses: str, received_at: datetime | None = None) -> InboundEmail:
    """An e-mail pushed with this Gmail message id, with one delivery per status (each to its own endpoint)."""
    email = email_create(message_id=message_id, received_at=received_at)
    for status in statuses:
        delivery_create(email, status=status)
    return email


def failed_ids(response) -> list[str]:
    return [item["message_id"] for item in response.json()["failed"]]


def test_without_the_token_the_answer_is_401(failures):
    pushed("m-failed", Status.FAILED)

    for response in (failures(token=None), failures(token="wrong-token")):
        assert response.status_code == 401
        assert response.json() == {"success": False, "message": "Unauthorized"}


def test_with_a_signing_secret_the_query_string_must_be_signed(failures, settings):
    settings.INGRESS_HMAC_SECRET = "s3cret"
    pushed("m-failed", Status.FAILED)
    query = "since=2026-04-01T00%3A00%3A00Z"

    assert failures(query).status_code == 401
    assert failures(query, secret="other").status_code == 401
    assert failures(query, headers=signature_headers("s3cret", "since=2026-04-02T00%3A00%3A00Z")).status_code == 401
    assert failures(query, secret="s3cret").status_code == 200
    assert failures(secret="s3cret").status_code == 200  # no query: the empty string is signed


def test_an_email_with_a_failed_delivery_is_listed_with_its_endpoints_and_last_attempt(failures):
    email = email_create(message_id="m-failed")
    bad = endpoint_create(name="crm")
    delivery_create(email, bad, attempts=[failed_attempt(400)], created_at=timezone.now() - timedelta(minutes=3))
    delivery_create(email, endpoint_create(name="archive"), attempts=[ok_attempt()])

    body = failures().json()

    attempt = WebhookDelivery.objects.get(endpoint=bad).last_attempt_at
    assert body["success"] is True and body["truncated"] is False and body["recovered"] == []
    assert body["failed"] == [
        {
            "message_id": "m-failed", "email_id": email.email_id, "status": "failed", "endpoints": ["crm"],
            "last_attempt_at": attempt.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_a_cancelled_delivery_counts_and_failed_wins_over_cancelled(failures):
    pushed("m-cancelled", Status.CANCELLED, Status.SUCCEEDED)
    pushed("m-both", Status.CANCELLED, Status.FAILED)

    failed = {item["message_id"]: item for item in failures().json()["failed"]}

    assert failed["m-cancelled"]["status"] == "cancelled" and failed["m-cancelled"]["last_attempt_at"] is None
    assert failed["m-both"]["status"] == "failed" and len(failed["m-both"]["endpoints"]) == 2


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENDING, Status.PAUSED, Status.SUCCEEDED])
def test_emails_whose_deliveries_are_waiting_or_succeeded_are_neither_failed_nor_recovered(failures, status):
    pushed("m-waiting", status, Status.SUCCEEDED)

    body = failures().json()

    assert body["failed"] == [] and body["recovered"] == []


def test_a_failed_delivery_replayed_to_success_makes_its_message_recovered(failures):
    email = pushed("m-replayed", Status.SUCCEEDED)
    failed = delivery_create(email, attempts=[failed_attempt(400)])
    assert failed_ids(failures()) == ["m-replayed"]

    delivery_replay(failed)
    waiting = failures().json()
    assert waiting["failed"] == [] and waiting["recovered"] == [], "a replay still waiting is neither"

    WebhookDelivery.objects.filter(pk=failed.pk).update(status=Status.SUCCEEDED)  # the worker's success
    body = failures().json()
    assert body["failed"] == [] and body["recovered"] == ["m-replayed"]


def test_a_replay_that_fails_again_keeps_the_message_failed(failures):
    email = pushed("m-again")
    failed = delivery_create(email, attempts=[failed_attempt(400)])
    delivery_replay(failed)
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=Status.FAILED)

    assert failed_ids(failures()) == ["m-again"]


def test_a_message_with_one_delivery_recovered_and_another_failed_is_failed(failures):
    email = pushed("m-half", Status.FAILED)
    replayed = delivery_create(email, attempts=[failed_attempt(400)])
    delivery_replay(replayed)
    WebhookDelivery.objects.filter(pk=replayed.pk).update(status=Status.SUCCEEDED)

    body = failures().json()

    assert [item["message_id"] for item in body["failed"]] == ["m-half"] and body["recovered"] == []


def test_emails_pushed_without_a_gmail_message_id_are_left_out(failures):
    pushed("", Status.FAILED)

    assert failures().json()["failed"] == []


def test_failed_messages_are_listed_newest_first(failures):
    now = timezone.now()
    pushed("m-old", Status.FAILED, received_at=now - timedelta(days=2))
    pushed("m-new", Status.FAILED, received_at=now - timedelta(hours=1))

    assert failed_ids(failures()) == ["m-new", "m-old"]


def test_since_leaves_out_earlier_emails_and_is_utc_without_an_offset(failures):
    now = timezone.now().replace(microsecond=0)
    pushed("m-before", Status.FAILED, received_at=now - timedelta(hours=3))
    pushed("m-after", Status.FAILED, received_at=now - timedelta(hours=1))
    since = (now - timedelta(hours=2)).astimezone(UTC).replace(tzinfo=None).isoformat()

    body = failures(f"since={since}").json()

    assert [item["message_id"] for item in body["failed"]] == ["m-after"]
    assert parse_datetime(body["since"]) == now - timedelta(hours=2)


def test_since_defaults_to_seven_days_and_an_earlier_one_is_raised_to_it(failures):
    now = timezone.now()
    pushed("m-eight-days", Status.FAILED, received_at=now - timedelta(days=8))
    pushed("m-six-days", Status.FAILED, received_at=now - timedelta(days=6))

    default = failures().json()
    clamped = failures("since=2020-01-01T00:00:00Z").json()

    for body in (default, clamped):
        assert [item["message_id"] for item in body["failed"]] == ["m-six-days"]
        assert abs(parse_datetime(body["since"]) - (now - timedelta(days=7))) < timedelta(minutes=1)


@pytest.mark.parametrize("since", ["yesterday", "", "2026-13-01T00:00:00", "0001-01-01T00:00:00%2B05:00"])
def test_a_malformed_since_is_400_in_the_ingress_error_style(failures, since):
    response = failures(f"since={since}")

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["message"].startswith("Invalid since:")


def test_at_most_500_messages_are_listed_and_truncated_says_more_matched(failures):
    endpoint = endpoint_create()
    now = timezone.now()
    emails = InboundEmail.objects.bulk_create(
        InboundEmail(
            email_id=f"{n:032x}", dedup_key=f"{n:032x}", message_id=f"m-{n}", sender="a@acme.fr",
            sender_email="a@acme.fr", body="x", status=InboundEmail.Status.PROCESSED,
        )
        for n in range(501)
    )
    for n, email in enumerate(emails):  # m-0 is the oldest
        InboundEmail.objects.filter(pk=email.pk).update(received_at=now - timedelta(minutes=600 - n))
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(email=email, endpoint=endpoint, status=Status.FAILED) for email in emails
    )

    response = failures()

    assert response.json()["truncated"] is True
    listed = failed_ids(response)
    assert len(listed) == 500 and listed[0] == "m-500" and "m-0" not in listed


def test_the_operation_is_documented_with_its_query_and_every_answer(client):
    operation = client.get("/api/schema/", {"format": "json"}).json()["paths"][URL]["get"]

    assert [(p["name"], p["in"]) for p in operation["parameters"]] == [("since", "query")]
    assert set(operation["responses"]) == {"200", "400", "401", "500", "503"}
    assert operation["security"] == [{"IngressBearer": []}]
