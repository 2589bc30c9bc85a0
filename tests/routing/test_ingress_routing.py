"""Rules applied by POST /api/ingress/gmail (SPEC §3.2 step 11 and §6): after every gate, one delivery per
distinct endpoint, `stopped_by_routing_rule`, and `routing_rule` in what is sent."""

import time

import pytest
from django.urls import reverse

from ingress.models import InboundEmail
from ingress.services import InboundPush, email_ingest
from routing.models import RoutingCondition, RoutingRule
from tests.factories import endpoint_create, push_payload, settings_update
from tests.queue import send_due
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def rule_create(name, *conditions, **fields):
    rule = RoutingRule.objects.create(name=name, **fields)
    for field, operator, value, *header_name in conditions:
        RoutingCondition.objects.create(
            rule=rule, field=field, operator=operator, value=value, header_name=header_name[0] if header_name else ""
        )
    return rule


@pytest.fixture
def billing(db):
    return endpoint_create(name="billing")


def endpoints_of(response) -> list[str]:
    return sorted(d["endpoint"] for d in response.json()["deliveries"])


def test_stop_rule_sends_only_to_its_endpoint(push, default_endpoint, billing):
    rule = rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, stop_processing=True)
    response = push(push_payload(subject="Votre FACTURÉ d'avril"))
    assert response.json()["status"] == "processed"
    assert endpoints_of(response) == ["billing"]
    assert WebhookDelivery.objects.get().routing_rule == {"id": rule.pk, "name": "Billing", "priority": "normal"}


def test_e_mail_no_rule_matches_goes_to_the_default_endpoint_without_routing_rule(push, default_endpoint, billing):
    rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, stop_processing=True)
    response = push(push_payload(subject="Bonjour"))
    assert endpoints_of(response) == ["default"]
    assert WebhookDelivery.objects.get().routing_rule is None


def test_one_delivery_per_distinct_endpoint(push, default_endpoint, billing):
    first = rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing)
    rule_create("Billing again", ("body", "contains", "montant"), endpoint=billing)
    rule_create("Default too", ("subject", "contains", "facture"), endpoint=default_endpoint)
    response = push(push_payload(subject="Facture", body=push_payload()["body"] + "<p>Montant : 12 €</p>"))
    assert endpoints_of(response) == ["billing", "default"]
    assert WebhookDelivery.objects.get(endpoint=billing).routing_rule["id"] == first.pk


def test_stop_rule_without_endpoint_answers_stopped_by_routing_rule(push, default_endpoint):
    rule = rule_create("Drop newsletters", ("subject", "contains", "newsletter"), stop_processing=True)
    response = push(push_payload(subject="Newsletter d'avril"))
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "status": "stopped_by_routing_rule",
        "email_id": response.json()["email_id"],
    }
    email = InboundEmail.objects.get()
    assert email.status == "stopped_by_routing_rule"
    assert email.decision["stopped_by"] == {"id": rule.pk, "name": "Drop newsletters", "priority": "normal"}
    assert not WebhookDelivery.objects.exists()


def test_a_stop_rule_whose_endpoint_is_inactive_waits_paused_rather_than_falls_back_to_default(push, default_endpoint):
    paused = endpoint_create(name="paused", is_active=False)
    rule_create("Billing", ("subject", "contains", "facture"), endpoint=paused, stop_processing=True)
    response = push(push_payload(subject="facture"))
    assert response.json()["status"] == "processed"
    assert endpoints_of(response) == ["paused"]
    assert WebhookDelivery.objects.get().status == "paused"
    decision = InboundEmail.objects.get().decision
    assert decision["paused_endpoints"] == [paused.pk]
    assert "inactive" in decision["routing_warnings"][0]


def test_body_conditions_see_the_text_view_of_the_html_body(push, default_endpoint, billing):
    rule_create("Tarifs", ("body", "contains", "tarifs habituels"), endpoint=billing, stop_processing=True)
    body = push_payload()["body"] + "<p>aux <b>TARIFS</b>&nbsp;habituels</p>"
    assert endpoints_of(push(push_payload(body=body))) == ["billing"]


def test_sender_equals_matches_the_address_of_the_from_value(push, default_endpoint, billing):
    rule_create("Client", ("sender", "equals", "compta@client.fr"), endpoint=billing, stop_processing=True)
    assert endpoints_of(push(push_payload(sender="Service Compta <Compta@Client.fr>"))) == ["billing"]


def test_rules_never_bypass_the_sending_switch(push, default_endpoint, billing):
    rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, stop_processing=True)
    settings_update(sending_enabled=False)
    response = push(push_payload(subject="facture"))
    assert response.status_code == 409
    assert not InboundEmail.objects.exists()


def test_rules_never_bypass_the_sender_allowlist(push, default_endpoint, billing):
    rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, stop_processing=True)
    settings_update(sender_allowlist=["someone@else.fr"])
    assert push(push_payload(subject="facture")).json()["status"] == "skipped_sender_not_allowed"


def test_rules_never_bypass_deduplication(push, default_endpoint):
    payload = push_payload(subject="newsletter")
    assert push(payload).json()["status"] == "processed"
    rule_create("Drop newsletters", ("subject", "contains", "newsletter"), stop_processing=True)
    assert push(payload).json()["status"] == "already_processed"


def test_an_edited_rule_applies_to_the_very_next_push(push, default_endpoint, billing):
    rule = rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, stop_processing=True)
    assert endpoints_of(push(push_payload(subject="devis"))) == ["default"]
    condition = rule.conditions.get()
    condition.value = "devis"
    condition.save()
    assert endpoints_of(push(push_payload(subject="devis"))) == ["billing"]
    rule.is_active = False
    rule.save()
    assert endpoints_of(push(push_payload(subject="devis"))) == ["default"]


def test_catastrophic_regex_cannot_stall_ingress(push, default_endpoint, billing):
    # Saved without validation (as a direct database edit would): the runtime bound still holds.
    rule_create("Slow", ("body", "regex", r"(a+)+$"), endpoint=billing, stop_processing=True)
    started = time.perf_counter()
    response = push(push_payload(body=push_payload()["body"] + "<p>" + "a" * 5000 + "!</p>"))
    assert time.perf_counter() - started < 3
    assert endpoints_of(response) == ["default"]
    assert "timed out" in InboundEmail.objects.get().decision["routing_warnings"][0]


def test_matched_rules_are_recorded_in_the_decision(push, default_endpoint, billing):
    rule = rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, priority="high")
    push(push_payload(subject="facture"))
    decision = InboundEmail.objects.get().decision
    assert decision["matched_rules"] == [{"id": rule.pk, "name": "Billing", "priority": "high"}]
    assert sorted(decision["endpoints"]) == sorted([billing.pk, default_endpoint.pk])


def test_payload_sent_because_of_a_rule_carries_routing_rule(push, receiver, default_endpoint):
    billing = endpoint_create(name="billing", url=receiver.url("/billing"))
    rule = rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing, priority="high")
    push(push_payload(subject="facture"))
    send_due(WebhookDelivery.objects.get(endpoint=billing))
    assert receiver.requests[0].json()["routing_rule"] == {"id": rule.pk, "name": "Billing", "priority": "high"}


def test_payload_sent_to_the_default_endpoint_has_no_routing_rule(push, receiver):
    default = endpoint_create(name="default", is_default=True, url=receiver.url("/default"))
    push(push_payload(subject="Bonjour"))
    send_due(WebhookDelivery.objects.get(endpoint=default))
    assert "routing_rule" not in receiver.requests[0].json()


def test_staff_add_a_billing_stop_rule_in_admin_test_it_and_the_next_push_reaches_only_billing(
    push, admin_client, default_endpoint, billing
):
    form = {
        "name": "Billing", "position": "", "is_active": "on", "match": "all", "endpoint": billing.pk,
        "priority": "normal", "stop_processing": "on",
        "conditions-TOTAL_FORMS": "1", "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0", "conditions-MAX_NUM_FORMS": "1000",
        "conditions-0-field": "subject", "conditions-0-operator": "contains", "conditions-0-value": "facture",
    }
    assert admin_client.post(reverse("admin:routing_routingrule_add"), form).status_code == 302
    sample = {"email": "", "sender": "a@b.fr", "subject": "Facture 12", "body": "<p>x</p>"}
    preview = admin_client.post(reverse("admin:ingress_rules_test"), sample).context["explanation"]
    assert [t.endpoint_id for t in preview.decision.targets] == [billing.pk]
    assert endpoints_of(push(push_payload(subject="Facture 12"))) == ["billing"]


# --- conditions on what the e-mail is ----------------------------------------------------------------------
RECADRAGE_SUBJECT = "Média Solution - Missions Recadrage - Lot 107"
RECADRAGE_BODY = '<p>À faire pour 14h30</p><a href="https://www.dropbox.com/scl/fo/abc/def?rlkey=x&amp;dl=0">Fichiers</a>'


def ingest(**facts):
    """A push with what newer Apps Scripts also send (recipients, headers), through the whole pipeline."""
    payload = push_payload()
    fields = {key: payload[key] for key in ("sender", "body", "subject", "date")}
    result = email_ingest(InboundPush(**fields, **facts))
    return sorted(d["endpoint"] for d in result.body["deliveries"])


def test_a_detector_rule_sends_recadrage_missions_to_their_endpoint(push, default_endpoint):
    missions = endpoint_create(name="missions")
    rule_create("Recadrage", ("detector", "equals", "recadrage"), endpoint=missions, stop_processing=True)
    recadrage = push(push_payload(subject=RECADRAGE_SUBJECT, body=RECADRAGE_BODY))
    other = push(push_payload())
    assert endpoints_of(recadrage) == ["missions"]
    assert endpoints_of(other) == ["default"]
    assert InboundEmail.objects.get(detector="recadrage").decision["matched_rules"][0]["name"] == "Recadrage"


def test_a_recipient_rule_routes_by_the_alias_the_email_was_delivered_to(default_endpoint):
    paris = endpoint_create(name="paris")
    rule_create("Paris", ("recipient", "contains", "+paris@"), endpoint=paris, stop_processing=True)
    assert ingest(recipients={"to": ["equipe@acme.fr"], "delivered_to": ["missions+paris@acme.fr"]}) == ["paris"]
    # Reply-To says where answers go, not who received the e-mail.
    assert ingest(recipients={"to": ["missions+lyon@acme.fr"], "reply_to": ["missions+paris@acme.fr"]}) == ["default"]
    assert ingest() == ["default"]


def test_a_header_rule_routes_on_a_header_the_script_sent(default_endpoint):
    lists = endpoint_create(name="lists")
    rule_create("Lists", ("header", "regex", r"news\.acme\.fr", "list-id"), endpoint=lists, stop_processing=True)
    assert ingest(headers={"list-id": "Acme news <news.acme.fr>"}) == ["lists"]
    assert ingest(headers={"x-mailer": "news.acme.fr"}) == ["default"]
