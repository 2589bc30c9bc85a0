"""Routing-rule evaluation (SPEC §6) as pure functions over validated, pre-compiled rules."""

from dataclasses import dataclass, field

import regex

from ingress.text import fold

REGEX_MAX_LENGTH = 200
# Wall-clock bound for one regex condition; a pattern that needs longer counts as "no match".
REGEX_TIMEOUT_SECONDS = 0.05


@dataclass(frozen=True)
class CompiledCondition:
    field: str  # sender | subject | body
    operator: str  # contains | not_contains | equals | starts_with | regex
    value: str
    case_sensitive: bool
    pattern: object = None  # compiled `regex` pattern for the regex operator

    @classmethod
    def build(cls, field: str, operator: str, value: str, case_sensitive: bool) -> "CompiledCondition":
        pattern = None
        if operator == "regex":
            pattern = regex.compile(value, 0 if case_sensitive else regex.IGNORECASE)
            return cls(field, operator, value, case_sensitive, pattern)
        return cls(field, operator, value if case_sensitive else fold(value), case_sensitive)


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    match: str  # all | any
    endpoint_id: int | None
    priority: str
    stop_processing: bool
    conditions: tuple[CompiledCondition, ...]

    @property
    def reference(self) -> dict:
        return {"id": self.id, "name": self.name, "priority": self.priority}


@dataclass(frozen=True)
class RoutableEmail:
    sender: str
    subject: str
    body_text: str

    def field_value(self, name: str, case_sensitive: bool) -> str:
        value = {"sender": self.sender, "subject": self.subject, "body": self.body_text}[name]
        return value if case_sensitive else fold(value)


def condition_matches(condition: CompiledCondition, email: RoutableEmail) -> bool:
    if condition.operator == "regex":
        try:
            return condition.pattern.search(email.field_value(condition.field, True), timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            return False
    haystack = email.field_value(condition.field, condition.case_sensitive)
    needle = condition.value
    if condition.operator == "contains":
        return needle in haystack
    if condition.operator == "not_contains":
        return needle not in haystack
    if condition.operator == "equals":
        return haystack.strip() == needle.strip()
    if condition.operator == "starts_with":
        return haystack.startswith(needle)
    return False


def rule_matches(rule: CompiledRule, email: RoutableEmail) -> bool:
    if not rule.conditions:
        return False
    verdicts = (condition_matches(c, email) for c in rule.conditions)
    return all(verdicts) if rule.match == "all" else any(verdicts)


@dataclass(frozen=True)
class RoutingTarget:
    endpoint_id: int
    rule: dict | None = None  # {"id", "name", "priority"} when a rule chose this endpoint


@dataclass(frozen=True)
class RoutingDecision:
    targets: tuple[RoutingTarget, ...]
    stopped: bool = False
    matched_rules: tuple[dict, ...] = field(default_factory=tuple)


def rules_evaluate(
    rules: tuple[CompiledRule, ...], email: RoutableEmail, default_endpoint_id: int | None
) -> RoutingDecision:
    """Rules in order: each match adds its endpoint; a stop ends evaluation and suppresses the default."""
    targets: dict[int, RoutingTarget] = {}
    matched: list[dict] = []
    stopped = False
    for rule in rules:
        if not rule_matches(rule, email):
            continue
        matched.append(rule.reference)
        if rule.endpoint_id is not None and rule.endpoint_id not in targets:
            targets[rule.endpoint_id] = RoutingTarget(rule.endpoint_id, rule.reference)
        if rule.stop_processing:
            stopped = True
            break
    if not stopped and default_endpoint_id is not None and default_endpoint_id not in targets:
        targets[default_endpoint_id] = RoutingTarget(default_endpoint_id)
    return RoutingDecision(tuple(targets.values()), stopped, tuple(matched))
