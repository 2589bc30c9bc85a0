"""The payload's keys added since the legacy app (body_text, recipients, attachments, links_by_provider) and its
JSON Schema (docs/payload.schema.json), checked against deliveries a real receiver got."""

import json

import pytest
from jsonschema import Draft202012Validator

from tests.factories import endpoint_create
from tests.queue import send_due
from tests.service import ROOT, LiveService
from webhooks.payloads import BODY_TEXT_MAX_CHARS
from webhooks.services.deliveries import endpoint_test_send

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((ROOT / "docs" / "payload.schema.json").read_text("utf-8"))
DROPBOX = "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0"
WETRANSFER = "https://we.tl/t-abc"
RECIPIENTS = {
    "to": ["missions+paris@acme.fr", "marie@acme.fr"], "cc": ["jean@acme.fr"],
    "reply_to": ["planning@acme.fr"], "delivered_to": ["signal@acme.fr"],
}
ATTACHMENT = {"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"}


def sent(make_delivery, receiver, email, **email_fields) -> dict:
    """The payload the receiver got for the e-mail (with these fields changed)."""
    for name, value in email_fields.items():
        setattr(email, name, value)
    email.save()
    assert send_due(make_delivery()) == "succeeded"
    return receiver.requests[-1].json()


def schema_errors(payload: dict) -> list[str]:
    """What the JSON Schema refuses in the payload, and any key it does not document."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(SCHEMA).iter_errors(payload)]
    return errors + [f"undocumented key {key}" for key in payload if key not in SCHEMA["properties"]]


# body_text ----------------------------------------------------------------------------------------------------
def test_body_text_is_the_whole_text_view_of_the_body(make_delivery, receiver, email):
    body = "<p>Bonjour,</p><div>" + "Lot 107 à recadrer. " * 30 + "</div><style>p {}</style>"

    payload = sent(make_delivery, receiver, email, body=body)

    assert payload["body_text"] == ("Bonjour, " + "Lot 107 à recadrer. " * 30).strip()
    assert len(payload["body_text"]) > 200 and "body_text_truncated" not in payload


def test_a_body_text_over_the_limit_is_cut_and_flagged(make_delivery, receiver, email):
    payload = sent(make_delivery, receiver, email, body="<p>" + "é" * (BODY_TEXT_MAX_CHARS + 10) + "</p>")

    assert payload["body_text"] == "é" * BODY_TEXT_MAX_CHARS
    assert payload["body_text_truncated"] is True


# recipients and attachments -----------------------------------------------------------------------------------
def test_recipients_are_the_to_and_cc_addresses(make_delivery, receiver, email):
    payload = sent(make_delivery, receiver, email, recipients=RECIPIENTS)

    assert payload["recipients"] == {"to": ["missions+paris@acme.fr", "marie@acme.fr"], "cc": ["jean@acme.fr"]}


def test_attachment_metadata_is_sent(make_delivery, receiver, email):
    payload = sent(make_delivery, receiver, email, attachments=[ATTACHMENT])

    assert payload["attachments"] == [ATTACHMENT]


def test_recipients_and_attachments_are_omitted_when_the_script_sent_none(make_delivery, receiver, email):
    payload = sent(make_delivery, receiver, email, recipients={"to": [], "cc": [], "delivered_to": ["a@b.fr"]})

    assert "recipients" not in payload and "attachments" not in payload


# links_by_provider --------------------------------------------------------------------------------------------
def test_links_by_provider_groups_the_download_urls_in_order(make_delivery, receiver, email):
    dropbox = "https://www.dropbox.com/s/{}?dl={}"
    links = [
        {"provider": "dropbox", "raw_url": dropbox.format("a", 0), "direct_url": dropbox.format("a", 1)},
        {"provider": "wetransfer", "raw_url": WETRANSFER, "direct_url": WETRANSFER},
        {"provider": "dropbox", "raw_url": dropbox.format("b", 0), "direct_url": dropbox.format("b", 1)},
    ]

    payload = sent(make_delivery, receiver, email, links=links)

    assert payload["links_by_provider"] == {
        "dropbox": [dropbox.format("a", 1), dropbox.format("b", 1)],
        "wetransfer": [WETRANSFER],
    }
    assert payload["delivery_links"] == links


def test_links_by_provider_is_omitted_without_links(make_delivery, receiver, email):
    assert "links_by_provider" not in sent(make_delivery, receiver, email, links=[])


# the test webhook ---------------------------------------------------------------------------------------------
def test_the_test_webhook_carries_a_body_text_and_matches_the_schema(receiver):
    delivery = endpoint_test_send(endpoint_create(url=receiver.url("/test")))
    assert send_due(delivery) == "succeeded"
    payload = receiver.requests[-1].json()

    assert payload["body_text"] == payload["bodyPreview"]
    assert schema_errors(payload) == []


# the JSON Schema ----------------------------------------------------------------------------------------------
def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_schema_refuses_a_payload_that_breaks_it():
    assert schema_errors({"email_id": 7, "surprise": True}) != []


def test_a_payload_with_every_optional_key_matches_the_schema(make_delivery, receiver, email):
    payload = sent(
        make_delivery, receiver, email, recipients=RECIPIENTS, attachments=[ATTACHMENT],
        detector="desabonnement_journee_tarifs", is_urgent=True,
        body="<p>" + "x" * (BODY_TEXT_MAX_CHARS + 1) + "</p>",
    )

    assert {"is_urgent", "body_text_truncated", "recipients", "attachments", "links_by_provider"} <= set(payload)
    assert schema_errors(payload) == []


def test_the_openapi_schema_carries_the_payload_schema(client):
    components = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    assert components["WebhookPayload"] == {key: value for key, value in SCHEMA.items() if key != "$schema"}


# real deliveries from the running service ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/payload")).start()
    yield live
    live.stop()


@pytest.mark.e2e
def test_deliveries_of_the_running_service_match_the_schema(service, receiver_live):
    link = f'<a href="{DROPBOX.replace("&", "&amp;")}">Fichiers</a>'
    pushes = [
        {"sender": "Technique <technique@media-solution.fr>", "subject": "Missions Recadrage - Lot 107",
         "body": f"<p>À faire pour 14h30</p>{link}", "message_id": "schema-1"},
        {"sender": "Planning <planning@acme.fr>", "subject": "Fichiers", "body": f"<p>Bonjour</p>{link}",
         "message_id": "schema-2", "to": "Missions Paris <missions+paris@acme.fr>, marie@acme.fr",
         "cc": "jean@acme.fr", "delivered_to": "signal@acme.fr", "headers": {"List-Id": "<missions.acme.fr>"},
         "attachments": [ATTACHMENT]},
    ]
    for push in pushes:
        response = service.push(push)
        assert response.status_code == 200, response.text

    got = [r.json() for r in receiver_live.wait_for(2, timeout=15, path="/payload")]

    assert len(got) == 2, service.log()[-3000:]
    assert [schema_errors(payload) for payload in got] == [[], []]
    with_recipients = next(p for p in got if "recipients" in p)
    assert with_recipients["recipients"] == {"to": ["missions+paris@acme.fr", "marie@acme.fr"], "cc": ["jean@acme.fr"]}
    assert with_recipients["links_by_provider"] == {"dropbox": [with_recipients["delivery_links"][0]["direct_url"]]}
    assert all(p["body_text"].startswith(("À faire", "Bonjour")) for p in got)
