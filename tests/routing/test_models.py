"""Validation of rules and conditions on save (model clean), with the messages staff read."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from routing.models import VALUE_REQUIRED, RoutingCondition, RoutingRule
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
    assert condition_errors(rule, field="from") == {"field": ["Unknown field 'from': choose sender, subject or body."]}


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
