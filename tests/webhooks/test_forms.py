"""Custom header lines on the endpoint form: values are write-only, masked when shown, kept unless retyped."""

import pytest
from django.core.exceptions import ValidationError

from webhooks.forms import headers_masked_text, headers_parse

CURRENT = {"X-Api-Key": "erp-key-0123456789abcd", "X-Pin": "pin-42"}


def parse_error(text: str, current: dict = CURRENT) -> str:
    with pytest.raises(ValidationError) as caught:
        headers_parse(text, current)
    return " ".join(caught.value.messages)


def test_the_masked_text_lists_every_name_with_its_masked_value():
    assert headers_masked_text(CURRENT) == "X-Api-Key: ••••••abcd\nX-Pin: ••••••"


def test_the_masked_text_as_shown_keeps_every_value():
    assert headers_parse(headers_masked_text(CURRENT), CURRENT) == CURRENT


@pytest.mark.parametrize("line", ["X-Api-Key", "X-Api-Key:", "  X-Api-Key :  "])
def test_a_line_with_the_name_alone_keeps_its_value(line):
    assert headers_parse(line, CURRENT) == {"X-Api-Key": CURRENT["X-Api-Key"]}


def test_a_name_respelled_in_another_case_keeps_its_value():
    assert headers_parse("x-api-key: ••••••abcd", CURRENT) == {"x-api-key": CURRENT["X-Api-Key"]}


def test_a_value_typed_in_full_replaces_the_current_one():
    assert headers_parse("X-Api-Key: new-value", CURRENT) == {"X-Api-Key": "new-value"}


def test_missing_lines_remove_their_headers_and_blank_lines_are_ignored():
    assert headers_parse("\n\nX-Pin\n\n", CURRENT) == {"X-Pin": "pin-42"}


def test_an_empty_text_removes_every_header():
    assert headers_parse("", CURRENT) == {}


def test_a_new_header_needs_a_value():
    assert parse_error("X-Tenant:") == "Line 1: X-Tenant is a new header: type its value."


def test_a_masked_value_cannot_create_a_header():
    assert "X-Tenant is a new header" in parse_error("X-Tenant: ••••••abcd")


def test_an_edited_mask_is_refused():
    assert "Line 1: type the new value of X-Api-Key in full, or leave its masked value as shown" in parse_error(
        "X-Api-Key: ••••••abcX"
    )


def test_a_line_without_a_colon_is_refused_without_echoing_it():
    message = parse_error("X-Pin\nX-Api-Key erp-key-typed-secret")
    assert message.startswith("Line 2: write the header name, a colon, then its value")
    assert "typed-secret" not in message


def test_a_header_listed_twice_is_refused():
    assert parse_error("X-Pin\nx-pin: other") == "Line 2: x-pin is listed twice."


def test_every_bad_line_is_reported_at_once():
    assert parse_error("X-A:\n: value\nX-B:").count("Line ") == 3


def test_a_header_the_server_sets_is_refused_by_name():
    assert "cannot be overridden: webhook-signature" in parse_error("webhook-signature: forged-value", {})


def test_a_non_ascii_value_is_refused_by_header_name_not_value():
    message = parse_error("X-Token: clé-secrète", {})
    assert "The value of X-Token must be printable ASCII" in message and "secrète" not in message
