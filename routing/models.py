from django.core.exceptions import ValidationError
from django.db import models

from routing.conditions import (
    HEADER_NAME_MAX,
    REGEX,
    condition_describe,
    condition_problems,
    conditions_describe,
    value_kind,
    value_normalise,
)
from routing.regexes import regex_check


def _choice_list(choices) -> str:
    values = list(choices.values)
    return f"{', '.join(values[:-1])} or {values[-1]}"


class RoutingRule(models.Model):
    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    class Priority(models.TextChoices):
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    name = models.CharField(max_length=100, help_text="Sent to receivers as routing_rule.name.")
    # Unique and contiguous (1, 2, 3…): routing/services.py is the only writer besides appending.
    position = models.PositiveIntegerField(
        blank=True, help_text="Rules run in ascending position, 1 first. Empty: add at the end."
    )
    is_active = models.BooleanField("active", default=True, help_text="Inactive rules are kept but never evaluated.")
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    endpoint = models.ForeignKey(
        "webhooks.WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="routing_rules",
        help_text="Where matching e-mails go. Empty with 'stop processing' = drop them.",
    )
    priority = models.CharField(
        max_length=6,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text="Sent to receivers as routing_rule.priority.",
    )
    stop_processing = models.BooleanField(
        default=False,
        help_text="A match ends evaluation: later rules are skipped and the default endpoint is not added.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["position"], name="routing_rule_unique_position")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.position is None:
            last = RoutingRule.objects.aggregate(last=models.Max("position"))["last"]
            self.position = (last or 0) + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        stripped = (self.name or "").strip()
        if self.name and not stripped:  # only spaces: the same answer as an empty name
            errors["name"] = self._meta.get_field("name").error_messages["blank"]
        self.name = stripped
        if self.endpoint_id is None and not self.stop_processing:
            errors["endpoint"] = (
                "Choose a target endpoint, or tick 'stop processing' to drop matching e-mails: "
                "a rule with neither has no effect."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def summary(self) -> str:
        """One line for the admin list; uses prefetched conditions when present."""
        return conditions_describe(self.match, [str(c) for c in self.conditions.all()])


class RoutingCondition(models.Model):
    # Which operator goes with which field, and what value each takes, is the table in routing/conditions.py.
    class Field(models.TextChoices):
        SENDER = "sender", "Sender"
        SUBJECT = "subject", "Subject"
        BODY = "body", "Body (text view)"
        DETECTOR = "detector", "Detector"
        IS_URGENT = "is_urgent", "Urgent (DESABO)"
        PROVIDER = "provider", "Provider of a link"
        LINK_COUNT = "link_count", "Number of links"
        RECIPIENT = "recipient", "Recipient (To, Cc, Delivered-To)"
        HEADER = "header", "Header (named)"

    class Operator(models.TextChoices):
        CONTAINS = "contains", "contains"
        NOT_CONTAINS = "not_contains", "does not contain"
        EQUALS = "equals", "equals"
        STARTS_WITH = "starts_with", "starts with"
        REGEX = "regex", "matches regex"
        IN = "in", "is one of"
        GT = "gt", "greater than"
        LT = "lt", "less than"
        IS_TRUE = "is_true", "is true"
        IS_FALSE = "is_false", "is false"

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(
        max_length=20,
        choices=Field.choices,
        error_messages={"invalid_choice": f"Unknown field %(value)r: choose {_choice_list(Field)}."},
    )
    operator = models.CharField(
        max_length=15,
        choices=Operator.choices,
        error_messages={"invalid_choice": f"Unknown operator %(value)r: choose {_choice_list(Operator)}."},
    )
    header_name = models.CharField(
        "header",
        max_length=HEADER_NAME_MAX,
        blank=True,
        help_text="Header conditions only: the header's name, e.g. list-id (as the Apps Script sends it).",
    )
    # Blank only for the operators that take no value (is true / is false); clean() asks the others for one.
    value = models.CharField(
        max_length=500,
        blank=True,
        help_text="Trimmed. Regex: at most 200 characters, searched anywhere (^ and $ anchor). "
        "Detector, provider: one name, or several separated by commas for 'is one of'. Number of links: a whole "
        "number. Is true / is false: empty.",
    )
    case_sensitive = models.BooleanField(
        default=False,
        help_text="Off: case, accents and repeated spaces are ignored ('facture' finds 'FACTURÉ'). "
        "On: the exact characters must match. Text fields only (sender, subject, body, header).",
    )

    class Meta:
        ordering = ["rule_id", "id"]

    def __str__(self) -> str:
        return condition_describe(self.field, self.operator, self.value or "", self.case_sensitive, self.header_name)

    def clean(self) -> None:
        self.value = (self.value or "").strip()
        self.header_name = (self.header_name or "").strip().lower()
        problems = condition_problems(self.field, self.operator, self.value, self.case_sensitive, self.header_name)
        if not problems and value_kind(self.field, self.operator) == REGEX:
            problem = regex_check(self.value, self.case_sensitive)
            if problem:
                problems["value"] = problem
        if problems:
            raise ValidationError(problems)
        self.value = value_normalise(self.field, self.operator, self.value)
