"""What a routing condition can test, as data: one table of (field, operator) -> check (docs/routing.md).

Each check names a *view* (what the field shows of an e-mail, as a tuple of candidate values), a pure
*test* of those candidates against the condition's parsed value, and the *kind* of value it takes, which
says how the value is validated on save and parsed once when rules are compiled. A regex check has no
test of its own: evaluation runs it under the e-mail's regex time budget. Adding a condition is adding
a row here; nothing else branches on the field.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.addresses import sender_email_parse
from core.detectors import DETECTORS
from core.headers import FORWARDED_HEADER_NAMES
from core.providers import PROVIDER_DOMAINS
from routing.regexes import regex_source
from routing.text import text_exact, text_fold

NO_DETECTOR = "none"
DETECTOR_VALUES = (*DETECTORS, NO_DETECTOR)
PROVIDER_VALUES = tuple(sorted(set(PROVIDER_DOMAINS.values())))
# Who received the e-mail; Reply-To only says where answers go.
ROUTED_RECIPIENTS = ("to", "cc", "delivered_to")
# Addresses are canonical (lower case) and the other facts are names or numbers: only these have a case.
CASE_FIELDS = frozenset({"sender", "subject", "body", "header"})
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
HEADER_NAME_MAX = 100
SUMMARY_VALUE_CHARS = 80

# Kinds of value: free text, a lower-cased address, a regex, one or several names from a list, a whole
# number, or nothing at all.
TEXT, ADDRESS, REGEX, CHOICE, CHOICES, INTEGER, NONE = "text", "address", "regex", "choice", "choices", "int", "none"

OPERATOR_WORDS = {
    "contains": "contains",
    "not_contains": "does not contain",
    "equals": "equals",
    "starts_with": "starts with",
    "regex": "matches regex",
    "in": "is one of",
    "gt": ">",
    "lt": "<",
    "is_true": "is true",
    "is_false": "is false",
}


@dataclass(frozen=True)
class RoutableEmail:
    """What routing knows of an e-mail. Only the first three are required; the others default to "nothing"."""

    sender: str  # the From value as pushed, e.g. `Jean Dupont <a@b.fr>`
    subject: str
    body_text: str  # the text view of the body (core.text.html_to_text)
    sender_email: str = ""  # parsed from `sender` when not given
    detector: str = ""  # "" when no detector recognised it (conditions call that "none")
    is_urgent: bool = False
    providers: tuple[str, ...] = ()  # providers of its links, each once
    link_count: int = 0  # provider links, as in the payload's delivery_links
    recipients: tuple[str, ...] = ()  # To, Cc and Delivered-To addresses, canonical
    headers: Mapping[str, object] = field(default_factory=dict)  # lower-case name -> value (or values)
    _views: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sender_email:
            object.__setattr__(self, "sender_email", sender_email_parse(self.sender or ""))

    @classmethod
    def of(
        cls,
        *,
        sender: str,
        subject: str,
        body_text: str,
        sender_email: str = "",
        detector: str | None = None,
        is_urgent: bool = False,
        links=(),
        recipients: Mapping[str, list] | None = None,
        headers: Mapping[str, object] | None = None,
    ) -> "RoutableEmail":
        """From what ingress knows: its links (`{"provider", …}`) and its recipients by kind (`{"to": […], …}`)."""
        return cls(
            sender=sender,
            subject=subject,
            body_text=body_text,
            sender_email=sender_email,
            detector=detector or "",
            is_urgent=bool(is_urgent),
            providers=tuple(sorted({link["provider"] for link in links if link.get("provider")})),
            link_count=len(links),
            recipients=recipients_routed(recipients or {}),
            headers=dict(headers or {}),
        )

    def view(self, name: str, case_sensitive: bool) -> str:
        """`name` is sender, address, subject or body; each view is computed once per e-mail."""
        key = (name, case_sensitive)
        if key not in self._views:
            raw = {"sender": self.sender, "address": self.sender_email, "subject": self.subject, "body": self.body_text}
            self._views[key] = _text_view(raw[name], case_sensitive)
        return self._views[key]

    def header_values(self, name: str, case_sensitive: bool) -> tuple[str, ...]:
        """The named header's value(s); none when the script did not send it."""
        key = ("header", name, case_sensitive)
        if key not in self._views:
            value = self.headers.get(name)
            values = value if isinstance(value, list | tuple) else () if value is None else (value,)
            self._views[key] = tuple(_text_view(str(v), case_sensitive) for v in values)
        return self._views[key]

    def recipient_values(self) -> tuple[str, ...]:
        if "recipients" not in self._views:
            self._views["recipients"] = tuple(text_fold(address) for address in self.recipients)
        return self._views["recipients"]


def recipients_routed(by_kind: Mapping[str, list]) -> tuple[str, ...]:
    """The To, Cc and Delivered-To addresses of `{"to": […], "cc": […], …}`, each once, in that order."""
    return tuple(dict.fromkeys(address for kind in ROUTED_RECIPIENTS for address in by_kind.get(kind) or ()))


def _text_view(text: str, case_sensitive: bool) -> str:
    return text_exact(text) if case_sensitive else text_fold(text)


# --- Views: what a field shows a condition, as a tuple of candidates ------------------------------------
View = Callable[[RoutableEmail, "CompiledCondition"], tuple]


def _text(name: str) -> View:
    return lambda email, condition: (email.view(name, condition.case_sensitive),)


def _sender_either(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return email.view("address", condition.case_sensitive), email.view("sender", condition.case_sensitive)


def _detector(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return (email.detector or NO_DETECTOR,)


def _urgent(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return (email.is_urgent,)


def _providers(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return email.providers


def _link_count(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return (email.link_count,)


def _recipients(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return email.recipient_values()


def _header(email: RoutableEmail, condition: "CompiledCondition") -> tuple:
    return email.header_values(condition.header_name, condition.case_sensitive)


# --- Tests: pure predicates over the candidates and the parsed value -------------------------------------
def _contains(values: tuple, needle) -> bool:
    return any(needle in v for v in values)


def _not_contains(values: tuple, needle) -> bool:
    return not _contains(values, needle)


def _equals(values: tuple, needle) -> bool:
    return any(v.strip() == needle for v in values)


def _starts_with(values: tuple, needle) -> bool:
    return any(v.lstrip().startswith(needle) for v in values)


def _one_of(values: tuple, needle) -> bool:
    return any(v in needle for v in values)


def _number_equals(values: tuple, needle) -> bool:
    return any(v == needle for v in values)


def _greater(values: tuple, needle) -> bool:
    return any(v > needle for v in values)


def _less(values: tuple, needle) -> bool:
    return any(v < needle for v in values)


def _true(values: tuple, needle) -> bool:
    return any(values)


def _false(values: tuple, needle) -> bool:
    return not any(values)


@dataclass(frozen=True)
class Check:
    view: View
    test: Callable[[tuple, object], bool] | None  # None: a regex search, run under the e-mail's time budget
    kind: str  # TEXT, ADDRESS, REGEX, CHOICE, CHOICES, INTEGER or NONE
    choices: tuple[str, ...] = ()  # the names a CHOICE or CHOICES value may hold


_TEXT_TESTS = {"contains": _contains, "not_contains": _not_contains, "equals": _equals, "starts_with": _starts_with}

CHECKS: dict[tuple[str, str], Check] = {
    # On the sender, equals and starts_with compare the address alone (`a@b.fr`, case ignored); contains
    # and not_contains look at the whole From value (`Jean Dupont <a@b.fr>`); a regex may match either.
    ("sender", "contains"): Check(_text("sender"), _contains, TEXT),
    ("sender", "not_contains"): Check(_text("sender"), _not_contains, TEXT),
    ("sender", "equals"): Check(_text("address"), _equals, ADDRESS),
    ("sender", "starts_with"): Check(_text("address"), _starts_with, ADDRESS),
    ("sender", "regex"): Check(_sender_either, None, REGEX),
    **{(name, op): Check(_text(name), test, TEXT) for name in ("subject", "body") for op, test in _TEXT_TESTS.items()},
    ("subject", "regex"): Check(_text("subject"), None, REGEX),
    ("body", "regex"): Check(_text("body"), None, REGEX),
    ("detector", "equals"): Check(_detector, _one_of, CHOICE, DETECTOR_VALUES),
    ("detector", "in"): Check(_detector, _one_of, CHOICES, DETECTOR_VALUES),
    ("is_urgent", "is_true"): Check(_urgent, _true, NONE),
    ("is_urgent", "is_false"): Check(_urgent, _false, NONE),
    ("provider", "equals"): Check(_providers, _one_of, CHOICE, PROVIDER_VALUES),
    ("provider", "in"): Check(_providers, _one_of, CHOICES, PROVIDER_VALUES),
    ("link_count", "equals"): Check(_link_count, _number_equals, INTEGER),
    ("link_count", "gt"): Check(_link_count, _greater, INTEGER),
    ("link_count", "lt"): Check(_link_count, _less, INTEGER),
    ("recipient", "contains"): Check(_recipients, _contains, TEXT),
    ("recipient", "equals"): Check(_recipients, _equals, ADDRESS),
    ("recipient", "regex"): Check(_recipients, None, REGEX),
    ("header", "regex"): Check(_header, None, REGEX),
}
FIELD_OPERATORS: dict[str, tuple[str, ...]] = {
    name: tuple(op for (f, op) in CHECKS if f == name) for name in dict.fromkeys(f for f, _ in CHECKS)
}


def value_kind(field_name: str, operator: str) -> str:
    """How this condition's value is read; TEXT for a combination that does not exist."""
    check = CHECKS.get((field_name, operator))
    return check.kind if check else TEXT


def _items(value: str) -> list[str]:
    """The names of a CHOICE/CHOICES value, folded, in order, once each: "Recadrage, none" -> [recadrage, none]."""
    return list(dict.fromkeys(text_fold(item) for item in value.split(",") if text_fold(item)))


def _is_count(value: str) -> bool:
    return value.isascii() and value.isdecimal()


def value_parse(kind: str, value: str, case_sensitive: bool):
    """The value as the test compares it; None when it cannot be read (it then never matches)."""
    if kind == REGEX:
        return regex_source(value, case_sensitive)
    if kind in (CHOICE, CHOICES):
        return frozenset(_items(value))
    if kind == INTEGER:
        return int(value) if _is_count(value.strip()) else None
    if kind == NONE:
        return None
    if not case_sensitive:
        return text_fold(value)
    return text_exact(value).strip().lower() if kind == ADDRESS else text_exact(value).strip()


# --- Validation, as admin and the config document run it (through the model) ----------------------------
VALUE_REQUIRED = "Enter a value to compare with; an empty or blank value is refused."


def _words(operator: str) -> str:
    return OPERATOR_WORDS.get(operator, operator)


def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def condition_problems(
    field_name: str, operator: str, value: str, case_sensitive: bool, header_name: str
) -> dict[str, str]:
    """What is wrong with this condition, by model field; a regex's own checks are left to routing.regexes."""
    if field_name not in FIELD_OPERATORS or operator not in OPERATOR_WORDS:
        return {}  # the field's or the operator's own choice check names it
    check = CHECKS.get((field_name, operator))
    if check is None:
        allowed = _listed(o if _words(o) == o else f"{o} ({_words(o)})" for o in FIELD_OPERATORS[field_name])
        return {"operator": f"Operator {operator!r} does not apply to {field_name}: choose {allowed}."}
    problems = {}
    header_problem = _header_name_problem(field_name, header_name)
    if header_problem:
        problems["header_name"] = header_problem
    if case_sensitive and field_name not in CASE_FIELDS:
        problems["case_sensitive"] = f"{field_name} conditions have no case: untick 'case sensitive'."
    value_problem = _value_problem(check, field_name, operator, value, case_sensitive)
    if value_problem:
        problems["value"] = value_problem
    return problems


def _header_name_problem(field_name: str, header_name: str) -> str | None:
    if field_name != "header":
        return "Only header conditions name a header: leave it empty." if header_name else None
    if not header_name:
        return "Name the header to test, e.g. list-id."
    if len(header_name) > HEADER_NAME_MAX or not HEADER_NAME.fullmatch(header_name):
        return f"'{header_name}' is not a header name (letters, digits and dashes, e.g. list-id)."
    if header_name not in FORWARDED_HEADER_NAMES:
        sent = _listed(sorted(FORWARDED_HEADER_NAMES))
        return f"The Apps Script does not send '{header_name}', so this condition could never match: choose {sent}."
    return None


def _value_problem(check: Check, field_name: str, operator: str, value: str, case_sensitive: bool) -> str | None:
    if check.kind == NONE:
        return f"'{_words(operator)}' takes no value: leave it empty." if value else None
    if not value:
        return VALUE_REQUIRED
    if check.kind == INTEGER:
        return None if _is_count(value) else f"Enter a whole number of links, 0 or more (not '{value}')."
    if check.kind in (CHOICE, CHOICES):
        return _choices_problem(check, field_name, operator, value)
    if check.kind in (TEXT, ADDRESS) and not case_sensitive and not text_fold(value):
        return "This value is empty once case, accents and spaces are ignored."
    return None


def _choices_problem(check: Check, field_name: str, operator: str, value: str) -> str | None:
    items = _items(value)
    unknown = [item for item in items if item not in check.choices]
    if unknown:
        return f"Unknown {field_name} '{unknown[0]}': choose {_listed(check.choices)}."
    if not items:
        return VALUE_REQUIRED
    if check.kind == CHOICE and len(items) > 1:
        return f"'{_words(operator)}' takes one {field_name}; use 'is one of' (in) for several."
    return None


def value_normalise(field_name: str, operator: str, value: str) -> str:
    """The value as saved once valid: names lower-cased and comma-separated, numbers without padding."""
    kind = value_kind(field_name, operator)
    if kind in (CHOICE, CHOICES):
        return ", ".join(_items(value))
    if kind == INTEGER:
        return str(int(value))
    return value


# --- Compiled form and one-line descriptions ---------------------------------------------------------------
def condition_describe(field_name: str, operator: str, value: str, case_sensitive: bool, header_name: str = "") -> str:
    """One line a person can read: `subject contains "facture"`, `link_count > 2`, `is_urgent is true`."""
    kind = value_kind(field_name, operator)
    subject = f'header "{header_name}"' if field_name == "header" else field_name
    words = "=" if kind == INTEGER and operator == "equals" else _words(operator)
    if kind == NONE:
        return f"{subject} {words}"
    if kind == INTEGER:
        return f"{subject} {words} {value}"
    shown = value if len(value) <= SUMMARY_VALUE_CHARS else value[: SUMMARY_VALUE_CHARS - 1] + "…"
    shown = shown.replace('"', '\\"')
    suffix = " (case-sensitive)" if case_sensitive else ""
    return f'{subject} {words} "{shown}"{suffix}'


def conditions_describe(match: str, descriptions: list[str]) -> str:
    return (" OR " if match == "any" else " AND ").join(descriptions)


@dataclass(frozen=True)
class CompiledCondition:
    field: str  # a field of CHECKS
    operator: str  # an operator of that field in CHECKS
    value: str  # as saved
    case_sensitive: bool
    needle: object  # the value as the test compares it (folded or exact text, regex source, names, number)
    header_name: str = ""  # the header a `header` condition tests

    @classmethod
    def build(
        cls, field_name: str, operator: str, value: str, case_sensitive: bool, header_name: str = ""
    ) -> "CompiledCondition":
        needle = value_parse(value_kind(field_name, operator), value, case_sensitive)
        return cls(field_name, operator, value, case_sensitive, needle, header_name)

    @property
    def check(self) -> Check | None:
        return CHECKS.get((self.field, self.operator))

    @property
    def summary(self) -> str:
        return condition_describe(self.field, self.operator, self.value, self.case_sensitive, self.header_name)

    @property
    def cost(self) -> tuple[bool, bool]:
        """Cheap conditions first: the verdict of all/any does not depend on the order."""
        return value_kind(self.field, self.operator) == REGEX, self.field == "body"
