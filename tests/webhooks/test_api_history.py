"""The delivery history API (SPEC §9): filters, pagination, auth, query counts, and the legacy shape."""

import json
from base64 import b64encode
from datetime import timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.pagination import COUNT_CAP, PAGE_NUMBERS_DEPRECATED_AT
from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.history_factories import (
    HISTORY_VIEW_PERMS,
    delivery_create,
    email_create,
    failed_attempt,
    ok_attempt,
    staff_create,
    token_client,
)
from tests.queue import send_due
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import delivery_replay, endpoint_test_send

pytestmark = pytest.mark.django_db

DELIVERIES = "/api/webhooks/deliveries/"
EMAILS = "/api/emails/"
LOGS = "/api/webhook_logs"


def ids(response) -> list[int]:
    return ids_of(response.json())


def ids_of(body: dict) -> list[int]:
    return [item["id"] for item in body["results"]]


def walk(api, url: str) -> list[int]:
    """The ids of every page, following `next` from `url`."""
    listed = []
    while url:
        body = api.get(url).json()
        listed += ids_of(body)
        url = body["next"]
    return listed


# --- Auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DELIVERIES, "/api/emails/", LOGS])
def test_anonymous_gets_a_json_401_with_the_token_challenge_not_a_login_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_a_wrong_token_is_refused_with_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(DELIVERIES)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_token_of_a_user_who_is_not_staff_gets_403_even_with_every_view_permission():
    response = token_client(staff_create("reader", is_staff=False, perms=HISTORY_VIEW_PERMS)).get(DELIVERIES)
    assert response.status_code == 403
    assert response.json()["detail"]


def test_a_staff_session_reads_the_api(client):
    client.force_login(staff_create("sessionuser", perms=HISTORY_VIEW_PERMS))
    assert client.get(DELIVERIES).status_code == 200


def test_drf_create_token_makes_a_token_that_reads_the_api(capsys):
    staff_create("scripts", perms=HISTORY_VIEW_PERMS)
    call_command("drf_create_token", "scripts")
    key = capsys.readouterr().out.split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(DELIVERIES).status_code == 200


# --- Model permissions, as in admin -----------------------------------------------------------------

DELIVERY = "webhooks.view_webhookdelivery"
ATTEMPT = "webhooks.view_deliveryattempt"
ENDPOINT = "webhooks.view_webhookendpoint"
# Each read and the view permissions it needs: attempts are shown only to who may view them, as in admin.
READS = {
    "deliveries": ("{deliveries}", {DELIVERY}),
    "delivery": ("{deliveries}{delivery}/", {DELIVERY, ATTEMPT}),
    "endpoints": ("/api/webhooks/endpoints/", {ENDPOINT}),
    "endpoint": ("/api/webhooks/endpoints/{endpoint}/", {ENDPOINT}),
    "webhook_logs": (LOGS, {DELIVERY, ATTEMPT}),
}


def read_path(read: str) -> str:
    delivery = delivery_create(email_create(), attempts=[failed_attempt(500)], payload={"body": "secret"})
    return READS[read][0].format(deliveries=DELIVERIES, delivery=delivery.pk, endpoint=delivery.endpoint_id)


@pytest.mark.parametrize(
    ("read", "missing"), [(read, perm) for read, (_, needed) in READS.items() for perm in sorted(needed)]
)
def test_a_staff_user_lacking_one_needed_view_permission_gets_a_json_403(read, missing):
    path = read_path(read)
    others = [perm for perm in HISTORY_VIEW_PERMS if perm != missing]
    response = token_client(staff_create(perms=others)).get(path)
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


@pytest.mark.parametrize("read", READS)
def test_the_needed_view_permissions_alone_open_each_read(read):
    path = read_path(read)
    assert token_client(staff_create(perms=READS[read][1])).get(path).status_code == 200


def test_a_superuser_reads_without_any_granted_permission():
    path = read_path("delivery")
    assert token_client(staff_create(is_superuser=True)).get(path).status_code == 200


# --- List, filters, pagination ---------------------------------------------------------------------


def test_deliveries_are_listed_newest_first(api):
    now = timezone.now()
    old = delivery_create(email_create(), created_at=now - timedelta(hours=2))
    new = delivery_create(email_create(), created_at=now - timedelta(minutes=1))
    middle = delivery_create(email_create(), created_at=now - timedelta(hours=1))
    assert ids(api.get(DELIVERIES)) == [new.pk, middle.pk, old.pk]


def test_a_listed_delivery_carries_its_email_endpoint_and_last_outcome(api):
    endpoint = endpoint_create(name="billing")
    email = email_create(subject="Facture 42")
    delivery = delivery_create(email, endpoint, attempts=[failed_attempt(503)])
    item = api.get(DELIVERIES).json()["results"][0]
    assert item["id"] == delivery.pk
    assert item["endpoint"] == {"id": endpoint.pk, "name": "billing"}
    assert item["email"]["email_id"] == email.email_id
    assert item["email"]["subject"] == "Facture 42"
    assert item["email"]["url"].endswith(f"/api/emails/{email.email_id}/")
    assert item["status"] == "failed"
    assert item["last_status_code"] == 503
    assert item["failure_reason"] == "upstream_server_error"
    assert item["webhook_id"] == delivery.webhook_id
    assert "payload" not in item and "attempts" not in item


def test_status_filter_accepts_one_or_several_values(api):
    failed = delivery_create(email_create(), attempts=[failed_attempt(400)])
    done = delivery_create(email_create(), attempts=[ok_attempt()])
    pending = delivery_create(email_create())
    assert ids(api.get(DELIVERIES, {"status": "failed"})) == [failed.pk]
    assert set(ids(api.get(f"{DELIVERIES}?status=succeeded&status=pending"))) == {done.pk, pending.pk}


def test_an_unknown_status_is_a_400_naming_the_filter(api):
    response = api.get(DELIVERIES, {"status": "exploded"})
    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("query", ["status=", "until=", "since=%20", "endpoint=", "status=failed&status="])
def test_an_empty_filter_is_a_400_naming_it(api, query):
    response = api.get(f"{DELIVERIES}?{query}")
    assert response.status_code == 400
    name = query.rsplit("&", 1)[-1].split("=")[0]
    assert response.json() == {name: ["This parameter may not be empty."]}


def test_endpoint_filter_takes_an_id_or_a_name(api):
    billing = endpoint_create(name="billing")
    mine = delivery_create(email_create(), billing)
    delivery_create(email_create(), endpoint_create(name="other"))
    assert ids(api.get(DELIVERIES, {"endpoint": billing.pk})) == [mine.pk]
    assert ids(api.get(DELIVERIES, {"endpoint": "billing"})) == [mine.pk]
    assert ids(api.get(DELIVERIES, {"endpoint": "nope"})) == []


def test_failure_reason_filter_lists_the_deliveries_that_last_failed_so(api):
    refused = delivery_create(email_create(), attempts=[failed_attempt(None)])
    delivery_create(email_create(), attempts=[failed_attempt(503)])
    delivery_create(email_create(), attempts=[ok_attempt()])
    assert ids(api.get(DELIVERIES, {"failure_reason": "request_failed"})) == [refused.pk]


def test_email_id_filter(api):
    email = email_create()
    first = delivery_create(email, endpoint_create())
    second = delivery_create(email, endpoint_create())
    delivery_create(email_create())
    assert set(ids(api.get(DELIVERIES, {"email_id": email.email_id}))) == {first.pk, second.pk}


def test_since_is_inclusive_and_until_exclusive(api):
    base = timezone.now().replace(microsecond=0) - timedelta(days=3)
    before = delivery_create(email_create(), created_at=base - timedelta(seconds=1))
    at_since = delivery_create(email_create(), created_at=base)
    at_until = delivery_create(email_create(), created_at=base + timedelta(hours=1))
    got = ids(api.get(DELIVERIES, {"since": base.isoformat(), "until": (base + timedelta(hours=1)).isoformat()}))
    assert got == [at_since.pk]
    assert before.pk not in got and at_until.pk not in got


def test_a_malformed_since_is_a_400(api):
    response = api.get(DELIVERIES, {"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()


def test_a_list_answers_its_newest_page_with_a_cursor_link_to_the_next_and_no_count(api):
    endpoint = endpoint_create()
    for _ in range(7):
        delivery_create(email_create(), endpoint)
    first = api.get(DELIVERIES, {"page_size": 3}).json()
    assert set(first) == {"next", "previous", "results"}
    assert len(first["results"]) == 3 and first["previous"] is None
    assert "cursor=" in first["next"] and "page_size=3" in first["next"]


def test_following_next_lists_every_delivery_once_newest_first(api):
    now = timezone.now()
    made = [delivery_create(email_create(), created_at=now - timedelta(minutes=n)).pk for n in range(7)]
    assert walk(api, f"{DELIVERIES}?page_size=3") == made


def test_previous_leads_back_to_the_same_page(api):
    now = timezone.now()
    for n in range(7):
        delivery_create(email_create(), created_at=now - timedelta(minutes=n))
    first = api.get(DELIVERIES, {"page_size": 3}).json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert ids_of(back) == ids_of(first)


def test_deliveries_arriving_while_paging_neither_repeat_nor_shift_the_next_page(api):
    now = timezone.now()
    made = [delivery_create(email_create(), created_at=now - timedelta(minutes=n)).pk for n in range(6)]
    first = api.get(DELIVERIES, {"page_size": 3}).json()
    for _ in range(2):
        delivery_create(email_create())
    assert ids_of(first) + ids_of(api.get(first["next"]).json()) == made


def test_deliveries_created_at_the_same_moment_are_each_listed_once(api):
    endpoint = endpoint_create()
    moment = timezone.now()
    for _ in range(7):
        delivery_create(email_create(), endpoint, created_at=moment)
    listed = walk(api, f"{DELIVERIES}?page_size=2")
    assert sorted(listed, reverse=True) == listed and len(set(listed)) == 7


def test_emails_are_paged_by_cursor_too(api):
    now = timezone.now()
    made = [email_create(received_at=now - timedelta(minutes=n)).email_id for n in range(5)]
    listed, url = [], f"{EMAILS}?page_size=2"
    while url:
        body = api.get(url).json()
        listed += [item["email_id"] for item in body["results"]]
        url = body["next"]
    assert listed == made


def test_page_size_is_capped_at_200(api):
    endpoint = endpoint_create()
    WebhookDelivery.objects.bulk_create(WebhookDelivery(endpoint=endpoint, is_test=True) for _ in range(205))
    assert len(api.get(DELIVERIES, {"page_size": 1000}).json()["results"]) == 200


@pytest.mark.parametrize("size", ["0", "-1", "abc", "", "2.5", "\u0663"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400_naming_it(api, size):
    response = api.get(DELIVERIES, {"page_size": size})
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


def cursor_forge(**tokens: str) -> str:
    """A cursor as the API encodes one (base64 of a query string: p position, o offset, r reverse)."""
    return b64encode(urlencode(tokens).encode()).decode()


FORGED_CURSORS = {
    "not base64": "abc",
    "not a position": cursor_forge(p="yesterday"),
    "a naive time": cursor_forge(p="2026-01-01 00:00:00"),
    "a time that leaves the calendar in UTC": cursor_forge(p="9999-12-31 23:59:59-05:00"),
    "a date alone": cursor_forge(p="2026-01-01"),
    "a negative offset": cursor_forge(o="-1"),
    "a direction that is not 0 or 1": cursor_forge(r="x"),
}


@pytest.mark.parametrize("cursor", FORGED_CURSORS.values(), ids=FORGED_CURSORS)
def test_a_forged_cursor_is_a_json_404_not_a_server_error(api, cursor):
    delivery_create(email_create())
    response = api.get(DELIVERIES, {"cursor": cursor})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_a_cursor_with_a_far_offset_reads_the_same_moment(api):
    delivery = delivery_create(email_create(), created_at=timezone.now() - timedelta(hours=1))
    # 21:36 ahead of UTC, which PostgreSQL cannot take: compared in UTC.
    later = timezone.now().astimezone(dt_timezone(timedelta(hours=21, minutes=36)))
    assert ids(api.get(DELIVERIES, {"cursor": cursor_forge(p=str(later))})) == [delivery.pk]


# --- Deprecated page numbers ------------------------------------------------------------------------


def test_page_numbers_still_answer_the_count_and_page_links_with_a_deprecation_header(api):
    endpoint = endpoint_create()
    for _ in range(7):
        delivery_create(email_create(), endpoint)
    first = api.get(DELIVERIES, {"page_size": 3, "page": 1})
    assert first["Deprecation"] == f"@{int(PAGE_NUMBERS_DEPRECATED_AT.timestamp())}"
    body = first.json()
    assert body["count"] == 7 and len(body["results"]) == 3
    assert "page=2" in body["next"] and body["previous"] is None
    last = api.get(DELIVERIES, {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None


def test_a_page_number_past_the_end_is_a_404(api):
    response = api.get(DELIVERIES, {"page": 9})
    assert response.status_code == 404
    assert "cursor" in response.json()["detail"]


def test_page_numbers_count_and_reach_at_most_the_first_10000_results(api):
    endpoint = endpoint_create()
    WebhookDelivery.objects.bulk_create(WebhookDelivery(endpoint=endpoint, is_test=True) for _ in range(COUNT_CAP + 1))
    last = api.get(DELIVERIES, {"page_size": 200, "page": COUNT_CAP // 200}).json()
    assert last["count"] == COUNT_CAP and last["next"] is None
    assert api.get(DELIVERIES, {"page_size": 200, "page": COUNT_CAP // 200 + 1}).status_code == 404


def test_page_and_cursor_together_are_a_400(api):
    for _ in range(2):
        delivery_create(email_create())
    following = api.get(DELIVERIES, {"page_size": 1}).json()["next"]
    response = api.get(f"{following}&page=1")
    assert response.status_code == 400 and list(response.json()) == ["page"]


# --- Query plans: a page is read along an index in the list's order, so it costs the same at any size --------

INDEXED_LISTS = [
    "", "?status=failed", "?status=paused", "?status=failed&status=cancelled", "?endpoint=default",
    "?failure_reason=request_failed", "?since=2026-01-01T00:00:00Z",
]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans from its statistics, not the query alone")
@pytest.mark.parametrize("query", INDEXED_LISTS)
def test_a_delivery_page_is_read_in_index_order_without_sorting_the_matches(api, query):
    endpoint_create(name="default", is_default=True)
    with CaptureQueriesContext(connection) as queries:
        assert api.get(DELIVERIES + query).status_code == 200
    page = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "webhooks_webhookdelivery"."id"'))
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {page}")
        plan = " / ".join(row[-1] for row in cursor.fetchall())
    assert "TEMP B-TREE" not in plan, plan


# --- Query-count baselines, on the NetBox model: a regression fails here, not as a slow page at a customer -----

# Each read, and the queries it costs whatever the history holds: the token, the user's permissions (own and
# groups'), then the read's own. Lists are read with a page as large as the history.
QUERY_BASELINES = {
    "deliveries": (DELIVERIES + "?page_size=200", 4),
    "delivery": (DELIVERIES + "{delivery}/", 5),
    "emails": (EMAILS + "?page_size=200", 5),
    "email": (EMAILS + "{email_id}/", 5),
    "webhook_logs": (LOGS + "?limit=500", 7),
    "endpoints": ("/api/webhooks/endpoints/", 10),
    "endpoint": ("/api/webhooks/endpoints/{endpoint}/", 10),
}


def history_build(rows: int) -> dict:
    """`rows` e-mails delivered to two endpoints (a failure, then a success), `rows` e-mails skipped for lack of
    links, one delivery with `rows` attempts, and `rows` endpoints more: the names QUERY_BASELINES' paths take."""
    endpoints = [endpoint_create(is_default=True), endpoint_create()]
    for _ in range(rows):
        endpoint_create()
    for _ in range(rows):
        email = email_create()
        for endpoint in endpoints:
            delivery_create(email, endpoint, attempts=[failed_attempt(500), ok_attempt()])
        email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS, links=[])
    target = delivery_create(email, endpoint_create(), attempts=[failed_attempt(503) for _ in range(rows)])
    return {"delivery": target.pk, "email_id": email.email_id, "endpoint": endpoints[0].pk}


@pytest.mark.parametrize("rows", [2, 25])
@pytest.mark.parametrize("read", QUERY_BASELINES)
def test_each_read_costs_its_baseline_queries_whatever_the_history_holds(api, django_assert_num_queries, read, rows):
    path, queries = QUERY_BASELINES[read]
    path = path.format(**history_build(rows))
    with django_assert_num_queries(queries):
        response = api.get(path)
    assert response.status_code == 200


# --- Detail -------------------------------------------------------------------------------------------


def test_detail_shows_the_attempts_in_order_and_the_frozen_payload(api):
    delivery = delivery_create(
        email_create(), attempts=[failed_attempt(None), failed_attempt(502), ok_attempt()], payload={"email_id": "x"}
    )
    body = api.get(f"{DELIVERIES}{delivery.pk}/").json()
    assert [a["number"] for a in body["attempts"]] == [1, 2, 3]
    assert [a["status_code"] for a in body["attempts"]] == [None, 502, 200]
    assert body["attempts"][0]["failure_reason"] == "request_failed"
    assert body["attempts"][2]["succeeded"] is True
    assert body["payload"] == {"email_id": "x"}
    assert body["status"] == "succeeded"


def test_a_test_delivery_has_no_email(api):
    delivery = delivery_create(None, is_test=True, attempts=[ok_attempt()])
    body = api.get(f"{DELIVERIES}{delivery.pk}/").json()
    assert body["email"] is None and body["is_test"] is True


def test_an_unknown_delivery_is_a_json_404(api):
    response = api.get(f"{DELIVERIES}999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# --- Legacy GET /api/webhook_logs -------------------------------------------------------------------------

LEGACY_KEYS = {
    "timestamp", "type", "email_id", "status", "status_code", "webhook_url", "subject", "delivery_mode",
    "attempted_delivery_modes", "fallback_used", "payload_size_bytes", "error_message", "response_snippet",
    "failure_reason",
}


def test_webhook_logs_keeps_the_legacy_envelope(api):
    body = api.get(LOGS).json()
    assert body == {"success": True, "logs": [], "count": 0, "days_filter": 7}


@pytest.mark.parametrize(
    ("raw", "days"), [("3", 3), ("1", 1), ("30", 30), ("31", 30), ("0", 7), ("-2", 7), ("abc", 7), ("", 7)]
)
def test_days_follows_the_legacy_clamping(api, raw, days):
    assert api.get(LOGS, {"days": raw}).json()["days_filter"] == days


def test_a_successful_delivery_is_a_success_entry_with_the_legacy_fields(api):
    endpoint = endpoint_create(url="http://127.0.0.1:9/" + "a" * 80)
    email = email_create(subject="S" * 150)
    delivery_create(email, endpoint, attempts=[ok_attempt(request_size=1234)])
    entry = api.get(LOGS).json()["logs"][0]
    assert LEGACY_KEYS <= set(entry)
    assert entry["type"] == "custom"
    assert entry["status"] == "success" and entry["status_code"] == 200
    assert entry["email_id"] == email.email_id
    assert entry["webhook_url"] == endpoint.url[:50] + "..."
    assert entry["subject"] == "S" * 100
    assert entry["delivery_mode"] == "json" and entry["attempted_delivery_modes"] == ["json"]
    assert entry["fallback_used"] is False
    assert entry["payload_size_bytes"] == 1234
    assert entry["error_message"] is None and entry["failure_reason"] is None
    assert entry["timestamp"].endswith("+00:00") and "." in entry["timestamp"]


def test_a_failed_delivery_is_an_error_entry_with_reason_and_message(api):
    delivery_create(email_create(), attempts=[failed_attempt(500), failed_attempt(503, error="Service Unavailable")])
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["status"] == "error" and entry["status_code"] == 503
    assert entry["error_message"] == "Service Unavailable"
    assert entry["failure_reason"] == "upstream_server_error"
    assert entry["attempts"] == 2


def test_a_delivery_still_retrying_shows_its_last_failure_as_error(api):
    delivery_create(email_create(), attempts=[failed_attempt(None)], status=WebhookDelivery.Status.PENDING)
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["status"] == "error"
    assert entry["status_code"] is None and entry["failure_reason"] == "request_failed"
    assert entry["delivery_status"] == "pending"


def test_an_attempt_still_in_flight_is_not_an_outcome_yet(api):
    delivery = delivery_create(email_create(), attempts=[failed_attempt(500)], status=WebhookDelivery.Status.SENDING)
    DeliveryAttempt.objects.create(
        delivery=delivery, number=2, started_at=timezone.now(), url=delivery.endpoint.url, delivery_mode="json"
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=2)  # as the sender does at the start
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["status_code"] == 500 and entry["delivery_status"] == "sending" and entry["attempts"] == 2
    DeliveryAttempt.objects.filter(number=1).delete()
    assert api.get(LOGS).json()["count"] == 0


def test_a_replayed_delivery_keeps_its_last_outcome_until_the_next_attempt(api):
    delivery = delivery_create(email_create(), attempts=[failed_attempt(503, error="Service Unavailable")])
    delivery_replay(delivery)
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["status"] == "error" and entry["status_code"] == 503
    assert entry["error_message"] == "Service Unavailable" and entry["delivery_status"] == "pending"


def test_a_delivery_never_attempted_is_not_an_entry(api):
    delivery_create(email_create())
    assert api.get(LOGS).json()["count"] == 0


def test_the_form_mode_and_fallback_use_the_legacy_names(api):
    endpoint = endpoint_create(delivery_mode=WebhookEndpoint.DeliveryMode.LEGACY_FORM_HEADER)
    delivery_create(
        email_create(), endpoint,
        attempts=[failed_attempt(415, delivery_mode="json"), ok_attempt(delivery_mode="legacy_form_header")],
    )
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["delivery_mode"] == "form"
    assert entry["attempted_delivery_modes"] == ["json", "form"]
    assert entry["fallback_used"] is True


def test_an_email_skipped_for_lack_of_links_is_a_skipped_entry(api):
    endpoint_create(name="default", is_default=True, url="https://hooks.acme.fr/in")
    email = email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS, links=[])
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["status"] == "skipped" and entry["status_code"] == 204
    assert entry["email_id"] == email.email_id
    assert entry["error_message"] == "No delivery links detected; skipping per config"
    assert entry["webhook_url"] == "https://hooks.acme.fr/in"
    assert entry["delivery_mode"] is None


def test_other_skips_are_not_legacy_entries(api):
    email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    email_create(status=InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED)
    assert api.get(LOGS).json()["count"] == 0


def test_a_test_send_from_the_admin_uses_the_legacy_test_email_id(api, receiver):
    endpoint = endpoint_create(name="billing", url=receiver.url("/hook"))
    assert send_due(endpoint_test_send(endpoint)) == "succeeded"
    entry = api.get(LOGS).json()["logs"][0]
    assert entry["email_id"] == "test-webhook"
    assert entry["subject"] == "Signal Server test webhook for billing"
    assert entry["status"] == "success" and entry["status_code"] == 200


def test_entries_are_newest_first_across_deliveries_and_skips(api):
    now = timezone.now()
    delivery_create(email_create(), attempts=[ok_attempt(started_at=now - timedelta(hours=3))])
    skipped = email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS, received_at=now - timedelta(hours=2))
    latest = delivery_create(email_create(), attempts=[failed_attempt(400, started_at=now - timedelta(hours=1))])
    logs = api.get(LOGS).json()["logs"]
    assert [e["status"] for e in logs] == ["error", "skipped", "success"]
    assert logs[0]["delivery_id"] == latest.pk and logs[1]["email_id"] == skipped.email_id


def test_days_drops_older_entries(api):
    now = timezone.now()
    delivery_create(email_create(), attempts=[ok_attempt(started_at=now - timedelta(days=2, hours=1))])
    recent = delivery_create(email_create(), attempts=[ok_attempt(started_at=now - timedelta(hours=20))])
    logs = api.get(LOGS, {"days": 2}).json()["logs"]
    assert [e["delivery_id"] for e in logs] == [recent.pk]
    assert api.get(LOGS, {"days": 3}).json()["count"] == 2


def test_at_most_50_entries_by_default_and_limit_raises_it(api):
    endpoint = endpoint_create()
    for _ in range(55):
        delivery_create(email_create(), endpoint, attempts=[ok_attempt()])
    assert api.get(LOGS).json()["count"] == 50
    assert api.get(LOGS, {"limit": 55}).json()["count"] == 55


def test_a_bad_limit_or_status_is_a_400(api):
    assert api.get(LOGS, {"limit": 0}).status_code == 400
    assert api.get(LOGS, {"limit": 501}).status_code == 400
    assert "status" in api.get(LOGS, {"status": "maybe"}).json()


def test_status_and_email_id_narrow_the_entries(api):
    wanted = email_create()
    delivery_create(wanted, attempts=[failed_attempt(500)])
    delivery_create(email_create(), attempts=[ok_attempt()])
    email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS)
    assert [e["status"] for e in api.get(LOGS, {"status": "error"}).json()["logs"]] == ["error"]
    assert [e["status"] for e in api.get(LOGS, {"status": "skipped"}).json()["logs"]] == ["skipped"]
    assert [e["email_id"] for e in api.get(LOGS, {"email_id": wanted.email_id}).json()["logs"]] == [wanted.email_id]


def test_webhook_logs_query_count_does_not_grow_with_the_number_of_entries(api):
    endpoint = endpoint_create(is_default=True)
    for _ in range(5):
        delivery_create(email_create(), endpoint, attempts=[failed_attempt(500), ok_attempt()])
        email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS)
    with CaptureQueriesContext(connection) as few:
        assert api.get(LOGS, {"limit": 4}).json()["count"] == 4
    for _ in range(40):
        delivery_create(email_create(), endpoint, attempts=[failed_attempt(500), ok_attempt()])
    with CaptureQueriesContext(connection) as many:
        assert api.get(LOGS, {"limit": 50}).json()["count"] == 50
    assert len(many) == len(few)


@pytest.mark.parametrize("path", [f"{DELIVERIES}-3/", "/api/nothing-here", "/api/emails/a/b/"])
def test_an_api_path_that_matches_no_route_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_pages_outside_the_api_keep_the_html_404(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_an_api_server_error_page_is_json_too(rf):
    from core.errors import server_error

    response = server_error(rf.get("/api/webhooks/deliveries/"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"detail": "Internal server error."}
    assert server_error(rf.get("/admin/"))["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "since", ["3441-06-26T17:54:59+21:36", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_odd_but_valid_iso_datetimes_are_answered_not_crashed(api, since):
    response = api.get(DELIVERIES, {"since": since})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "since" in response.json()


def test_a_far_offset_is_compared_in_utc(api):
    delivery = delivery_create(email_create(), created_at=timezone.now() - timedelta(hours=1))
    # 21:36 ahead of UTC: a moment two hours ago in UTC, written with an offset PostgreSQL cannot take.
    since = (timezone.now() - timedelta(hours=2)).astimezone(dt_timezone(timedelta(hours=21, minutes=36)))
    assert ids(api.get(DELIVERIES, {"since": since.isoformat()})) == [delivery.pk]


@pytest.mark.parametrize("reference", ["²", "٣", "99999999999999999999999", " 7 "])
def test_an_endpoint_reference_that_is_not_a_plain_id_matches_by_name_only(api, reference):
    response = api.get(DELIVERIES, {"endpoint": reference})
    assert response.status_code == 200 and response.json()["results"] == []
