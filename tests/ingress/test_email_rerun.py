"""Re-running a recorded e-mail through the pipeline (admin action `email_rerun`)."""

import pytest

from ingress.models import InboundEmail
from ingress.services import EmailRerunRefused, email_rerun
from routing.models import RoutingCondition, RoutingRule
from tests.factories import endpoint_create, flags_update, settings_update
from tests.history_factories import delivery_create, email_create, failed_attempt
from tests.queue import send_due
from webhooks.models import WebhookDelivery
from webhooks.services.queue import deliveries_claim

pytestmark = pytest.mark.django_db

RECADRAGE_SUBJECT = "Média Solution - Missions Recadrage - Lot 107"


def rule_create(endpoint, word: str, *, stop: bool = False) -> RoutingRule:
    rule = RoutingRule.objects.create(name=f"rule {word}", endpoint=endpoint, stop_processing=stop)
    RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value=word)
    return rule


def test_an_email_skipped_outside_the_window_is_delivered_now(default_endpoint, frozen_now):
    frozen_now(2026, 4, 10, 20, 0)
    settings_update(window_start="09h00", window_end="17h00")
    email = email_create(
        subject=RECADRAGE_SUBJECT, body="<p>À faire pour 14h30 https://www.dropbox.com/scl/fo/abc</p>",
        status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW,
    )
    result = email_rerun(email, by="operator")
    email.refresh_from_db()
    assert [d.endpoint_id for d in result.created] == [default_endpoint.pk]
    assert email.status == InboundEmail.Status.PROCESSED
    assert email.detector == "recadrage" and email.delivery_time == "14h30"
    assert email.webhooks_time_start == "maintenant" and email.webhooks_time_end == "17h00"
    assert email.decision["reruns"][0]["by"] == "operator"
    assert email.decision["reruns"][0]["created"] == [result.created[0].pk]


def test_the_new_delivery_is_due_at_once(default_endpoint):
    email = email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    result = email_rerun(email)
    assert [c.delivery_id for c in deliveries_claim(10).claims] == [result.created[0].pk]


def test_a_second_rerun_creates_no_duplicate(default_endpoint):
    email = email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    email_rerun(email)
    again = email_rerun(email)
    assert again.created == () and again.kept == 1
    assert WebhookDelivery.objects.filter(email=email).count() == 1
    assert len(InboundEmail.objects.get(pk=email.pk).decision["reruns"]) == 2


def test_only_endpoints_without_a_delivery_get_one(default_endpoint):
    billing = endpoint_create(name="billing")
    rule_create(billing, "facture")
    email = email_create(subject="Facture avril")
    failed = delivery_create(email, default_endpoint, attempts=[failed_attempt(500)])
    result = email_rerun(email)
    assert [d.endpoint_id for d in result.created] == [billing.pk]
    assert result.kept == 1
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.FAILED and failed.attempt_count == 1


def test_sending_disabled_refuses_and_changes_nothing(default_endpoint):
    settings_update(sending_enabled=False)
    email = email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    with pytest.raises(EmailRerunRefused, match="disabled"):
        email_rerun(email)
    assert not WebhookDelivery.objects.exists()
    assert InboundEmail.objects.get(pk=email.pk).status == InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW


def test_absence_days_do_not_hold_back_an_operator_rerun(default_endpoint, frozen_now):
    frozen_now(2026, 4, 11, 10, 0)  # a Saturday
    settings_update(absence_enabled=True, absence_days=["saturday"])
    assert len(email_rerun(email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)).created) == 1


def test_a_sender_still_not_allowed_stays_skipped(default_endpoint):
    settings_update(sender_allowlist=["boss@acme.fr"])
    email = email_create(status=InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED)
    assert email_rerun(email).created == ()
    assert InboundEmail.objects.get(pk=email.pk).status == InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED


def test_a_sender_allowed_since_is_delivered(default_endpoint):
    settings_update(sender_allowlist=["technique@media-solution.fr"])
    email = email_create(status=InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED)
    assert len(email_rerun(email).created) == 1


def test_an_email_without_links_is_delivered_once_links_are_not_required(default_endpoint):
    email = email_create(body="<p>Pas de lien</p>", links=[], status=InboundEmail.Status.SKIPPED_NO_LINKS)
    assert email_rerun(email).created == ()
    flags_update(allow_without_links=True)
    assert len(email_rerun(email).created) == 1
    assert InboundEmail.objects.get(pk=email.pk).status == InboundEmail.Status.PROCESSED


def test_a_stop_rule_without_endpoint_stops_it(default_endpoint):
    rule_create(None, "fichiers", stop=True)
    email = email_create(subject="Fichiers du jour", status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    assert email_rerun(email).created == ()
    assert InboundEmail.objects.get(pk=email.pk).status == InboundEmail.Status.STOPPED_BY_ROUTING_RULE


def test_a_rerun_routes_on_the_recipients_and_headers_the_script_sent(default_endpoint):
    missions = endpoint_create(name="missions")
    rule = RoutingRule.objects.create(name="missions alias", endpoint=missions)
    RoutingCondition.objects.create(rule=rule, field="recipient", operator="equals", value="missions+paris@acme.fr")
    email = email_create(
        recipients={"to": ["missions+paris@acme.fr"]}, status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW
    )
    created = email_rerun(email).created
    assert {d.endpoint_id for d in created} == {default_endpoint.pk, missions.pk}


def test_the_rerun_delivery_reaches_the_receiver(receiver):
    endpoint = endpoint_create(name="default", is_default=True, url=receiver.url("/hook"))
    email = email_create(subject="Lot 12", status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    delivery = email_rerun(email).created[0]
    assert delivery.endpoint_id == endpoint.pk
    assert send_due(delivery) == "succeeded"
    assert receiver.requests[0].json()["email_id"] == email.email_id


def test_a_deferred_email_with_all_its_deliveries_keeps_waiting(default_endpoint):
    email = email_create(status=InboundEmail.Status.DEFERRED)
    delivery_create(email, default_endpoint)
    assert email_rerun(email).created == ()
    assert InboundEmail.objects.get(pk=email.pk).status == InboundEmail.Status.DEFERRED
