"""Translation of the legacy Flask app's stored configuration into a version-1 config document.

The legacy app kept four JSON documents (`webhook_config`, `routing_rules`, `processing_prefs`,
`runtime_flags`; see shared/reference/legacy-config-routing.md §2-§5). `legacy_config_translate` maps
them onto the document `config_import` applies, so validation is the same as for any import, and
explains every value it mapped, left out, or whose behaviour differs here.
"""

import re
from dataclasses import dataclass

from core.network import url_mask
from core.times import WEEKDAYS, time_parse

LEGACY_DOCUMENTS = ("webhook_config", "routing_rules", "processing_prefs", "runtime_flags")
DEFAULT_ENDPOINT_NAME = "default"

MAPPED, NOT_MAPPED, REVIEW = "mapped", "not mapped", "review"

WEBHOOK_CONFIG_IGNORED = {
    "_updated_at": "a save timestamp; the models keep their own",
    "global_time_start": "the legacy dashboard's second window, never enforced on the Gmail path",
    "global_time_end": "the legacy dashboard's second window, never enforced on the Gmail path",
    "recadrage_webhook_url": "obsolete; nothing in the legacy app read it",
    "autorepondeur_webhook_url": "obsolete; nothing in the legacy app read it",
    "polling_enabled": "obsolete IMAP polling switch",
}
PREFS_UNUSED = {
    "exclude_keywords": "stored but never applied by the legacy app",
    "exclude_keywords_recadrage": "stored but never applied by the legacy app",
    "exclude_keywords_autorepondeur": "only read by dead legacy code",
    "require_attachments": "stored but never applied by the legacy app",
    "max_email_size_mb": "never applied by the legacy app; INGRESS_MAX_BYTES bounds pushes here",
    "sender_priority": "stored but never applied by the legacy app",
    "notify_on_failure": "a UI-only switch in the legacy app",
    "mirror_media_to_custom": "stored but never applied by the legacy app",
    "rate_limit_per_hour": (
        "inert in the legacy app (its rate limiter was never called correctly); the per-sender limit "
        "rate_limit_per_sender_per_hour is set in admin"
    ),
}
LEGACY_DEFAULT_RULE_NAMES = {"webhook par défaut (backend)", "webhook par defaut (backend)"}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off", ""}
_MAKE_ALIAS = re.compile(r"^([A-Za-z0-9_-]+)@(hook\.(?:eu|us)\d+\.make\.com)$", re.IGNORECASE)


@dataclass(frozen=True)
class MappingNote:
    kind: str  # mapped | not mapped | review
    source: str  # where in the legacy documents, e.g. "webhook_config.webhook_url"
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


def make_url_normalise(value: str) -> str | None:
    """The legacy forms of a webhook target as a URL: `https://…` as is, `token@hook.eu2.make.com`, a bare token.

    Every Make.com region is understood (the legacy app knew only eu2); anything else is None.
    """
    value = value.strip()
    if not value:
        return None
    if value.lower().startswith(("https://", "http://")):
        return value
    alias = _MAKE_ALIAS.match(value)
    if alias:
        return f"https://{alias.group(2).lower()}/{alias.group(1)}"
    if not any(c in value for c in "/ @"):
        return f"https://hook.eu2.make.com/{value}"
    return None


class _Translation:
    def __init__(self, default_endpoint_name: str, rules_active: bool):
        self.default_name = default_endpoint_name
        self.rules_active = rules_active
        self.notes: list[MappingNote] = []
        self.settings: dict = {}
        self.flags: dict = {}
        self.default_endpoint: dict | None = None
        self.default_url: str | None = None
        # Delivery options the legacy app applied to every send, default target and rule targets alike.
        self.delivery = {
            "delivery_mode": "json",
            "fallback_on_415": True,
            "verify_tls": True,
            "success_requires_json": True,
        }
        self.rule_endpoints: dict[str, dict] = {}  # url -> endpoint entry
        self.rules: list[dict] | None = None

    def note(self, kind: str, source: str, message: str) -> None:
        self.notes.append(MappingNote(kind, source, message))

    def boolean(self, value, source: str) -> bool | None:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            parsed = value.strip().lower() in _TRUE
            self.note(
                REVIEW,
                source,
                f"stored as the string {value!r}, read as {str(parsed).lower()}; the legacy app treated any "
                "non-empty string as true",
            )
            return parsed
        self.note(NOT_MAPPED, source, f"{value!r} is not a boolean")
        return None

    def integer(self, value, source: str, low: int, high: int) -> int | None:
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            number = int(value.strip())
        if number is None or not low <= number <= high:
            self.note(NOT_MAPPED, source, f"{value!r} is not a whole number between {low} and {high}")
            return None
        return number


def legacy_config_translate(
    docs: dict, *, default_endpoint_name: str = DEFAULT_ENDPOINT_NAME, rules_active: bool = True
) -> tuple[dict, list[MappingNote]]:
    """Map the legacy documents present in `docs` onto a version-1 config document.

    Sections come only from the documents given, so everything else stays as it is. The default
    endpoint is `default_endpoint_name`; with no usable legacy `webhook_url` its entry carries no
    `url` and an existing endpoint of that name keeps its own. `rules_active=False` imports the rules
    switched off, for review in admin first (the legacy Gmail path never applied them).
    """
    t = _Translation(default_endpoint_name, rules_active)
    documents = _documents_select(t, docs)
    # In this order: every endpoint copies the delivery options (the timeout from the prefs, the rest from
    # webhook_config), and each rule's URL is matched against the default endpoint's.
    steps = (
        ("processing_prefs", _processing_prefs),
        ("webhook_config", _webhook_config),
        ("runtime_flags", _runtime_flags),
        ("routing_rules", _routing_rules),
    )
    for name, translate in steps:
        if name in documents:
            translate(t, documents[name])
    return _document(t), t.notes


def _documents_select(t: _Translation, docs: dict) -> dict:
    """The legacy documents of `docs` that have the right shape; unknown names and wrong shapes are noted."""
    for name in docs:
        if name not in LEGACY_DOCUMENTS:
            t.note(NOT_MAPPED, name, f"not a legacy configuration document ({', '.join(LEGACY_DOCUMENTS)})")
    documents = {}
    for name in LEGACY_DOCUMENTS:
        if name not in docs:
            continue
        # routing_rules was sometimes stored as the bare list of rules.
        if isinstance(docs[name], dict) or (name == "routing_rules" and isinstance(docs[name], list)):
            documents[name] = docs[name]
        else:
            t.note(NOT_MAPPED, name, "not a JSON object")
    return documents


def _document(t: _Translation) -> dict:
    document: dict = {"version": 1}
    if t.settings:
        document["settings"] = t.settings
    if t.flags:
        document["flags"] = t.flags
    endpoints = _endpoints(t)
    if endpoints:
        document["endpoints"] = endpoints
    _timeout_note(t, endpoints)
    if t.rules is not None:
        document["rules"] = t.rules
    return document


def _endpoints(t: _Translation) -> list[dict]:
    """The default endpoint then the rules' ones; none when no document gave an endpoint."""
    if t.default_endpoint is None and not t.rule_endpoints:
        return []
    default = t.default_endpoint or {"name": t.default_name, "is_default": True, "is_active": True}
    timeout = t.delivery.get("timeout_seconds")
    if timeout is not None:
        default["timeout_seconds"] = timeout
    return [default, *t.rule_endpoints.values()]


def _timeout_note(t: _Translation, endpoints: list[dict]) -> None:
    timeout = t.delivery.get("timeout_seconds")
    if timeout is None:
        return
    source = "processing_prefs.webhook_timeout_sec"
    if endpoints:
        names = ", ".join(e["name"] for e in endpoints)
        t.note(MAPPED, source, f"timeout_seconds = {timeout} on endpoints {names}")
        return
    t.note(
        NOT_MAPPED,
        source,
        "applies to the endpoints imported from webhook_config or routing_rules; none were given, so endpoint "
        "timeouts are unchanged",
    )


def _processing_prefs(t: _Translation, prefs: dict) -> None:
    # Absent keys take the legacy defaults (retry_count 0, retry_delay_sec 2, webhook_timeout_sec 30).
    count = t.integer(prefs.get("retry_count", 0), "processing_prefs.retry_count", 0, 10)
    delay = t.integer(prefs.get("retry_delay_sec", 2), "processing_prefs.retry_delay_sec", 0, 600)
    if count is not None and delay is not None:
        schedule = [0] + [delay] * count
        t.settings["retry_schedule_seconds"] = schedule
        t.note(
            MAPPED,
            "processing_prefs.retry_count, retry_delay_sec",
            f"settings.retry_schedule_seconds = {schedule} ({count + 1} attempt(s), {delay} s apart)",
        )
        t.note(
            REVIEW,
            "processing_prefs.retry_count",
            "the legacy app retried only network errors and HTTP 415; here 408, 425, 429 and 5xx answers are "
            "retried too, with ±20 % jitter"
            + ("; with a single attempt a receiver outage fails the delivery at once (the default schedule "
               "retries for about a day)" if count == 0 else ""),
        )
    timeout = t.integer(prefs.get("webhook_timeout_sec", 30), "processing_prefs.webhook_timeout_sec", 1, 300)
    if timeout is not None:
        t.delivery["timeout_seconds"] = timeout  # noted in _document, once the endpoints are known
    for key in prefs:
        if key in PREFS_UNUSED:
            t.note(NOT_MAPPED, f"processing_prefs.{key}", PREFS_UNUSED[key])
        elif key not in ("retry_count", "retry_delay_sec", "webhook_timeout_sec"):
            t.note(NOT_MAPPED, f"processing_prefs.{key}", "unknown key")


def _webhook_config(t: _Translation, config: dict) -> None:
    source = "webhook_config"
    for key, why in WEBHOOK_CONFIG_IGNORED.items():
        if key in config:
            t.note(NOT_MAPPED, f"{source}.{key}", why)
    known = set(WEBHOOK_CONFIG_IGNORED) | {
        "webhook_url", "webhook_ssl_verify", "webhook_sending_enabled", "webhook_delivery_mode",
        "webhook_fallback_on_415", "webhook_time_start", "webhook_time_end", "absence_pause_enabled",
        "absence_pause_days",
    }
    for key in config:
        if key not in known:
            t.note(NOT_MAPPED, f"{source}.{key}", "unknown key")

    if "webhook_sending_enabled" in config:
        enabled = t.boolean(config["webhook_sending_enabled"], f"{source}.webhook_sending_enabled")
        if enabled is not None:
            t.settings["sending_enabled"] = enabled
            t.note(MAPPED, f"{source}.webhook_sending_enabled", f"settings.sending_enabled = {str(enabled).lower()}")
    else:
        t.note(
            NOT_MAPPED,
            f"{source}.webhook_sending_enabled",
            "absent: the legacy app used its WEBHOOK_SENDING_ENABLED variable; the sending switch is unchanged",
        )
    _window(t, config)
    _absence(t, config)
    _default_endpoint(t, config)


def _window(t: _Translation, config: dict) -> None:
    source = "webhook_config.webhook_time_start/end"
    start, end = config.get("webhook_time_start") or "", config.get("webhook_time_end") or ""
    if not isinstance(start, str) or not isinstance(end, str):
        t.note(NOT_MAPPED, source, "not strings; the time window is unchanged")
        return
    start, end = start.strip(), end.strip()
    env_hint = "if the legacy app had WEBHOOKS_TIME_START/END in its environment, that window applied: set it in admin"
    if not start and not end:
        t.settings.update(window_start=None, window_end=None)
        t.note(MAPPED, source, f"no window (settings.window_start/end = null); {env_hint}")
        return
    start_t, end_t = time_parse(start), time_parse(end)
    if start_t is None or end_t is None:
        t.settings.update(window_start=None, window_end=None)
        t.note(
            REVIEW,
            source,
            f"{start!r} to {end!r} is not a complete HHhMM/HH:MM window, which the legacy app ignored: "
            f"imported as no window; {env_hint}",
        )
        return
    if start_t == end_t:
        t.note(
            NOT_MAPPED,
            source,
            f"start equals end ({start}): the legacy app then never sent anything; such a window is refused here, "
            "the window is unchanged (use the sending switch to stop sending)",
        )
        return
    # The strings travel verbatim into payloads (webhooks_time_start/end), as in the legacy app.
    t.settings.update(window_start=start, window_end=end)
    t.note(MAPPED, source, f"settings.window_start/end = {start} to {end}")
    t.note(
        REVIEW,
        source,
        "the window is evaluated in settings.time_zone (the legacy app used POLLING_TIMEZONE, default "
        "Europe/Paris); check it in admin",
    )


def _absence(t: _Translation, config: dict) -> None:
    source = "webhook_config.absence_pause_enabled/days"
    if "absence_pause_enabled" not in config and "absence_pause_days" not in config:
        return
    enabled = t.boolean(config.get("absence_pause_enabled", False), "webhook_config.absence_pause_enabled")
    days = _absence_days(t, config.get("absence_pause_days", []))
    if enabled is None or days is None:
        return
    if enabled and not days:
        enabled = False
        t.note(REVIEW, source, "enabled without any valid day: the legacy app never paused, so absence is imported off")
    t.settings.update(absence_enabled=enabled, absence_days=days)
    t.note(MAPPED, source, f"settings.absence_enabled = {str(enabled).lower()}, absence_days = {days}")
    if enabled:
        t.note(
            REVIEW,
            source,
            "absence days are now judged in settings.time_zone; the legacy app used the server's zone (usually UTC)",
        )


def _absence_days(t: _Translation, raw_days) -> list[str] | None:
    """The weekday names, in order and once each; None when the value is not a list (noted)."""
    source = "webhook_config.absence_pause_days"
    if not isinstance(raw_days, list):
        t.note(NOT_MAPPED, source, "not a list; absence is unchanged")
        return None
    names = [day.strip().lower() if isinstance(day, str) else None for day in raw_days]
    dropped = [day for day, name in zip(raw_days, names, strict=True) if name not in WEEKDAYS]
    if dropped:
        t.note(NOT_MAPPED, source, f"not weekday names, dropped (they never matched): {dropped!r}")
    return list(dict.fromkeys(name for name in names if name in WEEKDAYS))


def _default_endpoint(t: _Translation, config: dict) -> None:
    source = "webhook_config"
    endpoint: dict = {"name": t.default_name, "is_default": True, "is_active": True}
    url = _default_url(t, config.get("webhook_url"), source)
    if url:
        endpoint["url"] = t.default_url = url
    _delivery_options(t, config, source)
    endpoint.update(t.delivery)
    t.default_endpoint = endpoint
    options = ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in t.delivery.items())
    options_source = f"{source}.webhook_ssl_verify/delivery_mode/fallback_on_415"
    t.note(MAPPED, options_source, f"endpoints['{t.default_name}']: {options}")
    t.note(
        REVIEW,
        f"endpoints['{t.default_name}'].success_requires_json",
        'on, as the legacy app counted a send as done only on HTTP 200 with JSON "success": true; switch it off '
        "in admin if the receiver answers 2xx without that body",
    )


def _default_url(t: _Translation, url, source: str) -> str | None:
    """The default webhook's URL (Make.com shorthand expanded), or None when it is absent or invalid (noted)."""
    if isinstance(url, str) and url.strip():
        normalised = make_url_normalise(url)
        if normalised is None:
            t.note(NOT_MAPPED, f"{source}.webhook_url", f"{url_mask(url)} is neither a URL nor a Make.com token")
            return None
        shorthand = "" if normalised == url.strip() else " (Make.com shorthand expanded)"
        target = f"endpoints['{t.default_name}'].url = {url_mask(normalised)}{shorthand}"
        t.note(MAPPED, f"{source}.webhook_url", target)
        return normalised
    if url is None or isinstance(url, str):
        t.note(
            NOT_MAPPED,
            f"{source}.webhook_url",
            f"empty: the legacy app fell back to its WEBHOOK_URL variable; endpoint '{t.default_name}' keeps its "
            "current URL (the import fails if it does not exist yet)",
        )
    else:
        t.note(NOT_MAPPED, f"{source}.webhook_url", "not a string")
    return None


def _delivery_options(t: _Translation, config: dict, source: str) -> None:
    """TLS verification, delivery mode and the 415 fallback, shared by the default and the rules' endpoints."""
    _boolean_option(t, config, source, "webhook_ssl_verify", "verify_tls")
    mode = config.get("webhook_delivery_mode", "json")
    mode_name = mode.strip().lower() if isinstance(mode, str) else None
    if mode_name == "form":
        t.delivery["delivery_mode"] = "legacy_form_header"
    elif mode_name != "json":
        t.note(
            REVIEW, f"{source}.webhook_delivery_mode", f"{mode!r} is neither json nor form; the legacy app sent json"
        )
    _boolean_option(t, config, source, "webhook_fallback_on_415", "fallback_on_415")


def _boolean_option(t: _Translation, config: dict, source: str, legacy_key: str, key: str) -> None:
    if legacy_key in config:
        value = t.boolean(config[legacy_key], f"{source}.{legacy_key}")
        if value is not None:
            t.delivery[key] = value


def _runtime_flags(t: _Translation, flags: dict) -> None:
    source = "runtime_flags"
    for key, value in flags.items():
        if key == "gmail_ingress_enabled":
            parsed = t.boolean(value, f"{source}.{key}")
            if parsed is not None:
                t.flags["ingress_enabled"] = parsed
                t.note(MAPPED, f"{source}.{key}", f"flags.ingress_enabled = {str(parsed).lower()}")
        elif key == "allow_custom_webhook_without_links":
            parsed = t.boolean(value, f"{source}.{key}")
            if parsed is not None:
                t.flags["allow_without_links"] = parsed
                t.note(MAPPED, f"{source}.{key}", f"flags.allow_without_links = {str(parsed).lower()}")
        elif key == "disable_email_id_dedup":
            parsed = t.boolean(value, f"{source}.{key}")
            if parsed is not None:
                t.flags["email_id_dedup_enabled"] = not parsed
                target = f"flags.email_id_dedup_enabled = {str(not parsed).lower()} (inverted)"
                t.note(MAPPED, f"{source}.{key}", target)
                if parsed:
                    t.note(
                        REVIEW,
                        f"{source}.{key}",
                        "the legacy app ignored this flag (DISABLE_EMAIL_ID_DEDUP decided); here it switches "
                        "deduplication off, so every re-push is delivered again",
                    )
        else:
            t.note(NOT_MAPPED, f"{source}.{key}", "unknown flag")


def _routing_rules(t: _Translation, document) -> None:
    source = "routing_rules"
    rules = _rules_list(t, document, source)
    if rules is None:
        return
    t.rules = []
    invalid = []
    for index, rule in enumerate(rules):
        path = f"{source}.rules[{index}]"
        translated = _rule(t, rule, index, path)
        if translated is None:
            invalid.append(path)
        elif translated:
            t.rules.append(translated)
    if invalid:
        t.note(
            REVIEW,
            source,
            f"the legacy app discarded the whole list when any stored rule was invalid ({', '.join(invalid)}), "
            "so no rule was in effect there; the valid rules are imported",
        )
    if not t.rules:
        t.note(MAPPED, source, "no routing rules: existing rules are removed")
        return
    t.note(
        MAPPED,
        source,
        f"{len(t.rules)} rule(s) in the same order, all conditions required (match = all)"
        + ("" if t.rules_active else ", imported switched off (is_active = false) for review"),
    )
    if any("id" in r for r in rules if isinstance(r, dict)):
        t.note(NOT_MAPPED, f"{source}.rules[].id", "legacy rule ids are not kept; rules are ordered as listed")
    _rules_semantics_notes(t, source)


def _rules_list(t: _Translation, document, source: str) -> list | None:
    """The stored rule list (bare, or under "rules" with an update stamp); None, noted, when it is not a list."""
    if isinstance(document, dict):
        for key in document:
            if key not in ("rules", "_updated_at"):
                t.note(NOT_MAPPED, f"{source}.{key}", "unknown key")
        document = document.get("rules")
    if not isinstance(document, list):
        t.note(NOT_MAPPED, f"{source}.rules", "not a list; routing rules are unchanged")
        return None
    return document


def _rules_semantics_notes(t: _Translation, source: str) -> None:
    """Where the translated rules behave differently from the legacy app: for the operator to review."""
    t.note(
        REVIEW,
        source,
        "the legacy Gmail push path never evaluated routing rules (only the old IMAP poller did); here they "
        "apply to every pushed e-mail"
        + ("" if t.rules_active else " once switched on")
        + ". Try them on admin's test page",
    )
    for review in (_all_matches_review(t.rules), _body_review(t.rules), _sender_review(t.rules)):
        if review:
            t.note(REVIEW, source, review)


def _all_matches_review(rules: list[dict]) -> str | None:
    """Rules that do not stop processing now let a later matching rule add its endpoint too."""
    non_stop = [r["name"] for r in rules[:-1] if not r["stop_processing"]]
    if not non_stop:
        return None
    return (
        "the legacy app fired only the first matching rule; here every matching rule adds its endpoint until "
        f"one stops processing, so an e-mail matching {', '.join(repr(n) for n in non_stop)} and a later rule "
        "now goes to both"
    )


def _body_review(rules: list[dict]) -> str | None:
    """Body conditions now test the HTML body's text view."""
    body_rules = [r["name"] for r in rules if any(c["field"] == "body" for c in r["conditions"])]
    if not body_rules:
        return None
    return (
        f"body conditions ({', '.join(repr(n) for n in body_rules)}) now test the text view of the HTML body "
        "(tags and link targets dropped, accents folded when not case-sensitive); a condition on a link URL "
        "found only in an href no longer matches"
    )


def _sender_review(rules: list[dict]) -> str | None:
    """The legacy app tested sender conditions against the bare lower-cased address."""
    if not any(c["field"] == "sender" for r in rules for c in r["conditions"]):
        return None
    return (
        "the legacy app tested sender conditions against the bare lower-cased address; check 'equals' and "
        "anchored regex sender conditions on admin's test page"
    )


def _rule(t: _Translation, rule, index: int, path: str) -> dict | None:
    """The translated rule, {} for a rule deliberately skipped, None for an invalid one (noted)."""
    if not isinstance(rule, dict):
        t.note(NOT_MAPPED, path, "not an object")
        return None
    name = rule.get("name", f"Rule {index + 1}")
    if not isinstance(name, str) or not name.strip():
        t.note(NOT_MAPPED, path, "a rule needs a name")
        return None
    name = name.strip()
    if rule.get("id") == "backend-default" or name.lower() in LEGACY_DEFAULT_RULE_NAMES:
        message = f"'{name}' is the legacy placeholder for the default webhook, which the default endpoint covers"
        t.note(NOT_MAPPED, path, message)
        return {}
    conditions = _rule_conditions(t, rule.get("conditions"), name, path)
    actions = _rule_actions(t, rule.get("actions"), name, path) if conditions is not None else None
    if actions is None:
        return None
    url, priority, stop = actions
    endpoint = _rule_endpoint(t, name, url, f"{path}.actions.webhook_url")
    return {
        "name": name,
        "is_active": t.rules_active,
        "match": "all",
        "conditions": conditions,
        "endpoint": endpoint,
        "priority": priority,
        "stop_processing": stop,
    }


def _rule_conditions(t: _Translation, conditions, name: str, path: str) -> list[dict] | None:
    if not isinstance(conditions, list) or not conditions:
        t.note(NOT_MAPPED, path, f"'{name}' has no conditions")
        return None
    translated = []
    for index, condition in enumerate(conditions):
        translated.append(_condition(t, condition, f"{path}.conditions[{index}]"))
        if translated[-1] is None:
            return None  # the rule is skipped: the later conditions are not worth a note
    return translated


def _rule_actions(t: _Translation, actions, name: str, path: str) -> tuple[str, str, bool] | None:
    """The rule's (https URL, priority, stop_processing), or None when one is invalid (noted)."""
    if not isinstance(actions, dict):
        t.note(NOT_MAPPED, path, f"'{name}' has no actions object")
        return None
    url = actions.get("webhook_url")
    normalised = make_url_normalise(url) if isinstance(url, str) else None
    if normalised is None or not normalised.lower().startswith("https://"):
        t.note(NOT_MAPPED, f"{path}.actions.webhook_url", f"'{name}' has no https webhook URL or Make.com token")
        return None
    priority = actions.get("priority", "normal")
    priority = priority.strip().lower() if isinstance(priority, str) else priority
    if priority not in ("normal", "high"):
        t.note(NOT_MAPPED, f"{path}.actions.priority", f"{priority!r} is neither normal nor high")
        return None
    stop = t.boolean(actions.get("stop_processing", False), f"{path}.actions.stop_processing")
    return None if stop is None else (normalised, priority, stop)


def _condition(t: _Translation, condition, path: str) -> dict | None:
    if not isinstance(condition, dict):
        t.note(NOT_MAPPED, path, "not an object; the rule is skipped")
        return None
    field = str(condition.get("field", "")).strip().lower()
    operator = str(condition.get("operator", "")).strip().lower()
    value = condition.get("value")
    value = "" if value is None else str(value).strip()
    if field not in ("sender", "subject", "body") or operator not in ("contains", "equals", "regex") or not value:
        t.note(NOT_MAPPED, path, f"invalid condition {condition!r}; the rule is skipped")
        return None
    case_sensitive = t.boolean(condition.get("case_sensitive", False), f"{path}.case_sensitive")
    if case_sensitive is None:
        return None
    return {"field": field, "operator": operator, "value": value, "case_sensitive": case_sensitive}


def _rule_endpoint(t: _Translation, rule_name: str, url: str, source: str) -> str:
    """The endpoint a rule targets: the default one for the same URL, else one per URL named after its first rule."""
    if url == t.default_url:
        message = f"same URL as the default webhook: rule '{rule_name}' targets endpoints['{t.default_name}']"
        t.note(MAPPED, source, message)
        return t.default_name
    if url in t.rule_endpoints:
        return t.rule_endpoints[url]["name"]
    taken = {t.default_name} | {e["name"] for e in t.rule_endpoints.values()}
    name, suffix = rule_name[:100], 2
    while name in taken:
        name = f"{rule_name[:90]} ({suffix})"
        suffix += 1
    t.rule_endpoints[url] = {"name": name, "url": url, "is_default": False, "is_active": True, **t.delivery}
    t.note(MAPPED, source, f"endpoints['{name}'].url = {url_mask(url)}, same delivery options as the default")
    return name
