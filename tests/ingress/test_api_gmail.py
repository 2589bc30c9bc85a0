"""POST /api/ingress/gmail: every row of SPEC §3.2, in order."""

import hashlib

import pytest
from django.utils import timezone

from ingress.models import InboundEmail
from routing.models import RoutingCondition, RoutingRule
from tests.database import database_read_only
from tests.factories import endpoint_create, flags_update, push_payload, settings_update
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

RECADRAGE_SUBJECT = "Média Solution - Missions Recadrage - Lot 107"
RECADRAGE_BODY = (
    '<p>À faire pour 14h30</p><a href="https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&amp;dl=0">Fichiers</a>'
)
DESABO_BODY = "<p>Se désabonner de la journée aux tarifs habituels https://www.dropbox.com/request/abc</p>"


# 1. token ---------------------------------------------------------------------------------------
def test_missing_authorization_is_401(push, default_endpoint):
    response = push(push_payload(), token=None)
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Unauthorized"}


def test_wrong_token_is_401(push, default_endpoint):
    assert push(push_payload(), token="nope").status_code == 401


def test_bearer_scheme_is_case_insensitive(push, default_endpoint):
    response = push(push_payload(), token=None, headers={"HTTP_AUTHORIZATION": "bEaReR test-token"})
    assert response.status_code == 200


def test_second_configured_token_is_accepted_for_rotation(push, default_endpoint):
    assert push(push_payload(), token="rotated-token").status_code == 200


@pytest.mark.parametrize("header", ["test-token", "Bearer", "Basic dGVzdA==", "Bearer tést-token", "Bearer \x00"])
def test_malformed_or_non_ascii_authorization_is_plain_401(push, default_endpoint, header):
    response = push(push_payload(), token=None, headers={"HTTP_AUTHORIZATION": header})
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"


def test_token_is_checked_before_the_body(push):
    assert push(None, token="nope", raw="not json").status_code == 401


@pytest.mark.parametrize("path", ["/api/ingress/gmail", "/api/ingress/gmail/batch"])
@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/*;q=0.5", "nonsense"])
def test_answers_are_json_whatever_the_client_accepts(push, default_endpoint, path, accept):
    payload = {"emails": [push_payload()]} if path.endswith("batch") else push_payload()

    response = push(payload, path=path, headers={"HTTP_ACCEPT": accept})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["success"] is True


# 2. JSON object ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"', "42", "", b"\xff\xfe{"])
def test_body_that_is_not_a_json_object_is_400(push, raw):
    response = push(None, raw=raw)
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Invalid JSON payload"}


def test_body_larger_than_ingress_max_bytes_is_413(push, settings):
    settings.INGRESS_MAX_BYTES = 1000
    response = push(push_payload(body="x" * 2000))
    assert response.status_code == 413
    assert response.json()["success"] is False


# 3. fields ----------------------------------------------------------------------------------------
def test_missing_sender_is_reported_before_missing_body(push):
    response = push({"subject": "x"})
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Missing field: sender"}


def test_missing_body_is_400(push):
    response = push({"sender": "a@b.fr"})
    assert response.json() == {"success": False, "message": "Missing field: body"}


@pytest.mark.parametrize("sender", ["", "   ", None])
def test_empty_sender_counts_as_missing(push, sender):
    response = push({"sender": sender, "body": "x"})
    assert response.json()["message"] == "Missing field: sender"


@pytest.mark.parametrize("field,value", [("sender", 12), ("body", ["x"]), ("subject", 3), ("date", {"a": 1})])
def test_field_of_the_wrong_type_is_400(push, field, value):
    response = push(push_payload(**{field: value}))
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_unknown_keys_are_ignored(push, default_endpoint):
    assert push(push_payload(snippet="hello", extra={"x": 1})).status_code == 200


# 4. ingress flag ----------------------------------------------------------------------------------
def test_ingress_disabled_is_409_and_nothing_is_recorded(push, default_endpoint):
    flags_update(ingress_enabled=False)
    response = push(push_payload())
    assert response.status_code == 409
    assert response.json() == {"success": False, "message": "Gmail ingress disabled"}
    assert not InboundEmail.objects.exists()


def test_flag_change_applies_to_the_very_next_request(push, default_endpoint):
    assert push(push_payload()).status_code == 200
    flags_update(ingress_enabled=False)
    assert push(push_payload()).status_code == 409


# 5. rate limit -----------------------------------------------------------------------------------
def test_sender_over_hourly_limit_gets_429_with_retry_after(push, default_endpoint):
    settings_update(rate_limit_per_sender_per_hour=2)
    assert [push(push_payload()).status_code for _ in range(2)] == [200, 200]
    response = push(push_payload())
    assert response.status_code == 429
    assert response.json() == {"success": False, "message": "Rate limit exceeded"}
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_rate_limit_counts_each_sender_separately(push, default_endpoint):
    settings_update(rate_limit_per_sender_per_hour=1)
    assert push(push_payload(sender="a@x.fr")).status_code == 200
    assert push(push_payload(sender="b@x.fr")).status_code == 200


# 6. dedup ---------------------------------------------------------------------------------------------
def test_second_push_of_the_same_email_is_already_processed(push, default_endpoint):
    payload = push_payload()
    first = push(payload).json()
    second = push(payload)
    assert second.status_code == 200
    assert second.json() == {"success": True, "status": "already_processed", "email_id": first["email_id"]}
    assert WebhookDelivery.objects.count() == 1


def test_dedup_switched_off_processes_the_same_email_again(push, default_endpoint):
    flags_update(email_id_dedup_enabled=False)
    payload = push_payload()
    assert push(payload).json()["status"] == "processed"
    assert push(payload).json()["status"] == "processed"
    assert WebhookDelivery.objects.count() == 2


def test_email_id_is_md5_of_message_id_when_given(push, default_endpoint):
    response = push(push_payload(message_id="18f2a9c0d1e2f3a4"))
    assert response.json()["email_id"] == hashlib.md5(b"18f2a9c0d1e2f3a4").hexdigest()


def test_email_id_without_message_id_keeps_the_legacy_formula(push, default_endpoint):
    payload = push_payload(subject="Hello", sender="Jane <Jane@Example.COM>", date="2026-01-01T00:00:00Z")
    assert push(payload).json()["email_id"] == "9f12a51ec1417a6c1869452c217da936"


# 7. allowlist --------------------------------------------------------------------------------------
def test_sender_outside_the_allowlist_is_skipped_and_recorded(push, default_endpoint):
    settings_update(sender_allowlist=["boss@acme.fr"])
    payload = push_payload(sender="Intruder <intruder@evil.fr>")
    response = push(payload)
    assert response.json()["status"] == "skipped_sender_not_allowed"
    assert InboundEmail.objects.get().status == "skipped_sender_not_allowed"
    assert push(payload).json()["status"] == "already_processed"


def test_allowlisted_sender_matches_case_insensitively(push, default_endpoint):
    settings_update(sender_allowlist=["Technique@Media-Solution.fr"])
    assert push(push_payload()).json()["status"] == "processed"


# 8. sending switch and absence ------------------------------------------------------------------
def test_sending_disabled_is_409_and_not_recorded(push, default_endpoint):
    settings_update(sending_enabled=False)
    payload = push_payload()
    response = push(payload)
    assert response.status_code == 409
    assert response.json() == {"success": False, "message": "Webhook sending disabled"}
    settings_update(sending_enabled=True)
    assert push(payload).json()["status"] == "processed"


def test_absence_day_in_the_configured_zone_is_409(push, default_endpoint, frozen_now):
    frozen_now(2026, 4, 11, 0, 30)  # Saturday in Paris (still Friday in UTC)
    settings_update(absence_enabled=True, absence_days=["saturday"])
    assert push(push_payload()).json()["message"] == "Webhook sending disabled"


def test_absence_beats_an_urgent_desabo(push, default_endpoint, frozen_now):
    frozen_now(2026, 4, 12, 10, 0)  # Sunday
    settings_update(absence_enabled=True, absence_days=["sunday"])
    response = push(push_payload(subject="URGENT désabonnement", body=DESABO_BODY))
    assert response.status_code == 409


# 9. time window --------------------------------------------------------------------------------------
@pytest.fixture
def window(frozen_now):
    settings_update(window_start="09h00", window_end="17h00")
    return frozen_now


def test_inside_the_window_payload_says_maintenant(push, default_endpoint, window):
    window(2026, 4, 10, 10, 0)
    push(push_payload())
    email = InboundEmail.objects.get()
    assert (email.webhooks_time_start, email.webhooks_time_end) == ("maintenant", "17h00")


def test_recadrage_outside_the_window_is_skipped_and_recorded(push, default_endpoint, window):
    window(2026, 4, 10, 18, 0)
    response = push(push_payload(subject=RECADRAGE_SUBJECT, body=RECADRAGE_BODY))
    assert response.json()["status"] == "skipped_outside_time_window"
    assert InboundEmail.objects.get().detector == "recadrage"
    assert not WebhookDelivery.objects.exists()


def test_desabo_before_the_window_is_delivered_with_the_start_time(push, default_endpoint, window):
    window(2026, 4, 10, 7, 0)
    assert push(push_payload(subject="Info", body=DESABO_BODY)).json()["status"] == "processed"
    assert InboundEmail.objects.get().webhooks_time_start == "09h00"


def test_desabo_after_the_window_is_delivered_without_start_time(push, default_endpoint, window):
    window(2026, 4, 10, 20, 0)
    assert push(push_payload(subject="Info", body=DESABO_BODY)).json()["status"] == "processed"
    assert InboundEmail.objects.get().webhooks_time_start == ""


def test_urgent_desabo_outside_the_window_is_409(push, default_endpoint, window):
    window(2026, 4, 10, 20, 0)
    response = push(push_payload(subject="URGENT", body=DESABO_BODY))
    assert response.status_code == 409
    assert response.json()["message"] == "Outside time window (DESABO urgent)"
    assert not InboundEmail.objects.exists()


def test_undetected_email_outside_the_window_is_409(push, default_endpoint, window):
    window(2026, 4, 10, 20, 0)
    response = push(push_payload())
    assert (response.status_code, response.json()["message"]) == (409, "Outside time window")


def test_defer_policy_accepts_and_schedules_at_the_window_opening(push, default_endpoint, window):
    window(2026, 4, 10, 20, 0)
    settings_update(outside_window_policy="defer")
    body = push(push_payload()).json()
    assert body["status"] == "deferred"
    assert body["deliver_after"].startswith("2026-04-11T09:00:00")
    due = WebhookDelivery.objects.get().next_attempt_at
    assert due.isoformat().startswith("2026-04-11T07:00:00")  # 09:00 Paris in UTC


# 10. links ------------------------------------------------------------------------------------------------
def test_email_without_provider_link_is_skipped_and_recorded(push, default_endpoint):
    response = push(push_payload(body="<p>Bonjour, rien à télécharger</p>"))
    assert response.json()["status"] == "skipped_no_links"
    assert InboundEmail.objects.get().status == "skipped_no_links"


def test_allow_without_links_delivers_linkless_email(push, default_endpoint):
    flags_update(allow_without_links=True)
    assert push(push_payload(body="<p>Bonjour</p>")).json()["status"] == "processed"


# 11. routing --------------------------------------------------------------------------------------------
def test_stop_rule_without_endpoint_answers_stopped_by_routing_rule(push, default_endpoint):
    rule = RoutingRule.objects.create(name="Drop newsletters", stop_processing=True)
    RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value="newsletter")
    response = push(push_payload(subject="Newsletter d'avril"))
    assert response.json()["status"] == "stopped_by_routing_rule"
    assert not WebhookDelivery.objects.exists()


def test_matching_rule_adds_its_endpoint_beside_the_default(push, default_endpoint):
    billing = endpoint_create(name="billing")
    rule = RoutingRule.objects.create(name="Billing", endpoint=billing, priority="high")
    RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value="facture")
    body = push(push_payload(subject="Votre facture")).json()
    assert sorted(d["endpoint"] for d in body["deliveries"]) == ["billing", "default"]
    assert WebhookDelivery.objects.get(endpoint=billing).routing_rule == {
        "id": rule.pk, "name": "Billing", "priority": "high"
    }


# 12. accepted -----------------------------------------------------------------------------------------
def test_accepted_email_is_recorded_with_a_pending_delivery_due_at_once(push, default_endpoint):
    response = push(push_payload(), headers={"HTTP_X_SOURCE": "GoogleAppsScript"})
    body = response.json()
    delivery = WebhookDelivery.objects.get()
    assert response.status_code == 200
    assert body == {
        "success": True,
        "status": "processed",
        "email_id": body["email_id"],
        "deliveries": [{"id": delivery.pk, "endpoint": "default"}],
    }
    email = InboundEmail.objects.get()
    assert (email.status, email.source, delivery.status) == ("processed", "GoogleAppsScript", "pending")
    assert delivery.next_attempt_at <= timezone.now()


def test_without_any_default_endpoint_and_no_matching_rule_the_push_is_refused_and_not_recorded(push):
    endpoint_create(name="billing")
    response = push(push_payload())
    assert (response.status_code, response.json()) == (409, {"success": False, "message": "No active endpoint"})
    assert not InboundEmail.objects.exists()


def test_an_inactive_default_endpoint_still_receives_the_email_as_a_paused_delivery(push, default_endpoint):
    default_endpoint.is_active = False
    default_endpoint.save()
    body = push(push_payload()).json()
    assert body["status"] == "processed" and [d["endpoint"] for d in body["deliveries"]] == ["default"]
    assert WebhookDelivery.objects.get().status == "paused"


def test_accepted_email_records_links_and_preview_from_the_text_view(push, default_endpoint):
    push(push_payload(body="<div>Bonjour&nbsp;!</div><a href='https://www.dropbox.com/s/x/f.zip?dl=0'>f</a>"))
    email = InboundEmail.objects.get()
    assert email.body_preview.startswith("Bonjour !")
    assert email.links[0]["provider"] == "dropbox"


def test_unexpected_error_is_500_internal_error(push, default_endpoint, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("ingress.api.views.email_ingest", explode)
    response = push(push_payload())
    assert response.status_code == 500
    assert response.json() == {"success": False, "message": "Internal error"}


# batch ------------------------------------------------------------------------------------------------
def test_batch_answers_each_item_with_its_code(push, default_endpoint):
    good = push_payload()
    response = push({"emails": [good, {"sender": "a@b.fr"}, good, "junk"]}, path="/api/ingress/gmail/batch")
    results = response.json()["results"]
    assert response.status_code == 200
    assert [(r["code"], r.get("status") or r.get("message")) for r in results] == [
        (200, "processed"),
        (400, "Missing field: body"),
        (200, "already_processed"),
        (400, "Invalid JSON payload"),
    ]


def test_batch_of_more_than_50_is_400(push):
    response = push({"emails": [push_payload() for _ in range(51)]}, path="/api/ingress/gmail/batch")
    assert response.status_code == 400


def test_batch_item_over_the_rate_limit_carries_retry_after(push, default_endpoint):
    settings_update(rate_limit_per_sender_per_hour=1)
    response = push({"emails": [push_payload(), push_payload()]}, path="/api/ingress/gmail/batch")
    first, second = response.json()["results"]
    assert (first["code"], second["code"]) == (200, 429)
    assert "retry_after" not in first
    assert 1 <= second["retry_after"] <= 3600


@pytest.mark.parametrize("path", ["/api/ingress/gmail", "/api/ingress/gmail/batch"])
def test_a_request_over_the_size_limit_names_the_limit(push, settings, path):
    settings.INGRESS_MAX_BYTES = 1000
    payload = push_payload(body="x" * 2000)
    response = push({"emails": [payload]} if path.endswith("batch") else payload, path=path)
    assert response.status_code == 413
    assert response.json() == {"success": False, "message": "Payload too large", "max_bytes": 1000}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/ingress/gmail", "/api/ingress/gmail/batch"])
def test_a_database_that_cannot_take_the_write_is_503_with_retry_after(push, default_endpoint, path):
    payload = {"emails": [push_payload(), push_payload()]} if path.endswith("batch") else push_payload()
    with database_read_only():
        response = push(payload, path=path)
    assert response.status_code == 503
    assert response.json() == {"success": False, "message": "Service unavailable"}
    assert response["Retry-After"] == "5"
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("raw", "line"),
    [("not json", "INGRESS: 400 Invalid JSON payload"), ('{"body": "x"}', "INGRESS: 400 Missing field: sender")],
)
def test_each_400_is_logged_as_the_legacy_alert_line(push, caplog, raw, line):
    with caplog.at_level("WARNING", logger="ingress"):
        assert push(None, raw=raw).status_code == 400
    assert line in caplog.messages


def test_a_400_batch_item_is_logged_too(push, caplog):
    with caplog.at_level("WARNING", logger="ingress"):
        push({"emails": ["junk"]}, path="/api/ingress/gmail/batch")
    assert "INGRESS: 400 Invalid JSON payload" in caplog.messages
