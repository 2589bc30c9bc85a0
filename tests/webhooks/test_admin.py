"""Admin for endpoints and deliveries: lists, detail with attempts, actions (replay, test, activate)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from configuration.snapshot import ingress_config_get
from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.queue import send_due
from tests.receiver import Answer
from tests.webhooks.conftest import SECRET
from webhooks import signing
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("admin:webhooks_webhookendpoint_changelist")
DELIVERIES = reverse("admin:webhooks_webhookdelivery_changelist")


def inbound(n: int, subject: str = "Sujet") -> InboundEmail:
    return InboundEmail.objects.create(
        email_id=f"{n:032x}", sender="a@b.fr", sender_email="a@b.fr", subject=f"{subject} {n}",
        body="<p>BODY-MARKER</p>", status="processed",
    )


def deliveries(count: int, endpoint: WebhookEndpoint, status: str = "failed") -> list[WebhookDelivery]:
    start = WebhookDelivery.objects.count()
    return [
        WebhookDelivery.objects.create(
            email=inbound(start + n), endpoint=endpoint, status=status, payload={"big": "PAYLOAD-MARKER"}
        )
        for n in range(count)
    ]


def action(client, url, name, ids, **extra):
    return client.post(url, {"action": name, "_selected_action": [str(i) for i in ids], **extra}, follow=True)


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# endpoints ------------------------------------------------------------------------------------------------
def test_endpoint_list_masks_secret_and_url_and_shows_the_last_delivery(admin_client):
    endpoint = endpoint_create(url="http://127.0.0.1:9/make/t0ken-in-path", secret=SECRET)
    deliveries(1, endpoint, status="succeeded")
    page = admin_client.get(ENDPOINTS).content.decode()
    assert SECRET not in page and "t0ken-in-path" not in page
    assert "whsec_…" + SECRET[-4:] in page and "http://127.0.0.1:9/…" in page
    assert "succeeded" in page


def test_endpoint_list_query_count_does_not_grow_with_endpoints(admin_client):
    for _ in range(2):
        deliveries(1, endpoint_create())
    few = query_count(admin_client, ENDPOINTS)
    for _ in range(8):
        deliveries(2, endpoint_create())
    assert query_count(admin_client, ENDPOINTS) == few


def test_new_endpoint_form_is_prefilled_with_a_valid_generated_secret(admin_client):
    page = admin_client.get(reverse("admin:webhooks_webhookendpoint_add")).content.decode()
    secret = re.search(r'name="new_secret" value="(whsec_[^"]+)"', page).group(1)
    signing.secret_validate(secret)


def endpoint_form(**overrides):
    data = {
        "name": "acme", "url": "http://127.0.0.1:9/hook", "is_active": "on", "new_secret": "",
        "delivery_mode": "json", "fallback_on_415": "on", "verify_tls": "on", "timeout_seconds": "30",
        "headers_text": "", "max_in_flight": "8", "breaker_failures": "5",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_an_invalid_secret_is_refused_in_admin(admin_client):
    response = admin_client.post(reverse("admin:webhooks_webhookendpoint_add"), endpoint_form(new_secret="hunter2"))
    assert response.status_code == 200 and "starts with" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


# secrets are write-only ------------------------------------------------------------------------------------
HEADER_VALUE = "erp-key-0123456789abcd"
SHORT_HEADER_VALUE = "pin-42"


@pytest.fixture
def signed_endpoint(db):
    return endpoint_create(name="acme", secret=SECRET, headers={"X-Api-Key": HEADER_VALUE, "X-Pin": SHORT_HEADER_VALUE})


@pytest.fixture
def viewer_client(client, django_user_model):
    """Staff who may only look at endpoints and deliveries."""
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_webhookendpoint", "view_webhookdelivery"])
    )
    client.force_login(viewer)
    return client


@pytest.fixture(params=["superuser", "view-only staff"])
def any_staff_client(request):
    return request.getfixturevalue("admin_client" if request.param == "superuser" else "viewer_client")


def change_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])


def change_post(client, endpoint: WebhookEndpoint, **overrides):
    """Save the change page as a browser would: the form as rendered, with `overrides` typed in."""
    form = client.get(change_url(endpoint)).context["adminform"].form
    data = endpoint_form(
        name=endpoint.name, url=endpoint.url, headers_text=form["headers_text"].value(), max_in_flight="8",
    )
    data.update(overrides)
    return client.post(change_url(endpoint), data)


def assert_no_secret_in(content: bytes) -> None:
    for secret in (SECRET, HEADER_VALUE, SHORT_HEADER_VALUE):
        assert secret.encode() not in content


@pytest.mark.parametrize(
    "page",
    ["change", "changelist", "history", "delivery change", "delivery changelist"],
)
def test_endpoint_secret_and_header_values_never_reach_a_page(any_staff_client, make_delivery, page):
    delivery = make_delivery(name="acme", secret=SECRET, headers={"X-Api-Key": HEADER_VALUE, "X-Pin": "pin-42"})
    send_due(delivery)
    url = {
        "change": change_url(delivery.endpoint),
        "changelist": ENDPOINTS,
        "history": reverse("admin:webhooks_webhookendpoint_history", args=[delivery.endpoint.pk]),
        "delivery change": reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]),
        "delivery changelist": DELIVERIES,
    }[page]
    response = any_staff_client.get(url)
    assert response.status_code == 200
    assert_no_secret_in(response.content)


def test_the_change_page_shows_the_secret_and_header_values_masked_to_their_last_4(any_staff_client, signed_endpoint):
    page = any_staff_client.get(change_url(signed_endpoint)).content.decode()
    assert "whsec_…" + SECRET[-4:] in page
    assert "X-Api-Key: ••••••abcd" in page
    assert re.search(r"X-Pin: ••••••[\s<]", page)  # short values are masked whole


def test_a_view_only_user_gets_masked_displays_and_no_secret_inputs(viewer_client, signed_endpoint):
    page = viewer_client.get(change_url(signed_endpoint)).content.decode()
    assert 'name="new_secret"' not in page and 'name="headers_text"' not in page
    assert "http://127.0.0.1:9/…" in page and signed_endpoint.url not in page


def test_the_add_page_holds_no_stored_secret(admin_client, signed_endpoint):
    response = admin_client.get(reverse("admin:webhooks_webhookendpoint_add"))
    assert response.status_code == 200
    assert_no_secret_in(response.content)


def test_a_form_error_page_still_holds_no_stored_secret(admin_client, signed_endpoint):
    response = change_post(admin_client, signed_endpoint, url="ftp://nowhere")
    assert response.status_code == 200 and "url" in response.context["adminform"].form.errors
    assert_no_secret_in(response.content)


def test_adding_an_endpoint_sets_its_secret_and_headers(admin_client):
    response = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        endpoint_form(new_secret=SECRET, headers_text=f"X-Api-Key: {HEADER_VALUE}"),
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.secret, endpoint.headers) == (SECRET, {"X-Api-Key": HEADER_VALUE})


def test_a_new_secret_replaces_the_stored_one(admin_client, signed_endpoint):
    fresh = signing.secret_generate()
    assert change_post(admin_client, signed_endpoint, new_secret=fresh).status_code == 302
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.secret == fresh


def test_a_blank_new_secret_keeps_the_stored_one(admin_client, signed_endpoint):
    assert change_post(admin_client, signed_endpoint, new_secret="", timeout_seconds="12").status_code == 302
    signed_endpoint.refresh_from_db()
    assert (signed_endpoint.secret, signed_endpoint.timeout_seconds) == (SECRET, 12)


def test_removing_the_secret_leaves_the_endpoint_unsigned(admin_client, signed_endpoint):
    assert change_post(admin_client, signed_endpoint, remove_secret="on").status_code == 302
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.secret == ""


def test_a_new_secret_and_removing_it_at_once_is_refused(admin_client, signed_endpoint):
    response = change_post(admin_client, signed_endpoint, new_secret=signing.secret_generate(), remove_secret="on")
    assert "Either type a new secret or remove the secret" in response.content.decode()
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.secret == SECRET


def test_the_masked_header_lines_as_shown_keep_every_value(admin_client, signed_endpoint):
    assert change_post(admin_client, signed_endpoint).status_code == 302
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.headers == {"X-Api-Key": HEADER_VALUE, "X-Pin": SHORT_HEADER_VALUE}


def test_a_header_value_typed_in_full_replaces_it_and_a_deleted_line_removes_its_header(admin_client, signed_endpoint):
    response = change_post(admin_client, signed_endpoint, headers_text="X-Api-Key: new-key-5678\nX-Tenant: acme")
    assert response.status_code == 302
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.headers == {"X-Api-Key": "new-key-5678", "X-Tenant": "acme"}


def test_a_header_error_names_the_line_and_keeps_the_stored_headers(admin_client, signed_endpoint):
    response = change_post(admin_client, signed_endpoint, headers_text="X-Api-Key: ••••••abce")
    assert "Line 1: type the new value of X-Api-Key in full" in response.content.decode()
    signed_endpoint.refresh_from_db()
    assert signed_endpoint.headers == {"X-Api-Key": HEADER_VALUE, "X-Pin": SHORT_HEADER_VALUE}


def test_the_secret_field_offers_a_generate_button_shaped_like_a_generated_secret(admin_client, signed_endpoint):
    page = admin_client.get(change_url(signed_endpoint)).content.decode()
    assert 'data-secret-prefix="whsec_" data-secret-bytes="32"' in page
    assert 'id="id_new_secret"' in page and "getRandomValues" in page


def test_deactivate_and_activate_actions_apply_to_the_very_next_ingress_request(admin_client):
    endpoint = endpoint_create(name="billing")
    assert endpoint.pk not in ingress_config_get().inactive_endpoint_ids

    action(admin_client, ENDPOINTS, "deactivate", [endpoint.pk])
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.deactivated_reason == "staff"
    assert "Deactivated in admin by" in endpoint.deactivated_note
    assert endpoint.pk in ingress_config_get().inactive_endpoint_ids

    action(admin_client, ENDPOINTS, "activate", [endpoint.pk])
    endpoint.refresh_from_db()
    assert endpoint.is_active and (endpoint.deactivated_reason, endpoint.deactivated_note) == ("", "")
    assert endpoint.pk not in ingress_config_get().inactive_endpoint_ids


def test_deactivating_the_default_endpoint_pauses_its_deliveries_and_keeps_it_default(admin_client):
    default = endpoint_create(name="default", is_default=True)
    waiting = deliveries(1, default)[0]
    WebhookDelivery.objects.filter(pk=waiting.pk).update(status="pending")
    page = action(admin_client, ENDPOINTS, "deactivate", [default.pk]).content.decode()
    default.refresh_from_db()
    assert (default.is_active, default.is_default) == (False, True)
    assert "wait, paused" in page
    assert WebhookDelivery.objects.get(pk=waiting.pk).status == "paused"


def test_cancel_paused_action_cancels_an_endpoints_paused_deliveries(admin_client):
    endpoint = endpoint_create(name="retired", is_active=False)
    paused, done = deliveries(2, endpoint)
    WebhookDelivery.objects.filter(pk=paused.pk).update(status="paused")
    WebhookDelivery.objects.filter(pk=done.pk).update(status="succeeded")
    page = action(admin_client, ENDPOINTS, "cancel_paused", [endpoint.pk]).content.decode()
    assert "1 paused deliveries cancelled" in page
    assert WebhookDelivery.objects.get(pk=paused.pk).status == "cancelled"
    assert WebhookDelivery.objects.get(pk=done.pk).status == "succeeded"


def test_send_test_webhook_action_queues_a_test_delivery_and_links_to_it(admin_client, receiver):
    endpoint = endpoint_create(url=receiver.url())
    page = action(admin_client, ENDPOINTS, "send_test_webhook", [endpoint.pk]).content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.is_test and delivery.email is None
    assert reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]) in page
    assert send_due(delivery) == "succeeded"


def test_replay_failed_action_asks_for_a_range_then_replays_it(admin_client):
    endpoint = endpoint_create()
    old, recent = deliveries(2, endpoint)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))

    form_page = action(admin_client, ENDPOINTS, "replay_failed", [endpoint.pk])
    assert 'name="since"' in form_page.content.decode() and form_page.templates[0].name.endswith("replay_failed.html")

    now = timezone.localtime(timezone.now(), timezone.get_fixed_timezone(0))
    result = action(
        admin_client, ENDPOINTS, "replay_failed", [endpoint.pk], apply="1",
        since=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        until=(now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    ).content.decode()
    assert "1 failed deliveries queued again" in result
    assert WebhookDelivery.objects.get(pk=recent.pk).status == "pending"
    assert WebhookDelivery.objects.get(pk=old.pk).status == "failed"


def test_replay_failed_rejects_a_backwards_range(admin_client):
    endpoint = endpoint_create()
    page = action(
        admin_client, ENDPOINTS, "replay_failed", [endpoint.pk], apply="1",
        since="2026-04-10T10:00", until="2026-04-10T09:00",
    ).content.decode()
    assert "must be before its end" in page


# deliveries -----------------------------------------------------------------------------------------------
def test_delivery_list_shows_the_columns_staff_need(admin_client):
    endpoint = endpoint_create(name="billing")
    delivery = deliveries(1, endpoint)[0]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=3, last_status_code=503,
                                                         failure_reason="upstream_server_error")
    page = admin_client.get(DELIVERIES).content.decode()
    for text in ("billing", delivery.email.subject, "Failed", "503", "upstream_server_error"):
        assert text in page


def test_delivery_list_defers_payloads_and_bodies_and_its_query_count_is_flat(admin_client):
    endpoint = endpoint_create()
    deliveries(2, endpoint)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(DELIVERIES)
    few = len(queries)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"payload_json"' not in sql and '"body"' not in sql
    deliveries(20, endpoint_create())
    assert query_count(admin_client, DELIVERIES) == few


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=failed", {"f"}), ("failure_reason=rate_limited", {"r"}), ("is_test__exact=1", {"t"}),
     ("q=needle", {"s"})],
)
def test_delivery_list_filters_and_search(admin_client, query, expected):
    endpoint = endpoint_create()
    made = {
        "f": WebhookDelivery.objects.create(email=inbound(1), endpoint=endpoint, status="failed"),
        "r": WebhookDelivery.objects.create(email=inbound(2), endpoint=endpoint, failure_reason="rate_limited"),
        "t": WebhookDelivery.objects.create(endpoint=endpoint, is_test=True, status="succeeded"),
        "s": WebhookDelivery.objects.create(email=inbound(3, "a needle here"), endpoint=endpoint, status="succeeded"),
    }
    response = admin_client.get(f"{DELIVERIES}?{query}")
    shown = {key for key, d in made.items() if d in response.context["cl"].result_list}
    assert shown == expected


def test_delivery_detail_shows_every_attempt_with_status_timing_and_the_payload(admin_client, make_delivery, receiver):
    receiver.answer(Answer(503, "down for maintenance"))
    delivery = make_delivery(secret=SECRET, headers={"X-Api-Key": "k-secret-123"})
    send_due(delivery)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    send_due(delivery)

    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()

    assert "HTTP 503" in page and "HTTP 200" in page and "down for maintenance" in page
    assert len(re.findall(r"<p>\d+ ms</p>", page)) == 2
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", page)) >= 2  # attempt start times, to the second
    assert "upstream_server_error" in page
    assert "&quot;email_id&quot;: &quot;ef626f4a3197550e73b6e5a1b3cdc39e&quot;" in page  # pretty-printed payload
    assert delivery.webhook_id in page
    assert "k-secret-123" not in page and SECRET not in page


def test_delivery_detail_is_read_only(admin_client, make_delivery):
    delivery = make_delivery()
    url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    assert 'name="_save"' not in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"status": "succeeded"}).status_code == 403
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


def test_replay_selected_reopens_finished_deliveries_and_explains_the_others(admin_client):
    endpoint = endpoint_create()
    failed, pending = deliveries(1, endpoint, "failed")[0], deliveries(1, endpoint, "pending")[0]

    page = action(admin_client, DELIVERIES, "replay", [failed.pk, pending.pk]).content.decode()

    assert "1 deliveries queued again" in page and f"Delivery #{pending.pk} is pending" in page
    failed.refresh_from_db()
    assert (failed.status, failed.series) == ("pending", 2)


def listed(response) -> set[int]:
    return {delivery.pk for delivery in response.context["cl"].result_list}


def test_delivery_search_finds_by_email_id_webhook_id_or_number_exactly(admin_client):
    endpoint = endpoint_create()
    wanted = WebhookDelivery.objects.create(email=inbound(1), endpoint=endpoint)
    WebhookDelivery.objects.create(email=inbound(2), endpoint=endpoint)
    for term in (wanted.email.email_id.upper(), wanted.webhook_id, str(wanted.pk), f"#{wanted.pk}"):
        assert listed(admin_client.get(DELIVERIES, {"q": term})) == {wanted.pk}, term


def test_delivery_search_by_address_finds_the_deliveries_of_that_sender(admin_client):
    endpoint = endpoint_create()
    email = inbound(1)
    InboundEmail.objects.filter(pk=email.pk).update(sender_email="compta@acme.fr")
    wanted = WebhookDelivery.objects.create(email=email, endpoint=endpoint)
    WebhookDelivery.objects.create(email=inbound(2), endpoint=endpoint)
    assert listed(admin_client.get(DELIVERIES, {"q": "Compta <COMPTA@acme.fr>"})) == {wanted.pk}


def test_delivery_search_by_word_looks_only_at_the_newest_deliveries_of_the_window(admin_client, monkeypatch):
    monkeypatch.setattr("core.admin.SEARCH_WINDOW", 2)
    endpoint = endpoint_create()
    old = WebhookDelivery.objects.create(email=inbound(1, "a needle, old"), endpoint=endpoint)
    new = WebhookDelivery.objects.create(email=inbound(2, "a needle, new"), endpoint=endpoint)
    WebhookDelivery.objects.create(email=inbound(3, "hay"), endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert listed(admin_client.get(DELIVERIES, {"q": "NEEDLE"})) == {new.pk}


@pytest.mark.parametrize("status", [s for s, _ in WebhookDelivery.Status.choices])
def test_the_status_filter_lists_the_deliveries_in_that_status(admin_client, status):
    endpoint = endpoint_create()
    made = {s: WebhookDelivery.objects.create(email=inbound(n), endpoint=endpoint, status=s)
            for n, (s, _) in enumerate(WebhookDelivery.Status.choices, start=1)}
    assert listed(admin_client.get(DELIVERIES, {"status__exact": status})) == {made[status].pk}
