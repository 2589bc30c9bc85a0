"""Who sent an e-mail and which e-mail it is: sender parsing, email_id (SPEC §3.2; legacy-verified values),
and the canonical sender in deduplication and the allowlist."""

import pytest

from configuration.models import IngressSettings
from core.addresses import sender_email_parse
from ingress.identity import email_id_compute
from ingress.models import InboundEmail
from tests.factories import push_payload, settings_update


@pytest.mark.parametrize("raw,expected", [
    ("Technique <technique@media-solution.fr>", "technique@media-solution.fr"),
    ("Jane <Jane@Example.COM>", "jane@example.com"),
    ('"Doe, John" <JD@X.fr>', "jd@x.fr"),
    ("A@B.COM", "a@b.com"),
    ("  spaced@x.fr  ", "spaced@x.fr"),
    (" ", ""),
])
def test_sender_email_is_the_parsed_address_lower_cased(raw, expected):
    assert sender_email_parse(raw) == expected


def test_sender_without_address_falls_back_to_a_trimmed_value():
    assert sender_email_parse("John Doe") in ("john", "john doe")


@pytest.mark.parametrize("subject,sender,date,expected", [
    ("Hello", "sender@example.com", "2026-01-01T00:00:00Z", "ef626f4a3197550e73b6e5a1b3cdc39e"),
    ("Hello", "jane@example.com", "2026-01-01T00:00:00Z", "9f12a51ec1417a6c1869452c217da936"),
    ("Média Solution - Missions Recadrage - Lot 107", "technique@media-solution.fr", "2026-04-10T09:54:38Z",
     "b262d20579a4925167e6b47ca76be92f"),
    ("", "sender@example.com", "", "14020be24909c5aae605dcec4690f534"),
])
def test_email_id_matches_the_legacy_formula(subject, sender, date, expected):
    assert email_id_compute(subject=subject, sender_email=sender, date=date) == expected


def test_message_id_replaces_the_legacy_formula():
    with_id = email_id_compute(subject="a", sender_email="b", date="c", message_id="<x@mail.gmail.com>")
    assert with_id == "3d4bd1ec40cd18a268d698549f75d09a"


def test_the_same_email_from_another_spelling_of_its_sender_is_already_processed(push, default_endpoint):
    payload = push_payload(sender="Jo <jo@acme.fr>")
    first = push(payload).json()
    again = push({**payload, "sender": 'Jo <"JO"@acme.fr.>'}).json()
    assert (again["status"], again["email_id"]) == ("already_processed", first["email_id"])


def test_the_email_records_the_canonical_sender(push, default_endpoint):
    push(push_payload(sender="Jo <jo@acme.fr\u200b>"))
    assert InboundEmail.objects.get().sender_email == "jo@acme.fr"


def test_an_allowed_sender_is_allowed_in_any_spelling(push, default_endpoint):
    settings_update(sender_allowlist=["jo@acme.fr"])
    assert push(push_payload(sender='"jo"@ACME.fr.')).json()["status"] == "processed"


def test_allowlist_entries_are_stored_in_canonical_form(db):
    settings_update(sender_allowlist=['"Jo"@ACME.fr.', "jo@acme.fr", "Boss <boss@acme.fr>>", " "])
    assert IngressSettings.load().sender_allowlist == ["boss@acme.fr", "jo@acme.fr"]
