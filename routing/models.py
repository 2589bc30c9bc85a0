from django.core.exceptions import ValidationError
from django.db import models

from routing.evaluation import condition_describe, conditions_describe
from routing.regexes import regex_check
from routing.text import text_fold

VALUE_REQUIRED = "Enter a value to compare with; an empty or blank value is refused."


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
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive rules are kept but never evaluated."
    )
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
    class Field(models.TextChoices):
        SENDER = "sender", "Sender"
        SUBJECT = "subject", "Subject"
        BODY = "body", "Body (text view)"

    class Operator(models.TextChoices):
        CONTAINS = "contains", "contains"
        NOT_CONTAINS = "not_contains", "does not contain"
        EQUALS = "equals", "equals"
        STARTS_WITH = "starts_with", "starts with"
        REGEX = "regex", "matches regex"

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(
        max_length=10,
        choices=Field.choices,
        error_messages={"invalid_choice": "Unknown field %(value)r: choose sender, subject or body."},
    )
    operator = models.CharField(
        max_length=15,
        choices=Operator.choices,
        error_messages={
            "invalid_choice": (
                "Unknown operator %(value)r: choose contains, not_contains, equals, starts_with or regex."
            )
        },
    )
    value = models.CharField(
        max_length=500,
        error_messages={"blank": VALUE_REQUIRED},
        help_text="Trimmed. Regex: at most 200 characters, searched anywhere in the text (use ^ and $ to anchor).",
    )
    case_sensitive = models.BooleanField(
        default=False,
        help_text="Off: case, accents and repeated spaces are ignored ('facture' finds 'FACTURÉ'). "
        "On: the exact characters must match.",
    )

    class Meta:
        ordering = ["rule_id", "id"]

    def __str__(self) -> str:
        return condition_describe(self.field, self.operator, self.value or "", self.case_sensitive)

    def clean(self) -> None:
        value = (self.value or "").strip()
        if not value:
            if self.value:  # only spaces; an empty string already failed the field's own check
                raise ValidationError({"value": VALUE_REQUIRED})
            return
        self.value = value
        if self.operator == self.Operator.REGEX:
            problem = regex_check(value, self.case_sensitive)
            if problem:
                raise ValidationError({"value": problem})
        elif not self.case_sensitive and not text_fold(value):
            raise ValidationError({"value": "This value is empty once case, accents and spaces are ignored."})
