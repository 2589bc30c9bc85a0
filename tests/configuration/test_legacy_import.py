"""Mapping the legacy app's stored configuration onto a config document (legacy_config_translate)."""

import json
from pathlib import Path

import pytest

from configuration.document import config_import
from configuration.legacy import MAPPED, NOT_MAPPED, REVIEW, legacy_config_translate, make_url_normalise
from tests.factories import endpoint_create
from webhooks.models import WebhookEndpoint

LEGACY = Path(__file__).with_name("legacy")
MAKE_URL = "https://hook.eu2.make.com/k7Yd2x9QpLmN3vB8"


def legacy(*names: str) -> dict:
    return {name: json.loads((LEGACY / f"{name}.json").read_text()) for name in names}


def all_legacy() -> dict:
    return legacy("webhook_config", "routing_rules", "processing_prefs", "runtime_flags")


def notes_of(notes, kind: str) -> list[str]:
    return [str(n) for n in notes if n.kind == kind]


def endpoint(document: dict, name: str) -> dict:
    return next(e for e in document["endpoints"] if e["name"] == name)


@pytest.mark.parametrize(
    ("legacy_value", "url"),
    [
        ("tok123@hook.eu2.make.com", "https://hook.eu2.make.com/tok123"),
        ("tok123@HOOK.EU1.make.com", "https://hook.eu1.make.com/tok123"),
        ("tok123@hook.us2.make.com", "https://hook.us2.make.com/tok123"),
        ("tok123", "https://hook.eu2.make.com/tok123"),
        ("  https://hooks.acme.fr/in  ", "https://hooks.acme.fr/in"),
        ("tok@evil.example/x", None),
        ("two words", None),
        ("", None),
    ],
)
def test_make_shorthands_become_urls(legacy_value, url):
    assert make_url_normalise(legacy_value) == url


def test_webhook_config_becomes_the_default_endpoint_with_the_legacy_delivery_options():
    document, notes = legacy_config_translate(legacy("webhook_config"))

    assert document["endpoints"] == [{
        "name": "default", "is_default": True, "is_active": True, "url": MAKE_URL,
        "delivery_mode": "legacy_form_header", "fallback_on_415": True, "verify_tls": True,
        "success_requires_json": True,
    }]
    assert "webhook_config.webhook_url: endpoints['default'].url = https://hook.eu2.make.com/… " \
           "(Make.com shorthand expanded)" in notes_of(notes, MAPPED)
    assert "k7Yd2x9QpLmN3vB8" not in " ".join(map(str, notes))


def test_webhook_config_sets_the_sending_switch_window_and_absence():
    document, _ = legacy_config_translate(legacy("webhook_config"))

    assert document["settings"] == {
        "sending_enabled": True,
        "window_start": "9h00",
        "window_end": "17h30",
        "absence_enabled": True,
        "absence_days": ["saturday", "sunday"],
    }


def test_keys_the_legacy_app_never_enforced_are_reported_not_mapped():
    _, notes = legacy_config_translate(legacy("webhook_config", "processing_prefs"))

    not_mapped = notes_of(notes, NOT_MAPPED)
    assert any(n.startswith("webhook_config.global_time_start: ") for n in not_mapped)
    assert any(n.startswith("webhook_config._updated_at: ") for n in not_mapped)
    assert any(n.startswith("processing_prefs.rate_limit_per_hour: inert in the legacy app") for n in not_mapped)
    assert any(n.startswith("processing_prefs.exclude_keywords: ") for n in not_mapped)


def test_retry_prefs_become_a_schedule_and_the_timeout_applies_to_every_endpoint():
    document, notes = legacy_config_translate(legacy("processing_prefs", "webhook_config", "routing_rules"))

    assert document["settings"]["retry_schedule_seconds"] == [0, 5, 5]
    assert {e["name"]: e["timeout_seconds"] for e in document["endpoints"]} == {"default": 45, "Factures": 45}
    assert any("408, 425, 429 and 5xx" in n for n in notes_of(notes, REVIEW))


def test_no_legacy_retry_means_a_single_attempt_with_a_warning():
    document, notes = legacy_config_translate({"processing_prefs": {}})

    assert document["settings"]["retry_schedule_seconds"] == [0]
    assert any("with a single attempt" in n for n in notes_of(notes, REVIEW))
    assert "endpoints" not in document
    not_mapped = notes_of(notes, NOT_MAPPED)
    assert any(n.startswith("processing_prefs.webhook_timeout_sec: applies to the endpoints") for n in not_mapped)


def test_flags_map_with_dedup_inverted():
    document, _ = legacy_config_translate(
        {"runtime_flags": {"gmail_ingress_enabled": False, "allow_custom_webhook_without_links": True,
                           "disable_email_id_dedup": True}}
    )

    assert document["flags"] == {"ingress_enabled": False, "allow_without_links": True, "email_id_dedup_enabled": False}


def test_turning_dedup_off_warns_that_the_legacy_app_ignored_the_flag():
    _, notes = legacy_config_translate({"runtime_flags": {"disable_email_id_dedup": True}})

    assert any("ignored this flag" in n for n in notes_of(notes, REVIEW))


def test_rules_keep_their_order_and_their_urls_become_endpoints_named_after_the_rule():
    document, _ = legacy_config_translate(legacy("webhook_config", "routing_rules"))

    assert [(r["name"], r["endpoint"], r["priority"], r["stop_processing"]) for r in document["rules"]] == [
        ("Factures", "Factures", "high", True),
        ("Relances", "Factures", "normal", False),
        ("Urgences", "default", "high", False),
    ]
    assert document["rules"][0]["conditions"] == [
        {"field": "subject", "operator": "contains", "value": "facture", "case_sensitive": False},
        {"field": "sender", "operator": "regex", "value": r"@compta\.acme\.fr$", "case_sensitive": False},
    ]
    assert all(r["match"] == "all" and r["is_active"] for r in document["rules"])
    billing = endpoint(document, "Factures")
    assert billing["url"] == "https://hooks.acme.fr/billing"
    assert (billing["is_default"], billing["delivery_mode"], billing["success_requires_json"]) == (
        False, "legacy_form_header", True,
    )


def test_rule_endpoints_with_the_same_name_but_other_urls_get_a_suffix():
    rules = [
        {"name": "Dup", "conditions": [{"field": "subject", "operator": "contains", "value": "a"}],
         "actions": {"webhook_url": f"https://hooks.acme.fr/{n}"}}
        for n in (1, 2)
    ]
    document, _ = legacy_config_translate({"routing_rules": {"rules": rules}})

    assert [e["name"] for e in document["endpoints"]] == ["default", "Dup", "Dup (2)"]
    assert document["endpoints"][0] == {"name": "default", "is_default": True, "is_active": True}


def test_the_semantic_differences_of_rules_are_reported():
    _, notes = legacy_config_translate(legacy("webhook_config", "routing_rules"))

    review = " ".join(notes_of(notes, REVIEW))
    assert "never evaluated routing rules" in review
    assert "fired only the first matching rule" in review and "'Relances'" in review
    assert "body conditions ('Urgences')" in review
    assert "bare lower-cased address" in review


def test_rules_can_be_imported_switched_off_for_review():
    document, notes = legacy_config_translate(legacy("routing_rules"), rules_active=False)

    assert all(r["is_active"] is False for r in document["rules"])
    assert any("imported switched off" in n for n in notes_of(notes, MAPPED))


def test_the_legacy_placeholder_default_rule_is_skipped():
    rule = {"id": "backend-default", "name": "Webhook par défaut (backend)",
            "conditions": [{"field": "sender", "operator": "contains", "value": "@"}],
            "actions": {"webhook_url": "https://hooks.acme.fr/x"}}

    document, notes = legacy_config_translate({"routing_rules": {"rules": [rule]}})

    assert document["rules"] == []
    assert any("legacy placeholder for the default webhook" in n for n in notes_of(notes, NOT_MAPPED))


@pytest.mark.parametrize(
    "broken",
    [
        {"name": "  ", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
         "actions": {"webhook_url": "https://h.fr/x"}},
        {"name": "No conditions", "conditions": [], "actions": {"webhook_url": "https://h.fr/x"}},
        {"name": "Bad operator", "conditions": [{"field": "subject", "operator": "like", "value": "x"}],
         "actions": {"webhook_url": "https://h.fr/x"}},
        {"name": "Plain http", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
         "actions": {"webhook_url": "http://h.fr/x"}},
        {"name": "Bad priority", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
         "actions": {"webhook_url": "https://h.fr/x", "priority": "urgent"}},
    ],
)
def test_an_invalid_legacy_rule_is_skipped_and_explained(broken):
    valid = {"name": "Valid", "conditions": [{"field": "subject", "operator": "equals", "value": 5}],
             "actions": {"webhook_url": "https://h.fr/ok"}}

    document, notes = legacy_config_translate({"routing_rules": {"rules": [broken, valid]}})

    assert [r["name"] for r in document["rules"]] == ["Valid"]
    assert document["rules"][0]["conditions"][0]["value"] == "5"
    assert any(n.startswith("routing_rules.rules[0]") for n in notes_of(notes, NOT_MAPPED))
    assert any("discarded the whole list" in n for n in notes_of(notes, REVIEW))


def test_string_booleans_are_read_with_a_warning():
    document, notes = legacy_config_translate(
        {"webhook_config": {"webhook_url": "https://hooks.acme.fr/in", "webhook_ssl_verify": "false"}}
    )

    assert document["endpoints"][0]["verify_tls"] is False
    assert any("stored as the string 'false', read as false" in n for n in notes_of(notes, REVIEW))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("", "", {"window_start": None, "window_end": None}),
        ("9h00", "", {"window_start": None, "window_end": None}),
        ("9h00", "25h00", {"window_start": None, "window_end": None}),
        ("10h00", "10:00", {}),
        (" 7:45 ", "18h00", {"window_start": "7:45", "window_end": "18h00"}),
        ("22h00", "06h00", {"window_start": "22h00", "window_end": "06h00"}),
    ],
)
def test_the_enforced_legacy_window_maps_to_the_window(start, end, expected):
    document, _ = legacy_config_translate({"webhook_config": {"webhook_time_start": start, "webhook_time_end": end}})

    window = {k: v for k, v in document.get("settings", {}).items() if k.startswith("window_")}
    assert window == expected


def test_absence_enabled_without_a_valid_day_is_imported_off():
    document, notes = legacy_config_translate(
        {"webhook_config": {"absence_pause_enabled": True, "absence_pause_days": ["funday", 3]}}
    )

    assert (document["settings"]["absence_enabled"], document["settings"]["absence_days"]) == (False, [])
    assert any("never paused" in n for n in notes_of(notes, REVIEW))


def test_only_the_documents_given_become_sections():
    document, _ = legacy_config_translate(legacy("runtime_flags"))

    assert list(document) == ["version", "flags"]


def test_unknown_documents_and_keys_are_reported():
    _, notes = legacy_config_translate(
        {"polling_config": {}, "runtime_flags": {"debug_mode": True}, "webhook_config": {"colour": "blue"}}
    )

    not_mapped = notes_of(notes, NOT_MAPPED)
    assert any(n.startswith("polling_config: not a legacy configuration document") for n in not_mapped)
    assert "runtime_flags.debug_mode: unknown flag" in not_mapped
    assert "webhook_config.colour: unknown key" in not_mapped


@pytest.mark.django_db
def test_without_a_legacy_webhook_url_the_default_endpoint_keeps_its_url():
    endpoint_create(name="default", is_default=True, url="http://127.0.0.1:9/seeded")
    document, notes = legacy_config_translate({"webhook_config": {"webhook_url": None, "webhook_ssl_verify": False}})

    config_import(document)

    default = WebhookEndpoint.objects.get(name="default")
    fields = (default.url, default.verify_tls, default.success_requires_json)
    assert fields == ("http://127.0.0.1:9/seeded", False, True)
    assert any("fell back to its WEBHOOK_URL variable" in n for n in notes_of(notes, NOT_MAPPED))


@pytest.mark.django_db
def test_the_whole_legacy_configuration_passes_the_import_validation():
    document, _ = legacy_config_translate(all_legacy())

    report = config_import(document)

    assert report.endpoints_created == ["default", "Factures"]
    assert report.rules_created == 3
