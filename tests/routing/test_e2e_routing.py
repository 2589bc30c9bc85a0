"""End to end: rules configured in the real service (gunicorn + worker) select what each receiver gets."""

import json
import time
import uuid

import pytest

from tests.service import LiveService

pytestmark = pytest.mark.e2e

LINK = '<a href="https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&amp;dl=0">Fichiers</a>'

CONFIGURE = """
import json
from routing.models import RoutingCondition, RoutingRule
from routing.services import rule_save
from webhooks.models import WebhookEndpoint

def endpoint(name, url):
    e = WebhookEndpoint(name=name, url=url)
    e.full_clean()
    e.save()
    return e

def rule(name, conditions, **fields):
    r = RoutingRule(name=name, **fields)
    r.full_clean()
    rule_save(r)
    for field, operator, value in conditions:
        c = RoutingCondition(rule=r, field=field, operator=operator, value=value)
        c.full_clean()
        c.save()
    return r

billing, support = endpoint("billing", "{billing}"), endpoint("support", "{support}")
ids = {{
    "billing": rule("Billing", [("subject", "contains", "facture")], endpoint=billing, priority="high",
                    stop_processing=True).pk,
    "support": rule("Support", [("body", "regex", r"\\bassistance\\b")], endpoint=support).pk,
    "drop": rule("Drop newsletters", [("subject", "starts_with", "newsletter")], stop_processing=True).pk,
}}
print(json.dumps(ids))
"""


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/default")).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def rule_ids(service, receiver_live):
    code = CONFIGURE.format(billing=receiver_live.url("/billing"), support=receiver_live.url("/support"))
    return json.loads(service.shell(code).strip().splitlines()[-1])


def push(service, subject, body="<p>Bonjour</p>"):
    response = service.push(
        {"sender": "Jean <jean@client.fr>", "subject": subject, "body": body + LINK, "message_id": uuid.uuid4().hex}
    )
    assert response.status_code == 200, response.text
    return response.json()


def subjects(receiver, path):
    return sorted(r.json()["subject"] for r in receiver.wait_for(0, timeout=0, path=path))


def test_each_endpoint_receives_exactly_the_emails_its_rules_select(service, receiver_live, rule_ids):
    assert push(service, "Votre FACTURÉ d'avril")["status"] == "processed"
    assert push(service, "Question", body="<p>Besoin d'<b>assistance</b> urgente</p>")["status"] == "processed"
    assert push(service, "Bonjour")["status"] == "processed"
    assert push(service, "Newsletter de mai")["status"] == "stopped_by_routing_rule"

    for path, count in (("/billing", 1), ("/support", 1), ("/default", 2)):
        assert len(receiver_live.wait_for(count, timeout=20, path=path)) >= count, service.log()[-3000:]
    time.sleep(1)  # anything wrongly routed would have arrived by now
    assert subjects(receiver_live, "/billing") == ["Votre FACTURÉ d'avril"]
    assert subjects(receiver_live, "/support") == ["Question"]
    assert subjects(receiver_live, "/default") == ["Bonjour", "Question"]

    billing = receiver_live.wait_for(1, path="/billing")[0].json()
    support = receiver_live.wait_for(1, path="/support")[0].json()
    assert billing["routing_rule"] == {"id": rule_ids["billing"], "name": "Billing", "priority": "high"}
    assert support["routing_rule"] == {"id": rule_ids["support"], "name": "Support", "priority": "normal"}
    assert all("routing_rule" not in r.json() for r in receiver_live.wait_for(2, path="/default"))


def test_a_rule_edited_in_the_service_applies_to_the_next_push_on_every_worker(service, receiver_live, rule_ids):
    before_billing = len(subjects(receiver_live, "/billing"))
    before_default = len(subjects(receiver_live, "/default"))
    service.shell(
        "from routing.models import RoutingRule as R;"
        f"r = R.objects.get(pk={rule_ids['billing']}); r.is_active = False; r.save()"
    )
    # Two gunicorn workers: several pushes reach both, and each must already see the edit.
    for n in range(4):
        assert push(service, f"Facture {n}")["status"] == "processed"
    assert len(receiver_live.wait_for(before_default + 4, timeout=20, path="/default")) == before_default + 4
    time.sleep(1)
    assert len(subjects(receiver_live, "/billing")) == before_billing
