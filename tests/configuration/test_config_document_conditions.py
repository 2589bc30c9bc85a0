"""Conditions on what the e-mail is in the config document (SPEC §5.2, §6): round trip and errors by path."""

import copy

import pytest

from configuration.document import ConfigDocumentInvalid, config_export, config_import
from routing.models import RoutingRule
from tests.factories import endpoint_create

pytestmark = pytest.mark.django_db

FACT_CONDITIONS = [
    {"field": "detector", "operator": "in", "value": "recadrage, none", "case_sensitive": False},
    {"field": "is_urgent", "operator": "is_true", "value": "", "case_sensitive": False},
    {"field": "provider", "operator": "equals", "value": "wetransfer", "case_sensitive": False},
    {"field": "link_count", "operator": "gt", "value": "1", "case_sensitive": False},
    {"field": "recipient", "operator": "contains", "value": "+paris@", "case_sensitive": False},
    {
        "field": "header",
        "operator": "regex",
        "value": r"news\.acme\.fr",
        "case_sensitive": True,
        "header_name": "list-id",
    },
]


def rules_document(*conditions) -> dict:
    return {
        "version": 1,
        "rules": [{"name": "Facts", "match": "any", "conditions": list(conditions), "stop_processing": True}],
    }


def errors_of(doc) -> list[str]:
    with pytest.raises(ConfigDocumentInvalid) as caught:
        config_import(doc)
    return [str(e) for e in caught.value.errors]


def test_fact_conditions_are_exported_and_imported_unchanged():
    endpoint_create(name="default", is_default=True)
    config_import(rules_document(*copy.deepcopy(FACT_CONDITIONS)))
    exported = config_export()
    assert exported["rules"][0]["conditions"] == FACT_CONDITIONS

    RoutingRule.objects.all().delete()
    config_import(copy.deepcopy(exported))

    assert config_export() == exported


def test_only_header_conditions_carry_a_header_name():
    config_import(rules_document({"field": "subject", "operator": "contains", "value": "x"}))
    assert "header_name" not in config_export()["rules"][0]["conditions"][0]


def test_is_true_and_is_false_need_no_value():
    config_import(rules_document({"field": "is_urgent", "operator": "is_false"}))
    assert str(RoutingRule.objects.get().conditions.get()) == "is_urgent is false"


def test_names_and_numbers_are_imported_as_admin_saves_them():
    config_import(
        rules_document(
            {"field": "provider", "operator": "in", "value": "WeTransfer,dropbox"},
            {"field": "link_count", "operator": "equals", "value": "03"},
        )
    )
    assert list(RoutingRule.objects.get().conditions.values_list("value", flat=True)) == ["wetransfer, dropbox", "3"]


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        (
            {"field": "detector", "operator": "contains", "value": "recadrage"},
            "rules[0].conditions[0].operator: Operator 'contains' does not apply to detector: "
            "choose equals or in (is one of).",
        ),
        (
            {"field": "detector", "operator": "equals", "value": "desabo"},
            "rules[0].conditions[0].value: Unknown detector 'desabo': "
            "choose recadrage, desabonnement_journee_tarifs or none.",
        ),
        (
            {"field": "link_count", "operator": "lt", "value": "2.5"},
            "rules[0].conditions[0].value: Enter a whole number of links, 0 or more (not '2.5').",
        ),
        (
            {"field": "link_count", "operator": "lt"},
            "rules[0].conditions[0].value: is required",
        ),
        (
            {"field": "is_urgent", "operator": "is_true", "value": "yes"},
            "rules[0].conditions[0].value: 'is true' takes no value: leave it empty.",
        ),
        (
            {"field": "header", "operator": "regex", "value": "acme"},
            "rules[0].conditions[0].header_name: Name the header to test, e.g. list-id.",
        ),
        (
            {"field": "header", "operator": "regex", "value": "acme", "header_name": 3},
            "rules[0].conditions[0].header_name: must be a string, not a whole number",
        ),
        (
            {"field": "recipient", "operator": "regex", "value": "missions(", "header_name": ""},
            "rules[0].conditions[0].value: This regular expression does not compile: missing ) at position 9.",
        ),
        (
            {"field": "provider", "operator": "equals", "value": "dropbox", "case_sensitive": True},
            "rules[0].conditions[0].case_sensitive: provider conditions have no case: untick 'case sensitive'.",
        ),
    ],
)
def test_a_bad_fact_condition_is_refused_with_its_path(condition, error):
    assert errors_of(rules_document(condition)) == [error]
    assert not RoutingRule.objects.exists()
