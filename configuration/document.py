"""The configuration as one JSON document (SPEC §5.2): export, and an all-or-nothing import.

Import first checks the document's shape (types, unknown keys, names and references), then runs every
row through the model's own `full_clean()` — the validators admin uses — inside one transaction, and
rolls the transaction back when anything failed. Every error carries the document path of the value
it is about (`rules[2].conditions[0].operator`), so one run lists everything to fix.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from configuration.models import IngressSettings, RetentionSettings, RuntimeFlags
from configuration.snapshot import config_changed
from routing.conditions import NONE, value_kind
from routing.models import RoutingCondition, RoutingRule
from webhooks.models import DeliverySettings, WebhookEndpoint
from webhooks.services.endpoints import endpoints_deactivate

DOCUMENT_VERSION = 1
SECTIONS = ("settings", "flags", "endpoints", "rules")

# Value kinds of the document; JSON has no other types, so these are all the checks shape needs.
BOOL, INT, INT_OR_NULL, STR, STR_OR_NULL, STR_LIST, INT_LIST, OBJECT, LIST = (
    "bool", "int", "int_or_null", "str", "str_or_null", "str_list", "int_list", "object", "list",
)

SETTINGS_KEYS = {
    "time_zone": STR,
    "sending_enabled": BOOL,
    "window_start": STR_OR_NULL,
    "window_end": STR_OR_NULL,
    "outside_window_policy": STR,
    "absence_enabled": BOOL,
    "absence_days": STR_LIST,
    "sender_allowlist": STR_LIST,
    "rate_limit_per_sender_per_hour": INT,
    "retry_schedule_seconds": INT_LIST,
    "retention_days": INT,
}
# The one settings key stored with the delivery settings (webhooks), the one stored with the retention
# settings; the others are ingress settings.
DELIVERY_SETTINGS_KEYS = {"retry_schedule_seconds"}
RETENTION_SETTINGS_KEYS = {"retention_days"}
SETTINGS_MODELS = (IngressSettings, DeliverySettings, RetentionSettings)
FLAGS_KEYS = {"ingress_enabled": BOOL, "allow_without_links": BOOL, "email_id_dedup_enabled": BOOL}
ENDPOINT_KEYS = {
    "name": STR,
    "url": STR,
    "is_default": BOOL,
    "is_active": BOOL,
    "delivery_mode": STR,
    "fallback_on_415": BOOL,
    "verify_tls": BOOL,
    "timeout_seconds": INT,
    "success_requires_json": BOOL,
    "secret": STR_OR_NULL,
    "headers": OBJECT,
    # The lane (SPEC §7.1), after the keys of the §5.2 example.
    "max_in_flight": INT,
    "rate_limit_per_minute": INT_OR_NULL,
    "breaker_failures": INT,
    # Statuses retried besides the standard ones (SPEC §7).
    "retry_on_status": INT_LIST,
    # Gets the service's alerts (docs/alerts.md).
    "receives_alerts": BOOL,
}
# Custom headers are where receivers' API keys go, so they travel with the signing secret.
ENDPOINT_SECRET_KEYS = ("secret", "headers")
RULE_KEYS = {
    "name": STR,
    "is_active": BOOL,
    "match": STR,
    "conditions": LIST,
    "endpoint": STR_OR_NULL,
    "priority": STR,
    "stop_processing": BOOL,
}
# `header_name` is written only for header conditions; `value` may be left out when the operator takes none.
CONDITION_KEYS = {"field": STR, "operator": STR, "value": STR, "case_sensitive": BOOL, "header_name": STR}
# Model fields stored as "" that the document spells null.
NULLABLE_STRINGS = {"window_start", "window_end", "secret"}


@dataclass(frozen=True)
class ConfigError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigDocumentInvalid(Exception):
    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the config document")


@dataclass
class ImportReport:
    dry_run: bool = False
    sections: list[str] = field(default_factory=list)
    settings_changed: list[str] = field(default_factory=list)
    flags_changed: list[str] = field(default_factory=list)
    endpoints_created: list[str] = field(default_factory=list)
    endpoints_updated: list[str] = field(default_factory=list)
    endpoints_unchanged: list[str] = field(default_factory=list)
    endpoints_deactivated: list[str] = field(default_factory=list)
    rules_removed: int = 0
    rules_created: int = 0

    def lines(self) -> list[str]:
        def names(values: list[str]) -> str:
            return ", ".join(values) if values else "none"

        def changes(values: list[str]) -> str:
            return f"changed {names(values)}" if values else "unchanged"

        lines = []
        if "settings" in self.sections:
            lines.append(f"settings: {changes(self.settings_changed)}")
        if "flags" in self.sections:
            lines.append(f"flags: {changes(self.flags_changed)}")
        if "endpoints" in self.sections:
            lines.append(
                f"endpoints: created {names(self.endpoints_created)}; updated {names(self.endpoints_updated)}; "
                f"unchanged {names(self.endpoints_unchanged)}; deactivated {names(self.endpoints_deactivated)}"
            )
        if "rules" in self.sections:
            lines.append(f"rules: replaced {self.rules_removed} rule(s) with {self.rules_created}")
        skipped = [s for s in SECTIONS if s not in self.sections]
        if skipped:
            lines.append(f"left unchanged (absent from the document): {', '.join(skipped)}")
        return lines


# --- Export ------------------------------------------------------------------------------------


def config_export(include_secrets: bool = False) -> dict:
    """The whole configuration as a version-1 document; secrets and custom headers only on request."""
    rows = {model: _singleton_or_default(model) for model in SETTINGS_MODELS}
    flags = _singleton_or_default(RuntimeFlags)
    endpoints = WebhookEndpoint.objects.order_by("name")
    rules = RoutingRule.objects.select_related("endpoint").prefetch_related("conditions").order_by("position", "id")
    return {
        "version": DOCUMENT_VERSION,
        "settings": {key: _exported(key, getattr(rows[_settings_model(key)], key)) for key in SETTINGS_KEYS},
        "flags": {key: getattr(flags, key) for key in FLAGS_KEYS},
        "endpoints": [_endpoint_exported(endpoint, include_secrets) for endpoint in endpoints],
        "rules": [_rule_exported(rule) for rule in rules],
    }


def _singleton_or_default(model):
    # Export writes nothing: a row not saved yet exports its defaults.
    return model.objects.filter(pk=1).first() or model()


def _endpoint_exported(endpoint: WebhookEndpoint, include_secrets: bool) -> dict:
    keys = [key for key in ENDPOINT_KEYS if include_secrets or key not in ENDPOINT_SECRET_KEYS]
    return {key: _exported(key, getattr(endpoint, key)) for key in keys}


def _rule_exported(rule: RoutingRule) -> dict:
    return {
        "name": rule.name,
        "is_active": rule.is_active,
        "match": rule.match,
        "conditions": [_condition_exported(c) for c in rule.conditions.all()],
        "endpoint": rule.endpoint.name if rule.endpoint else None,
        "priority": rule.priority,
        "stop_processing": rule.stop_processing,
    }


def _condition_exported(condition: RoutingCondition) -> dict:
    keys = [key for key in CONDITION_KEYS if key != "header_name" or condition.field == RoutingCondition.Field.HEADER]
    return {key: getattr(condition, key) for key in keys}


def _exported(key: str, value):
    return (value or None) if key in NULLABLE_STRINGS else value


def config_document_dumps(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def config_document_loads(text: str) -> dict:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigDocumentInvalid(
            [ConfigError("(document)", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from exc
    return document


# --- Import ------------------------------------------------------------------------------------


def config_import(document: dict, *, dry_run: bool = False) -> ImportReport:
    """Apply a version-1 document in one transaction, all or nothing; raise ConfigDocumentInvalid with every error.

    With `dry_run` everything is validated (database references included) and then rolled back.
    """
    if not isinstance(document, dict):
        raise ConfigDocumentInvalid([ConfigError("(document)", f"must be a JSON object, not {_json_type(document)}")])
    errors = _header_check(document)
    report = ImportReport(dry_run=dry_run, sections=[s for s in SECTIONS if s in document])
    with transaction.atomic():
        _sections_import(document, errors, report)
        if errors or dry_run:
            transaction.set_rollback(True)
        else:
            config_changed()  # in the import's transaction: its bulk updates fire no signal
    if errors:
        raise ConfigDocumentInvalid(errors)
    return report


def _header_check(document: dict) -> list[ConfigError]:
    """The document's version and section names."""
    errors = [
        ConfigError(key, f"unknown section (expected {', '.join(SECTIONS)})")
        for key in document
        if key != "version" and key not in SECTIONS
    ]
    version = document.get("version")
    if version != DOCUMENT_VERSION or isinstance(version, bool):
        found = "missing" if "version" not in document else f"got {json.dumps(version)}"
        errors.append(ConfigError("version", f"must be {DOCUMENT_VERSION} ({found})"))
    return errors


def _sections_import(document: dict, errors: list[ConfigError], report: ImportReport) -> None:
    if "settings" in document:
        report.settings_changed = _settings_import(document["settings"], errors)
    if "flags" in document:
        report.flags_changed = _singleton_import(RuntimeFlags, "flags", FLAGS_KEYS, document["flags"], errors)
    endpoints = _endpoints_import(document["endpoints"], errors, report) if "endpoints" in document else None
    if "rules" in document:
        _rules_import(document["rules"], endpoints, errors, report)


def _singleton_import(model, section: str, keys, data, errors: list[ConfigError]) -> list[str]:
    """Apply the flags section to its singleton row; the names of the fields it changed."""
    values = _object_read(data, section, keys, errors)
    if values is None:
        return []
    return _singleton_apply(model, section, keys, values, errors)


def _settings_import(data, errors: list[ConfigError]) -> list[str]:
    """The settings section spans the ingress, delivery (the retry schedule) and retention settings."""
    values = _object_read(data, "settings", SETTINGS_KEYS, errors)
    if values is None:
        return []
    changed = []
    for model in SETTINGS_MODELS:
        keys = [key for key in SETTINGS_KEYS if _settings_model(key) is model]
        changed += _singleton_apply(model, "settings", keys, {k: v for k, v in values.items() if k in keys}, errors)
    return changed


def _singleton_apply(model, section: str, keys, values: dict, errors: list[ConfigError]) -> list[str]:
    row = model.load()
    before = _snapshot(row, keys)
    _assign(row, values)
    if not _full_clean(row, section, keys, errors):
        return []
    row.save()
    return _changed(before, _snapshot(row, keys))


def _settings_model(key: str):
    if key in DELIVERY_SETTINGS_KEYS:
        return DeliverySettings
    return RetentionSettings if key in RETENTION_SETTINGS_KEYS else IngressSettings


@dataclass
class _ImportedEndpoints:
    """What rules may reference after the endpoints section: listed names (None = failed validation)."""

    listed: dict[str, WebhookEndpoint | None]
    deactivated: set[str]


def _endpoints_import(data, errors: list[ConfigError], report: ImportReport) -> _ImportedEndpoints:
    imported = _ImportedEndpoints(listed={}, deactivated=set())
    if not isinstance(data, list):
        errors.append(ConfigError("endpoints", f"must be a list of endpoint objects, not {_json_type(data)}"))
        return imported
    existing = {e.name: e for e in WebhookEndpoint.objects.select_for_update()}
    items = _endpoints_read(data, existing, errors)
    imported.listed = dict.fromkeys(item.endpoint.name for item in items)
    if len(items) == len(data):
        _default_count_check(items, errors)
    _endpoints_save(items, imported, errors, report)
    unlisted = [e for name, e in existing.items() if name not in imported.listed]
    imported.deactivated = {e.name for e in unlisted}
    report.endpoints_deactivated = sorted(e.name for e in unlisted if e.is_active)
    # Never deleted: their deliveries and history stay, and what they still had to send waits, paused.
    endpoints_deactivate(
        WebhookEndpoint.objects.filter(pk__in=[e.pk for e in unlisted]),
        reason=WebhookEndpoint.DeactivatedReason.CONFIG, note="Not listed in an imported config document",
    )
    return imported


@dataclass
class _EndpointItem:
    path: str
    endpoint: WebhookEndpoint  # with the document's values assigned, not saved yet
    before: dict | None  # its values before, None for a new endpoint


def _endpoints_read(data: list, existing: dict, errors: list[ConfigError]) -> list[_EndpointItem]:
    items: list[_EndpointItem] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(data):
        path = f"endpoints[{index}]"
        values = _object_read(item, path, ENDPOINT_KEYS, errors, required=("name",))
        if values is None or "name" not in values:
            continue
        name = values["name"]
        if name in first_seen:
            message = f"duplicate endpoint name '{name}' (also endpoints[{first_seen[name]}])"
            errors.append(ConfigError(f"{path}.name", message))
            continue
        first_seen[name] = index
        endpoint = existing.get(name) or WebhookEndpoint(name=name)
        before = _snapshot(endpoint, ENDPOINT_KEYS) if endpoint.pk else None
        # A secret set by a document replaces the current one at once, as admin's field does (no overlap).
        secret = values.pop("secret", endpoint.secret)
        _assign(endpoint, values)
        endpoint.secret_replace(secret or "")
        items.append(_EndpointItem(path, endpoint, before))
    return items


def _default_count_check(items: list[_EndpointItem], errors: list[ConfigError]) -> None:
    defaults = [item.endpoint.name for item in items if item.endpoint.is_default]
    if len(defaults) != 1:
        found = ", ".join(f"'{name}'" for name in defaults) or "none"
        errors.append(ConfigError("endpoints", f"exactly one endpoint must have is_default true (found {found})"))


def _endpoints_save(
    items: list[_EndpointItem], imported: _ImportedEndpoints, errors: list[ConfigError], report: ImportReport
) -> None:
    # The constraint allows one default row at a time: clear the old default before saving the new one.
    WebhookEndpoint.objects.filter(is_default=True).update(is_default=False)
    seen_default = False
    for item in items:
        endpoint = item.endpoint
        if endpoint.is_default and seen_default:
            endpoint.is_default = False  # already reported; keeps the constraint check quiet
        seen_default |= endpoint.is_default
        if not _full_clean(endpoint, item.path, ENDPOINT_KEYS, errors):
            continue
        endpoint.save()
        imported.listed[endpoint.name] = endpoint
        if item.before is None:
            report.endpoints_created.append(endpoint.name)
        elif _changed(item.before, _snapshot(endpoint, ENDPOINT_KEYS)):
            report.endpoints_updated.append(endpoint.name)
        else:
            report.endpoints_unchanged.append(endpoint.name)


def _rules_import(data, endpoints: _ImportedEndpoints | None, errors: list[ConfigError], report: ImportReport) -> None:
    if not isinstance(data, list):
        errors.append(ConfigError("rules", f"must be a list of rule objects, not {_json_type(data)}"))
        return
    report.rules_removed = RoutingRule.objects.count()
    RoutingRule.objects.all().delete()
    database = {e.name: e for e in WebhookEndpoint.objects.all()}
    for index, item in enumerate(data):
        if _rule_import(item, index, endpoints, database, errors):
            report.rules_created += 1


def _rule_import(
    item,
    index: int,
    endpoints: _ImportedEndpoints | None,
    database: dict[str, WebhookEndpoint],
    errors: list[ConfigError],
) -> bool:
    """Validate one rule and its conditions and save them when all are valid; whether it was saved."""
    path = f"rules[{index}]"
    values = _object_read(item, path, RULE_KEYS, errors, required=("name", "conditions"))
    if values is None:
        return False
    rule = RoutingRule(position=index + 1)  # positions are contiguous, as admin keeps them
    conditions_data = values.pop("conditions", None)
    endpoint_name = values.pop("endpoint", None)
    _assign(rule, values)
    endpoint_resolved = _rule_endpoint_assign(rule, endpoint_name, endpoints, database, f"{path}.endpoint", errors)
    conditions = _conditions_read(conditions_data, f"{path}.conditions", rule, errors)
    # An unresolved endpoint is reported already.
    rule_valid = _full_clean(rule, path, RULE_KEYS, errors, exclude=[] if endpoint_resolved else ["endpoint"])
    conditions_valid = all(
        [_full_clean(c, f"{path}.conditions[{i}]", CONDITION_KEYS, errors, exclude=["rule"]) for i, c in conditions]
    )
    if not (rule_valid and conditions_valid and conditions and endpoint_resolved):
        return False
    rule.save()
    for _, condition in conditions:
        condition.rule = rule
        condition.save()
    return True


def _rule_endpoint_assign(
    rule: RoutingRule,
    name: str | None,
    endpoints: _ImportedEndpoints | None,
    database: dict[str, WebhookEndpoint],
    path: str,
    errors: list[ConfigError],
) -> bool:
    """Point the rule at the endpoint named; False when it cannot (reported here or among the endpoints' errors)."""
    if name is None:
        return True
    endpoint, problem = _endpoint_resolve(name, endpoints, database)
    if problem:
        errors.append(ConfigError(path, problem))
    rule.endpoint = endpoint
    return endpoint is not None


def _endpoint_resolve(
    name: str, endpoints: _ImportedEndpoints | None, database: dict[str, WebhookEndpoint]
) -> tuple[WebhookEndpoint | None, str]:
    if endpoints is not None and name in endpoints.listed:
        return endpoints.listed[name], ""
    if endpoints is not None and name in endpoints.deactivated:
        return None, (
            f"endpoint '{name}' is not listed in endpoints, so this import deactivates it; "
            "list it or point the rule at another endpoint"
        )
    if name in database:
        return database[name], ""
    return None, f"no endpoint named '{name}' in this document or in the database"


def _conditions_read(
    data, path: str, rule: RoutingRule, errors: list[ConfigError]
) -> list[tuple[int, RoutingCondition]]:
    if data is None:
        return []
    if not isinstance(data, list) or not data:
        kind = "an empty list" if isinstance(data, list) else _json_type(data)
        errors.append(ConfigError(path, f"a rule needs a list of at least one condition, not {kind}"))
        return []
    conditions = []
    for index, item in enumerate(data):
        required = ("field", "operator") if _takes_no_value(item) else ("field", "operator", "value")
        values = _object_read(item, f"{path}[{index}]", CONDITION_KEYS, errors, required=required)
        if values is None:
            continue
        condition = RoutingCondition(rule=rule)
        _assign(condition, values)
        conditions.append((index, condition))
    return conditions


def _takes_no_value(item) -> bool:
    """is_true / is_false conditions have no value to give."""
    if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("field", "operator")):
        return False
    return value_kind(item["field"], item["operator"]) == NONE


# --- Shape checks and model validation ---------------------------------------------------------


def _object_read(data, path: str, keys: dict[str, str], errors: list[ConfigError], required=()) -> dict | None:
    """The keys of `data` whose value has the right type; None when `data` is not an object at all."""
    if not isinstance(data, dict):
        errors.append(ConfigError(path, f"must be an object, not {_json_type(data)}"))
        return None
    values = {}
    for key, value in data.items():
        key_path = f"{path}.{key}"
        if key not in keys:
            errors.append(ConfigError(key_path, f"unknown key (expected one of: {', '.join(keys)})"))
            continue
        problem = _type_problem(value, keys[key], key_path)
        if problem:
            errors.append(problem)
            continue
        values[key] = value
    for key in required:
        if key not in data:
            errors.append(ConfigError(f"{path}.{key}", "is required"))
    return values


def _type_problem(value, kind: str, path: str) -> ConfigError | None:
    expected = {
        BOOL: (lambda v: isinstance(v, bool), "true or false"),
        INT: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
        INT_OR_NULL: (
            lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
            "a whole number or null",
        ),
        STR: (lambda v: isinstance(v, str), "a string"),
        STR_OR_NULL: (lambda v: v is None or isinstance(v, str), "a string or null"),
        OBJECT: (lambda v: isinstance(v, dict), "an object"),
        LIST: (lambda v: isinstance(v, list), "a list"),
        STR_LIST: (lambda v: isinstance(v, list), "a list of strings"),
        INT_LIST: (lambda v: isinstance(v, list), "a list of whole numbers"),
    }[kind]
    if not expected[0](value):
        return ConfigError(path, f"must be {expected[1]}, not {_json_type(value)}")
    item_check = {STR_LIST: STR, INT_LIST: INT}.get(kind)
    if item_check:
        for index, item in enumerate(value):
            problem = _type_problem(item, item_check, f"{path}[{index}]")
            if problem:
                return problem
    return None


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _assign(instance, values: dict) -> None:
    for key, value in values.items():
        setattr(instance, key, "" if value is None and key in NULLABLE_STRINGS else value)


def _full_clean(instance, path: str, keys: dict[str, str], errors: list[ConfigError], exclude=()) -> bool:
    """Run the model's own validation (as admin does); report its errors under the document path."""
    reported = {e.path for e in errors}
    try:
        instance.full_clean(exclude=list(exclude) or None)
    except ValidationError as exc:
        for model_field, messages in _messages_by_field(exc):
            if model_field in keys:
                field_path = f"{path}.{model_field}"
                prefix = ""
            else:
                field_path = path
                prefix = "" if model_field == NON_FIELD_ERRORS else f"{model_field}: "
            if field_path in reported and field_path != path:
                continue  # its type was already refused; the model's echo adds nothing
            errors.extend(ConfigError(field_path, prefix + message) for message in messages)
        return False
    return True


def _messages_by_field(exc: ValidationError) -> list[tuple[str, list[str]]]:
    if hasattr(exc, "error_dict"):
        return list(exc.message_dict.items())
    return [(NON_FIELD_ERRORS, exc.messages)]


def _snapshot(instance, keys) -> dict:
    return {key: getattr(instance, key) for key in keys if hasattr(instance, key)}


def _changed(before: dict, after: dict) -> list[str]:
    return [key for key in after if before.get(key) != after[key]]
