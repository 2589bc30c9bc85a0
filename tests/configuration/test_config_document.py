"""The configuration document (SPEC §5.2): export, all-or-nothing import, errors by path."""

import copy

import pytest

from configuration.document import ConfigDocumentInvalid, config_export, config_import
from configuration.models import IngressSettings, RuntimeFlags
from configuration.snapshot import ingress_config_get
from routing.models import RoutingCondition, RoutingRule
from tests.factories import delivery_settings_update, endpoint_create, flags_update, settings_update
from webhooks import signing
from webhooks.models import DeliverySettings, WebhookEndpoint
from webhooks.services.endpoints import endpoint_secret_rotate

pytestmark = pytest.mark.django_db

SPEC_EXAMPLE = {
    "version": 1,
    "settings": {
        "time_zone": "Europe/Paris",
        "sending_enabled": True,
        "window_start": "09h00",
        "window_end": "17h00",
        "outside_window_policy": "reject",
        "absence_enabled": False,
        "absence_days": [],
        "sender_allowlist": [],
        "rate_limit_per_sender_per_hour": 0,
        "retry_schedule_seconds": [0, 5, 300, 1800, 7200, 18000, 36000, 36000],
    },
    "flags": {"ingress_enabled": True, "allow_without_links": False, "email_id_dedup_enabled": True},
    "endpoints": [
        {
            "name": "default",
            "url": "http://127.0.0.1:9/in",
            "is_default": True,
            "is_active": True,
            "delivery_mode": "json",
            "fallback_on_415": True,
            "verify_tls": True,
            "timeout_seconds": 30,
            "success_requires_json": False,
            "secret": None,
            "headers": {},
        },
        {"name": "billing", "url": "http://127.0.0.1:9/billing"},
    ],
    "rules": [
        {
            "name": "Billing",
            "is_active": True,
            "match": "all",
            "conditions": [{"field": "subject", "operator": "contains", "value": "facture", "case_sensitive": False}],
            "endpoint": "billing",
            "priority": "normal",
            "stop_processing": True,
        }
    ],
}


def document(**sections) -> dict:
    """The spec's example with some sections replaced (None drops a section)."""
    doc = copy.deepcopy(SPEC_EXAMPLE)
    for name, value in sections.items():
        if value is None:
            doc.pop(name)
        else:
            doc[name] = value
    return doc


def errors_of(doc) -> list[str]:
    with pytest.raises(ConfigDocumentInvalid) as caught:
        config_import(doc)
    return [str(e) for e in caught.value.errors]


def rule_create(name, *, endpoint=None, position=10, conditions=(("subject", "contains", "x"),), **values):
    rule = RoutingRule.objects.create(name=name, endpoint=endpoint, position=position, **values)
    for field, operator, value in conditions:
        RoutingCondition.objects.create(rule=rule, field=field, operator=operator, value=value)
    return rule


def rich_configuration():
    settings_update(
        time_zone="Europe/Zurich",
        window_start="08h30",
        window_end="18:00",
        outside_window_policy="defer",
        absence_enabled=True,
        absence_days=["saturday", "sunday"],
        sender_allowlist=["b@acme.fr", "a@acme.fr"],
        rate_limit_per_sender_per_hour=12,
    )
    delivery_settings_update(retry_schedule_seconds=[0, 60, 600])
    flags_update(allow_without_links=True, email_id_dedup_enabled=False)
    default = endpoint_create(
        name="default", is_default=True, secret="whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng==",
        headers={"X-Api-Key": "k-123"}, success_requires_json=True, delivery_mode="legacy_form_header",
    )
    billing = endpoint_create(name="billing", timeout_seconds=12, verify_tls=False)
    endpoint_create(name="retired", is_active=False)
    rule_create(
        "Billing", endpoint=billing, position=10, priority="high",
        conditions=[("subject", "contains", "facture"), ("sender", "regex", r"@acme\.fr$")],
    )
    rule_create("Drop spam", endpoint=None, position=20, stop_processing=True, match="any",
                conditions=[("body", "not_contains", "désabonner")])
    rule_create("Default too", endpoint=default, position=30, is_active=False)


def database_empty():
    RoutingRule.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    IngressSettings.objects.all().delete()
    DeliverySettings.objects.all().delete()
    RuntimeFlags.objects.all().delete()


# --- Export ------------------------------------------------------------------------------------


def test_export_has_the_documented_sections_and_keys():
    rich_configuration()

    exported = config_export(include_secrets=True)

    assert list(exported) == ["version", "settings", "flags", "endpoints", "rules"]
    assert exported["version"] == 1
    assert list(exported["settings"]) == list(SPEC_EXAMPLE["settings"]) + ["retention_days"]
    lane_keys = ["max_in_flight", "rate_limit_per_minute", "breaker_failures"]
    added = ["retry_on_status", "receives_alerts"]
    assert list(exported["endpoints"][0]) == list(SPEC_EXAMPLE["endpoints"][0]) + lane_keys + added
    assert list(exported["rules"][0]) == list(SPEC_EXAMPLE["rules"][0])
    assert exported["settings"]["window_start"] == "08h30"
    assert [r["name"] for r in exported["rules"]] == ["Billing", "Drop spam", "Default too"]
    assert exported["rules"][1]["endpoint"] is None
    assert exported["rules"][0]["conditions"][1] == {
        "field": "sender", "operator": "regex", "value": r"@acme\.fr$", "case_sensitive": False,
    }


def test_export_writes_no_window_and_no_secret_as_null():
    endpoint_create(name="default", is_default=True)

    exported = config_export(include_secrets=True)

    assert exported["settings"]["window_start"] is None and exported["settings"]["window_end"] is None
    assert exported["endpoints"][0]["secret"] is None


def test_export_leaves_out_secrets_and_headers_unless_asked():
    rich_configuration()

    exported = config_export()

    assert all("secret" not in e and "headers" not in e for e in exported["endpoints"])
    # Quoted: the factory's endpoint URLs (…/hook-123) hold k-123 too.
    assert "whsec_" not in str(exported) and "'k-123'" not in str(exported)


def test_export_of_an_empty_database_writes_nothing():
    config_export()

    assert not IngressSettings.objects.exists() and not RuntimeFlags.objects.exists()
    assert not DeliverySettings.objects.exists()


# --- Round trip --------------------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_exports_the_same_document():
    rich_configuration()
    exported = config_export(include_secrets=True)
    database_empty()

    config_import(copy.deepcopy(exported))

    assert config_export(include_secrets=True) == exported


def test_importing_an_export_onto_itself_changes_nothing():
    rich_configuration()
    exported = config_export(include_secrets=True)

    report = config_import(copy.deepcopy(exported))

    assert report.settings_changed == [] and report.flags_changed == []
    assert report.endpoints_updated == [] and report.endpoints_created == []
    assert config_export(include_secrets=True) == exported


# --- Semantics of import -----------------------------------------------------------------------


def test_the_spec_example_is_applied_to_every_model():
    report = config_import(document())

    prefs = IngressSettings.load()
    assert (prefs.window_start, prefs.window_end, prefs.time_zone) == ("09h00", "17h00", "Europe/Paris")
    assert RuntimeFlags.load().ingress_enabled is True
    default = WebhookEndpoint.objects.get(name="default")
    assert default.is_default and default.url == "http://127.0.0.1:9/in"
    rule = RoutingRule.objects.get()
    assert rule.endpoint.name == "billing" and rule.stop_processing
    assert list(rule.conditions.values_list("field", "operator", "value")) == [("subject", "contains", "facture")]
    assert report.endpoints_created == ["default", "billing"] and report.rules_created == 1


def test_a_section_absent_from_the_document_is_left_unchanged():
    rich_configuration()
    before = config_export(include_secrets=True)

    config_import({"version": 1, "flags": {"ingress_enabled": False}})

    after = config_export(include_secrets=True)
    assert after["flags"]["ingress_enabled"] is False
    assert {k: after[k] for k in ("settings", "endpoints", "rules")} == {
        k: before[k] for k in ("settings", "endpoints", "rules")
    }


def test_keys_absent_from_a_section_keep_their_values():
    settings_update(window_start="08h00", window_end="12h00", rate_limit_per_sender_per_hour=7)

    config_import({"version": 1, "settings": {"rate_limit_per_sender_per_hour": 3}})

    prefs = IngressSettings.load()
    assert (prefs.window_start, prefs.window_end, prefs.rate_limit_per_sender_per_hour) == ("08h00", "12h00", 3)


def test_null_window_bounds_mean_no_window():
    settings_update(window_start="08h00", window_end="12h00")

    config_import({"version": 1, "settings": {"window_start": None, "window_end": None}})

    prefs = IngressSettings.load()
    assert (prefs.window_start, prefs.window_end) == ("", "")


def test_endpoints_are_upserted_by_name():
    endpoint_create(name="default", is_default=True, timeout_seconds=10, url="http://127.0.0.1:9/old")

    report = config_import({"version": 1, "endpoints": [{"name": "default", "url": "http://127.0.0.1:9/new"}]})

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.timeout_seconds, endpoint.is_default) == ("http://127.0.0.1:9/new", 10, True)
    assert report.endpoints_updated == ["default"]


def test_endpoints_not_listed_are_deactivated_never_deleted():
    endpoint_create(name="default", is_default=True)
    old = endpoint_create(name="old-receiver")

    report = config_import({"version": 1, "endpoints": [{"name": "default"}]})

    old.refresh_from_db()
    assert old.is_active is False
    assert (old.deactivated_reason, old.deactivated_note) == ("config", "Not listed in an imported config document")
    assert report.endpoints_deactivated == ["old-receiver"]


def test_the_default_endpoint_can_move_to_another_endpoint():
    endpoint_create(name="a", is_default=True)
    endpoint_create(name="b")

    config_import({"version": 1, "endpoints": [{"name": "a", "is_default": False}, {"name": "b", "is_default": True}]})

    assert list(WebhookEndpoint.objects.filter(is_default=True).values_list("name", flat=True)) == ["b"]


def test_an_endpoint_without_a_secret_key_keeps_its_secret_and_headers():
    kept = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # secrets are validated on save (Standard Webhooks form)
    endpoint_create(name="default", is_default=True, secret=kept, headers={"X-Api-Key": "k"})

    config_import({"version": 1, "endpoints": [{"name": "default", "timeout_seconds": 5}]})

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.secret, endpoint.headers, endpoint.timeout_seconds) == (kept, {"X-Api-Key": "k"}, 5)


def test_a_null_secret_clears_it():
    endpoint_create(name="default", is_default=True, secret="drop-me")

    config_import({"version": 1, "endpoints": [{"name": "default", "secret": None}]})

    assert WebhookEndpoint.objects.get().secret == ""


def test_rules_replace_every_rule_in_the_listed_order():
    default = endpoint_create(name="default", is_default=True)
    rule_create("Old", endpoint=default)
    rules = [
        {
            "name": name,
            "conditions": [{"field": "subject", "operator": "contains", "value": name}],
            "stop_processing": True,
        }
        for name in ("Third", "First", "Second")
    ]

    report = config_import({"version": 1, "rules": rules})

    assert list(RoutingRule.objects.order_by("position").values_list("name", flat=True)) == ["Third", "First", "Second"]
    assert (report.rules_removed, report.rules_created) == (1, 3)


def test_a_rule_may_reference_an_endpoint_only_in_the_database():
    endpoint_create(name="default", is_default=True)
    endpoint_create(name="archive")

    config_import({"version": 1, "rules": [
        {"name": "R", "endpoint": "archive", "conditions": [{"field": "body", "operator": "contains", "value": "x"}]},
    ]})

    assert RoutingRule.objects.get().endpoint.name == "archive"


def test_after_an_import_ingress_sees_the_new_configuration():
    endpoint_create(name="default", is_default=True)
    endpoint_create(name="old-receiver")
    assert not ingress_config_get().inactive_endpoint_ids

    config_import({"version": 1, "flags": {"ingress_enabled": False}, "endpoints": [{"name": "default"}]})

    config = ingress_config_get()
    assert config.ingress_enabled is False
    names = config.endpoint_names
    assert [names[pk] for pk in config.inactive_endpoint_ids] == ["old-receiver"]


def test_a_dry_run_validates_against_the_database_and_changes_nothing():
    endpoint_create(name="default", is_default=True)
    before = config_export(include_secrets=True)

    report = config_import(document(), dry_run=True)

    assert report.dry_run and report.endpoints_created == ["billing"]
    assert config_export(include_secrets=True) == before


# --- Errors ------------------------------------------------------------------------------------


def test_every_error_is_reported_with_its_path_and_nothing_changes():
    rich_configuration()
    before = config_export(include_secrets=True)
    doc = document()
    doc["settings"]["window_start"] = "25h00"
    doc["endpoints"][1]["url"] = "https://example.com/hook"
    doc["rules"] = [doc["rules"][0], doc["rules"][0], copy.deepcopy(doc["rules"][0])]
    doc["rules"][2]["conditions"][0]["operator"] = "sounds_like"

    errors = errors_of(doc)

    assert errors == [
        "settings.window_start: Use HHhMM or HH:MM (00h00 to 23h59).",
        "endpoints[1].url: 'example.com' is a placeholder host, not a real receiver.",
        "rules[2].conditions[0].operator: Unknown operator 'sounds_like': "
        "choose contains, not_contains, equals, starts_with, regex, in, gt, lt, is_true or is_false.",
    ]
    assert config_export(include_secrets=True) == before


def test_the_models_own_validation_applies():
    doc = document(settings={"window_start": "10h00", "window_end": "10:00", "absence_enabled": True})
    doc["endpoints"][0]["timeout_seconds"] = 301
    doc["endpoints"][1]["headers"] = {"Content-Type": "text/plain"}

    errors = errors_of(doc)

    assert "settings.window_end: Window start and end cannot be equal." in errors
    assert "settings.absence_days: Choose at least one absence day, or disable absence." in errors
    assert "endpoints[0].timeout_seconds: Timeout must be between 1 and 300 seconds." in errors
    assert any(e.startswith("endpoints[1].headers: These headers are set by Signal Server") for e in errors)


def test_unknown_keys_are_refused_with_their_path():
    doc = document()
    doc["extras"] = {}
    doc["settings"]["windows"] = "09h00"
    doc["rules"][0]["conditions"][0]["negate"] = True

    errors = errors_of(doc)

    assert [e.split(":")[0] for e in errors] == ["extras", "settings.windows", "rules[0].conditions[0].negate"]


def test_values_of_the_wrong_type_are_refused_not_coerced():
    doc = document(flags={"ingress_enabled": "false"})
    doc["settings"]["rate_limit_per_sender_per_hour"] = "5"
    doc["settings"]["retry_schedule_seconds"] = [0, 5.5]
    doc["endpoints"][0]["is_default"] = 1

    errors = errors_of(doc)

    assert "flags.ingress_enabled: must be true or false, not a string" in errors
    assert "settings.rate_limit_per_sender_per_hour: must be a whole number, not a string" in errors
    assert "settings.retry_schedule_seconds[1]: must be a whole number, not a decimal number" in errors
    assert "endpoints[0].is_default: must be true or false, not a whole number" in errors


def test_the_version_must_be_1():
    assert errors_of({"flags": {}}) == ["version: must be 1 (missing)"]
    assert errors_of({"version": 2}) == ["version: must be 1 (got 2)"]


def test_a_document_that_is_not_an_object_is_refused():
    assert errors_of([]) == ["(document): must be a JSON object, not a list"]


def test_duplicate_endpoint_names_are_refused():
    doc = document()
    doc["endpoints"].append({"name": "billing", "url": "http://127.0.0.1:9/other"})

    assert "endpoints[2].name: duplicate endpoint name 'billing' (also endpoints[1])" in errors_of(doc)


def test_exactly_one_endpoint_is_the_default():
    two = document()
    two["endpoints"][1]["is_default"] = True
    none = document()
    none["endpoints"][0]["is_default"] = False

    assert "endpoints: exactly one endpoint must have is_default true (found 'default', 'billing')" in errors_of(two)
    assert "endpoints: exactly one endpoint must have is_default true (found none)" in errors_of(none)


def test_a_rule_endpoint_must_exist_in_the_document_or_the_database():
    doc = document()
    doc["rules"][0]["endpoint"] = "nowhere"

    assert errors_of(doc) == ["rules[0].endpoint: no endpoint named 'nowhere' in this document or in the database"]


def test_a_rule_cannot_target_an_endpoint_the_same_import_deactivates():
    endpoint_create(name="archive")
    doc = document()
    doc["rules"][0]["endpoint"] = "archive"

    errors = errors_of(doc)

    assert errors == [
        "rules[0].endpoint: endpoint 'archive' is not listed in endpoints, so this import deactivates it; "
        "list it or point the rule at another endpoint"
    ]


def test_a_rule_needs_a_name_and_at_least_one_condition():
    doc = document(rules=[{"name": "", "conditions": []}, {"conditions": [{"field": "subject"}]}])

    errors = errors_of(doc)

    assert "rules[0].conditions: a rule needs a list of at least one condition, not an empty list" in errors
    assert "rules[0].name: This field cannot be blank." in errors
    assert "rules[1].name: is required" in errors
    assert "rules[1].conditions[0].operator: is required" in errors
    assert "rules[1].conditions[0].value: is required" in errors


def test_imported_rules_get_contiguous_positions_in_document_order(db):
    document = {
        "version": 1,
        "rules": [
            {"name": name, "conditions": [{"field": "subject", "operator": "contains", "value": name}],
             "stop_processing": True}
            for name in ("first", "second", "third")
        ],
    }
    config_import(document)
    assert list(RoutingRule.objects.order_by("position").values_list("name", "position")) == [
        ("first", 1), ("second", 2), ("third", 3)
    ]


def test_lane_limits_are_imported_and_validated():
    endpoint_create(name="default", is_default=True)
    config_import({"version": 1, "endpoints": [
        {"name": "default", "max_in_flight": 2, "rate_limit_per_minute": 30, "breaker_failures": 3},
    ]})
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.max_in_flight, endpoint.rate_limit_per_minute, endpoint.breaker_failures) == (2, 30, 3)

    with pytest.raises(ConfigDocumentInvalid) as raised:
        config_import({"version": 1, "endpoints": [
            {"name": "default", "max_in_flight": 2, "rate_limit_per_minute": "30", "breaker_failures": 3},
        ]})
    paths = [error.path for error in raised.value.errors]
    assert paths == ["endpoints[0].rate_limit_per_minute"]


def test_an_endpoint_is_flagged_to_receive_the_alerts():
    endpoint_create(name="default", is_default=True)

    config_import({"version": 1, "endpoints": [{"name": "default"}, {"name": "ops", "url": "https://ops.acme.fr/in",
                                                "receives_alerts": True}]})

    assert dict(WebhookEndpoint.objects.values_list("name", "receives_alerts")) == {"default": False, "ops": True}


def test_a_lane_limit_out_of_range_is_refused_with_its_path():
    endpoint_create(name="default", is_default=True)
    with pytest.raises(ConfigDocumentInvalid) as raised:
        config_import({"version": 1, "endpoints": [{"name": "default", "max_in_flight": 0}]})
    assert [str(e) for e in raised.value.errors] == [
        "endpoints[0].max_in_flight: Ensure this value is greater than or equal to 1."
    ]

# --- Retried statuses and secrets --------------------------------------------------------------


def test_retry_on_status_is_exported_and_imported_sorted():
    endpoint_create(name="default", is_default=True, retry_on_status=[409])
    assert config_export()["endpoints"][0]["retry_on_status"] == [409]

    config_import({"version": 1, "endpoints": [{"name": "default", "retry_on_status": [409, 404, 404]}]})

    assert WebhookEndpoint.objects.get().retry_on_status == [404, 409]
    assert config_export()["endpoints"][0]["retry_on_status"] == [404, 409]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([404, "409"], "endpoints[0].retry_on_status[1]: must be a whole number, not a string"),
        (404, "endpoints[0].retry_on_status: must be a list of whole numbers, not a whole number"),
        ([404, 302], "endpoints[0].retry_on_status: Only 4xx and 5xx answers can be retried (400 to 599): 302."),
        ([410], "endpoints[0].retry_on_status: 410 Gone cannot be retried: it deactivates the endpoint (its "
                "deliveries wait, paused, until it is activated again)."),
    ],
)
def test_bad_retry_on_status_is_refused_with_its_path(value, error):
    endpoint_create(name="default", is_default=True)
    assert errors_of({"version": 1, "endpoints": [{"name": "default", "retry_on_status": value}]}) == [error]
    assert WebhookEndpoint.objects.get().retry_on_status == []


def test_a_secret_changed_by_a_document_replaces_it_at_once_ending_a_rotation_overlap():
    endpoint = endpoint_create(name="default", is_default=True, secret="whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng==")
    endpoint_secret_rotate(endpoint)
    fresh = signing.secret_generate()

    config_import({"version": 1, "endpoints": [{"name": "default", "secret": fresh}]})

    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at) == (fresh, "", None)


def test_importing_the_current_secret_keeps_a_rotation_overlap():
    endpoint = endpoint_create(name="default", is_default=True, secret="whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng==")
    rotation = endpoint_secret_rotate(endpoint)

    config_import(config_export(include_secrets=True))

    endpoint.refresh_from_db()
    assert endpoint.previous_secret == "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng=="
    assert endpoint.previous_secret_expires_at == rotation.previous_valid_until
