"""Validation of rules and conditions on save (model clean), with the messages staff read."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from routing.conditions import VALUE_REQUIRED
from routing.models import RoutingCondition, RoutingRule
from tests.factories import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    return RoutingRule.objects.create(name="Billing", stop_processing=True)


def condition_errors(rule, **fields) -> dict[str, list[str]]:
    values = {"field": "subject", "operator": "contains", "value": "facture", **fields}
    condition = RoutingCondition(rule=rule, **values)
    with pytest.raises(ValidationError) as caught:
        condition.full_clean()
    return caught.value.message_dict


def rule_errors(**fields) -> dict[str, list[str]]:
    candidate = RoutingRule(**{"name": "Billing", "stop_processing": True, **fields})
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    return caught.value.message_dict


# --- conditions -------------------------------------------------------------------------------------------
def test_valid_condition_passes_and_its_value_is_trimmed(rule):
    condition = RoutingCondition(rule=rule, field="subject", operator="contains", value="  facture ")
    condition.full_clean()
    assert condition.value == "facture"


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_empty_or_blank_value_is_refused(rule, value):
    assert condition_errors(rule, value=value) == {"value": [VALUE_REQUIRED]}


def test_value_made_only_of_accents_is_refused_when_accents_are_ignored(rule):
    assert "empty once case, accents" in condition_errors(rule, value="\u0301")["value"][0]


def test_unknown_field_is_refused_by_name(rule):
    assert condition_errors(rule, field="from") == {
        "field": [
            "Unknown field 'from': choose sender, subject, body, detector, is_urgent, provider, link_count, "
            "recipient or header."
        ]
    }


def test_unknown_operator_is_refused_by_name(rule):
    message = condition_errors(rule, operator="like")["operator"][0]
    assert message.startswith("Unknown operator 'like'")


def test_regex_that_does_not_compile_is_refused_with_the_engine_message(rule):
    message = condition_errors(rule, operator="regex", value="facture(")["value"][0]
    assert message.startswith("This regular expression does not compile: missing )")


def test_regex_longer_than_200_characters_is_refused(rule):
    assert condition_errors(rule, operator="regex", value="a" * 201) == {
        "value": ["Regular expressions are limited to 200 characters; this one has 201."]
    }


def test_regex_of_200_characters_is_accepted(rule):
    RoutingCondition(rule=rule, field="subject", operator="regex", value="a" * 200).full_clean()


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)+$", r"(x+x+)+y"])
def test_catastrophic_regex_is_refused_as_too_slow(rule, pattern):
    message = condition_errors(rule, operator="regex", value=pattern)["value"][0]
    assert message.startswith("This regular expression is too slow")


@pytest.mark.parametrize("pattern", ["a{1000000}", "(((a{100}){100}){100}){100}"])
def test_regex_too_large_to_compile_is_refused_without_harming_this_process(rule, pattern):
    message = condition_errors(rule, operator="regex", value=pattern)["value"][0]
    assert message.startswith("This regular expression is too complex")


@pytest.mark.parametrize(
    "pattern",
    [r"\bfacture\b", r"^(a@b\.fr|c@d\.fr)$", r"m[ée]dia solution.*\blot\b", r"\p{Lu}{2}-\d+", r"(?:facture){e<=1}"],
)
def test_ordinary_regexes_are_accepted_including_regex_module_syntax(rule, pattern):
    RoutingCondition(rule=rule, field="subject", operator="regex", value=pattern).full_clean()


def test_condition_reads_as_a_sentence(rule):
    condition = RoutingCondition(rule=rule, field="sender", operator="equals", value="a@b.fr")
    assert str(condition) == 'sender equals "a@b.fr"'


# --- conditions on what the e-mail is -------------------------------------------------------------------
def fact_condition(rule, **fields) -> RoutingCondition:
    condition = RoutingCondition(rule=rule, **{"value": "", **fields})
    condition.full_clean()
    return condition


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"field": "detector", "operator": "contains", "value": "recadrage"},
            {"operator": ["Operator 'contains' does not apply to detector: choose equals or in (is one of)."]},
        ),
        (
            {"field": "link_count", "operator": "regex", "value": "2"},
            {"operator": ["Operator 'regex' does not apply to link_count: choose equals, gt (>) or lt (<)."]},
        ),
        (
            {"field": "subject", "operator": "is_true"},
            {
                "operator": [
                    "Operator 'is_true' does not apply to subject: choose contains, not_contains (does not contain), "
                    "equals, starts_with (starts with) or regex (matches regex)."
                ]
            },
        ),
        (
            {"field": "detector", "operator": "equals", "value": "recadrge"},
            {"value": ["Unknown detector 'recadrge': choose recadrage, desabonnement_journee_tarifs or none."]},
        ),
        (
            {"field": "provider", "operator": "in", "value": "dropbox, gdrive"},
            {"value": ["Unknown provider 'gdrive': choose dropbox, fromsmash, swisstransfer or wetransfer."]},
        ),
        (
            {"field": "detector", "operator": "equals", "value": "recadrage, none"},
            {"value": ["'equals' takes one detector; use 'is one of' (in) for several."]},
        ),
        (
            {"field": "link_count", "operator": "gt", "value": "deux"},
            {"value": ["Enter a whole number of links, 0 or more (not 'deux')."]},
        ),
        (
            {"field": "link_count", "operator": "lt", "value": "-1"},
            {"value": ["Enter a whole number of links, 0 or more (not '-1')."]},
        ),
        ({"field": "link_count", "operator": "equals", "value": ""}, {"value": [VALUE_REQUIRED]}),
        (
            {"field": "is_urgent", "operator": "is_true", "value": "false"},
            {"value": ["'is true' takes no value: leave it empty."]},
        ),
        (
            {"field": "is_urgent", "operator": "is_false", "case_sensitive": True},
            {"case_sensitive": ["is_urgent conditions have no case: untick 'case sensitive'."]},
        ),
        (
            {"field": "recipient", "operator": "contains", "value": "+paris@", "case_sensitive": True},
            {"case_sensitive": ["recipient conditions have no case: untick 'case sensitive'."]},
        ),
        (
            {"field": "header", "operator": "regex", "value": "acme"},
            {"header_name": ["Name the header to test, e.g. list-id."]},
        ),
        (
            {"field": "header", "operator": "regex", "value": "acme", "header_name": "List Id"},
            {"header_name": ["'list id' is not a header name (letters, digits and dashes, e.g. list-id)."]},
        ),
        (
            {"field": "header", "operator": "regex", "value": "acme", "header_name": "X-Spam"},
            {"header_name": [
                "The Apps Script does not send 'x-spam', so this condition could never match: choose auto-submitted, "
                "in-reply-to, list-id, list-unsubscribe, message-id, precedence, references, return-path, "
                "x-forwarded-to, x-mailer or x-original-to."
            ]},
        ),
        (
            {"field": "subject", "operator": "contains", "value": "x", "header_name": "list-id"},
            {"header_name": ["Only header conditions name a header: leave it empty."]},
        ),
    ],
)
def test_fact_condition_mistakes_are_refused_with_a_message_that_says_what_to_do(rule, fields, errors):
    assert condition_errors(rule, **{"value": "", **fields}) == errors


@pytest.mark.parametrize(
    ("operator", "value"), [("regex", "facture("), ("regex", r"(a+)+$")], ids=["does not compile", "too slow"]
)
def test_recipient_and_header_regexes_get_the_same_safety_checks(rule, operator, value):
    for fields in ({"field": "recipient"}, {"field": "header", "header_name": "list-id"}):
        message = condition_errors(rule, operator=operator, value=value, **fields)["value"][0]
        assert message.startswith("This regular expression")


def test_names_are_saved_lower_case_and_comma_separated(rule):
    condition = fact_condition(rule, field="detector", operator="in", value=" Recadrage ,NONE,, recadrage")
    assert condition.value == "recadrage, none"


def test_a_count_is_saved_as_a_plain_number(rule):
    assert fact_condition(rule, field="link_count", operator="gt", value="02").value == "2"


def test_a_header_name_is_saved_lower_case(rule):
    condition = fact_condition(rule, field="header", operator="regex", value="acme", header_name=" List-Id ")
    assert condition.header_name == "list-id"


def test_is_true_and_is_false_need_no_value(rule):
    fact_condition(rule, field="is_urgent", operator="is_true")
    fact_condition(rule, field="is_urgent", operator="is_false")


def test_fact_conditions_read_as_sentences_in_admin(rule):
    assert str(RoutingCondition(rule=rule, field="link_count", operator="lt", value="3")) == "link_count < 3"


# --- rules -------------------------------------------------------------------------------------------------
def test_rule_with_neither_endpoint_nor_stop_is_refused():
    assert rule_errors(stop_processing=False)["endpoint"] == [
        "Choose a target endpoint, or tick 'stop processing' to drop matching e-mails: "
        "a rule with neither has no effect."
    ]


def test_rule_with_an_endpoint_and_no_stop_is_valid():
    RoutingRule(name="Billing", endpoint=endpoint_create()).full_clean()


def test_stop_rule_without_endpoint_is_valid():
    RoutingRule(name="Drop newsletters", stop_processing=True).full_clean()


@pytest.mark.parametrize("name", ["", "   "])
def test_rule_needs_a_name(name):
    assert rule_errors(name=name)["name"] == ["This field cannot be blank."]


def test_unknown_match_mode_is_refused():
    assert "match" in rule_errors(match="most")


def test_rule_pointing_to_an_inactive_endpoint_can_be_saved():
    RoutingRule(name="Billing", endpoint=endpoint_create(is_active=False)).full_clean()


def test_new_rules_are_appended_in_order():
    first, second = (RoutingRule.objects.create(name=n, stop_processing=True) for n in ("a", "b"))
    assert (first.position, second.position) == (1, 2)


def test_two_rules_cannot_share_a_position(rule):
    with pytest.raises(IntegrityError):
        RoutingRule.objects.create(name="Other", stop_processing=True, position=rule.position)


def test_rule_summary_lists_its_conditions(rule):
    RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value="facture")
    RoutingCondition.objects.create(rule=rule, field="sender", operator="equals", value="a@b.fr")
    assert rule.summary == 'subject contains "facture" AND sender equals "a@b.fr"'
