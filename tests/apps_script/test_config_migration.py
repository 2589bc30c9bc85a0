"""The operator's switch-over, end to end: export the configuration from one instance, import it into a
fresh one, and the Apps Script (run under Node.js) delivers labelled mail through it exactly once.
"""

import base64
import time

import pytest
from standardwebhooks import Webhook

from tests.apps_script.script import item_answers, labels_of, mailbox, message, relabel, script_run, thread
from tests.service import TOKEN, LiveService

pytestmark = [pytest.mark.e2e, pytest.mark.needs("node")]

SIGNING_SECRET = "whsec_" + base64.b64encode(b"migration-signing-secret-32bytes").decode()

CONFIGURE_FIRST_INSTANCE = """
from routing.models import RoutingCondition, RoutingRule
from webhooks.models import DeliverySettings, WebhookEndpoint
from configuration.models import RuntimeFlags

default = WebhookEndpoint.objects.get(is_default=True)
default.secret = {secret!r}
default.save()
billing = WebhookEndpoint.objects.create(name="billing", url={billing_url!r}, headers={{"X-Api-Key": "billing-key"}})
rule = RoutingRule.objects.create(name="Billing", position=10, endpoint=billing, priority="high")
RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value="facture")
prefs = DeliverySettings.load()
prefs.retry_schedule_seconds = [0, 2, 30]
prefs.save()
flags = RuntimeFlags.load()
flags.allow_without_links = True
flags.save()
"""


def test_a_configuration_moved_to_a_fresh_instance_delivers_labelled_mail_exactly_once(receiver_live):
    # The source instance only needs its database: migrate and seed it as a deployment does.
    first = LiveService(WEBHOOK_URL=receiver_live.url("/default"))
    first.manage("migrate", "--noinput", "--verbosity", "0")
    first.manage("bootstrap")
    first.shell(CONFIGURE_FIRST_INSTANCE.format(secret=SIGNING_SECRET, billing_url=receiver_live.url("/billing")))
    exported = first.manage("export_config", "--include-secrets")
    assert SIGNING_SECRET in exported and "billing-key" in exported

    # No WEBHOOK_URL: the fresh instance has no endpoint until the import creates them.
    fresh = LiveService().start()
    try:
        fresh.manage("import_config", "-", input=exported)
        assert fresh.manage("export_config", "--include-secrets") == exported

        properties = {"SIGNAL_SERVER_URL": fresh.url("/"), "PROCESS_API_TOKEN": TOKEN}
        scenario = mailbox(
            properties,
            thread("t1", message("gmail-invoice-1", "Votre facture d'avril", link=False)),
            thread("t2", message("gmail-hello-1", "Bonjour", link=False), message("gmail-hello-2", "Re: Bonjour")),
        )
        state = script_run(scenario)

        assert [a["status"] for a in item_answers(state)] == ["processed"] * 3
        assert labels_of(state, "t1") == labels_of(state, "t2") == []
        default = receiver_live.wait_for(3, timeout=15, path="/default")
        billing = receiver_live.wait_for(1, timeout=15, path="/billing")
        assert sorted(r.json()["subject"] for r in default) == ["Bonjour", "Re: Bonjour", "Votre facture d'avril"]
        assert [r.json()["subject"] for r in billing] == ["Votre facture d'avril"]
        assert billing[0].json()["routing_rule"]["name"] == "Billing"
        assert billing[0].headers["X-Api-Key"] == "billing-key"
        for request in default:
            Webhook(SIGNING_SECRET).verify(request.body, {k.lower(): v for k, v in request.headers.items()})

        rerun = script_run(relabel(state, "t1", "t2"))

        assert [a["status"] for a in item_answers(rerun)] == ["already_processed"] * 3
        time.sleep(1)
        assert len(receiver_live.wait_for(0, timeout=0, path="/default")) == 3
        assert len(receiver_live.wait_for(0, timeout=0, path="/billing")) == 1
    finally:
        fresh.stop()
