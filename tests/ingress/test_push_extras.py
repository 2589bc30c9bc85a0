"""The optional fields newer Apps Scripts send (SPEC §3.1): recipients, allowlisted headers, attachment metadata.

Older scripts send none of them and get the very same answers.
"""

import pytest

from ingress.models import InboundEmail
from tests.factories import push_payload

pytestmark = pytest.mark.django_db

BATCH = "/api/ingress/gmail/batch"


def stored(response) -> InboundEmail:
    assert response.status_code == 200, response.json()
    return InboundEmail.objects.get(email_id=response.json()["email_id"])


def refusal(response) -> str:
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()
    return response.json()["message"]


# older scripts ----------------------------------------------------------------------------------------------
def test_a_push_without_the_new_fields_is_answered_and_recorded_as_before(push, default_endpoint):
    response = push(push_payload(snippet="Bonjour"))

    assert set(response.json()) == {"success", "status", "email_id", "deliveries"}
    assert response.json()["status"] == "processed"
    email = stored(response)
    assert (email.recipients, email.headers, email.attachments) == ({}, {}, [])


def test_null_new_fields_count_as_absent(push, default_endpoint):
    response = push(push_payload(**dict.fromkeys(["to", "cc", "reply_to", "delivered_to", "headers", "attachments"])))

    email = stored(response)
    assert (email.recipients, email.headers, email.attachments) == ({}, {}, [])


# recipients --------------------------------------------------------------------------------------------------
def test_recipient_fields_as_gmail_gives_them_are_stored_as_canonical_addresses(push, default_endpoint):
    response = push(
        push_payload(
            to='Missions Paris <Missions+Paris@Acme.FR>, "Dupont, Marie" <marie@acme.fr>',
            cc="jean@acme.fr",
            reply_to="Planning <planning@acme.fr>",
            delivered_to="signal@acme.fr",
        )
    )

    assert stored(response).recipients == {
        "to": ["missions+paris@acme.fr", "marie@acme.fr"],
        "cc": ["jean@acme.fr"],
        "reply_to": ["planning@acme.fr"],
        "delivered_to": ["signal@acme.fr"],
    }


def test_a_recipient_field_may_be_a_json_list(push, default_endpoint):
    response = push(push_payload(to=["Jean <jean@acme.fr>", "marie@acme.fr, paul@acme.fr"]))

    assert stored(response).recipients["to"] == ["jean@acme.fr", "marie@acme.fr", "paul@acme.fr"]


def test_an_address_given_twice_is_kept_once(push, default_endpoint):
    response = push(push_payload(cc="jean@acme.fr, Jean <JEAN@acme.fr>"))

    assert stored(response).recipients["cc"] == ["jean@acme.fr"]


def test_an_empty_group_is_no_recipient(push, default_endpoint):
    response = push(push_payload(to="undisclosed-recipients:;"))

    assert stored(response).recipients == {}


def test_an_address_list_the_strict_parser_refuses_is_read_piece_by_piece(push, default_endpoint):
    response = push(push_payload(to="Jean <jean@acme.fr> (bureau), marie@acme.fr"))

    assert stored(response).recipients["to"] == ["jean@acme.fr", "marie@acme.fr"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "Expected a string or a list of at most 500 strings."),
        ([1], "Each address must be a string."),
        (["a@b.fr"] * 501, "Expected a string or a list of at most 500 strings."),
        ("a@b.fr, " * 2501, "At most 20000 characters in all."),
        (", ".join(f"u{n}@b.fr" for n in range(501)), "At most 500 addresses."),
        ("x" * 320 + "@b.fr", "An address is longer than 320 characters."),
        ("a\x00@b.fr", "Each address must not contain a NUL character."),
        ("\ud800@b.fr", "Each address must not contain lone surrogate characters."),
    ],
)
def test_a_recipient_field_over_its_limits_is_a_400_naming_it(push, default_endpoint, value, message):
    assert refusal(push(push_payload(to=value))) == f"Invalid field: to ({message})"


# headers -----------------------------------------------------------------------------------------------------
def test_allowlisted_headers_are_stored_under_lower_case_names(push, default_endpoint):
    headers = {"List-Id": "<missions.acme.fr>", "X-ORIGINAL-TO": "missions+paris@acme.fr", "precedence": "bulk"}

    response = push(push_payload(headers=headers))

    assert stored(response).headers == {
        "list-id": "<missions.acme.fr>", "x-original-to": "missions+paris@acme.fr", "precedence": "bulk",
    }


def test_headers_off_the_allowlist_are_dropped_without_refusing_the_push(push, default_endpoint):
    headers = {"X-Spam-Score": "3.2", "Received": "from mx", "Auto-Submitted": "auto-replied"}

    response = push(push_payload(headers=headers))

    assert stored(response).headers == {"auto-submitted": "auto-replied"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("List-Id: x", "Expected an object of at most 50 headers."),
        ({f"X-H{n}": "v" for n in range(51)}, "Expected an object of at most 50 headers."),
        ({"List-Id": 3}, "The value of List-Id must be a string."),
        ({"References": "<a@b>" * 2001}, "The value of References is longer than 10000 characters."),
        ({"X-Mailer": "a\x00"}, "The value of X-Mailer must not contain a NUL character."),
    ],
)
def test_headers_over_their_limits_are_a_400_naming_the_field(push, default_endpoint, value, message):
    assert refusal(push(push_payload(headers=value))) == f"Invalid field: headers ({message})"


# attachments -------------------------------------------------------------------------------------------------
def test_attachment_metadata_is_stored(push, default_endpoint):
    attachments = [
        {"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"},
        {"name": "photo.jpg", "size": 0},
    ]

    response = push(push_payload(attachments=attachments))

    assert stored(response).attachments == [
        {"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"},
        {"name": "photo.jpg", "size": 0, "content_type": ""},
    ]


def test_other_keys_of_an_attachment_are_not_kept(push, default_endpoint):
    response = push(push_payload(attachments=[{"name": "a.pdf", "size": 1, "content_type": "x/y", "data": "JVBERi0"}]))

    assert stored(response).attachments == [{"name": "a.pdf", "size": 1, "content_type": "x/y"}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"name": "a.pdf"}, "Expected a list of at most 100 attachments."),
        ([{"name": "a", "size": 1}] * 101, "Expected a list of at most 100 attachments."),
        (["a.pdf"], "Attachment 1 must be an object with a name and a size."),
        ([{"name": "a.pdf"}], "Attachment 1 must be an object with a name and a size."),
        ([{"name": "a", "size": 1}, {"name": "b", "size": -1}],
         "Attachment 2's size must be a whole number of bytes."),
        ([{"name": "a", "size": True}], "Attachment 1's size must be a whole number of bytes."),
        ([{"name": "a", "size": 1.5}], "Attachment 1's size must be a whole number of bytes."),
        ([{"name": 7, "size": 1}], "Attachment 1's name must be a string."),
        ([{"name": "a" * 1001, "size": 1}],
         "Attachment 1's name is at most 1000 characters, its content_type at most 255."),
        ([{"name": "a", "size": 1, "content_type": "x" * 256}],
         "Attachment 1's name is at most 1000 characters, its content_type at most 255."),
    ],
)
def test_attachments_over_their_limits_are_a_400_naming_the_field(push, default_endpoint, value, message):
    assert refusal(push(push_payload(attachments=value))) == f"Invalid field: attachments ({message})"


# batch ---------------------------------------------------------------------------------------------------------
def test_a_batch_item_carries_the_new_fields_and_a_bad_one_fails_alone(push, default_endpoint):
    good = push_payload(to="jean@acme.fr", attachments=[{"name": "a.pdf", "size": 1, "content_type": "x/y"}])
    bad = push_payload(cc=42)

    results = push({"emails": [good, bad]}, path=BATCH).json()["results"]

    assert [r["code"] for r in results] == [200, 400]
    assert results[1]["message"] == "Invalid field: cc (Expected a string or a list of at most 500 strings.)"
    email = InboundEmail.objects.get(email_id=results[0]["email_id"])
    assert email.recipients["to"] == ["jean@acme.fr"] and email.attachments[0]["name"] == "a.pdf"
