from django.db import models


class RoutingRule(models.Model):
    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    class Priority(models.TextChoices):
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, db_index=True, help_text="Rules run in ascending position.")
    is_active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    endpoint = models.ForeignKey(
        "webhooks.WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="routing_rules",
        help_text="Where matching e-mails go. Empty with 'stop processing' = drop them.",
    )
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    stop_processing = models.BooleanField(
        default=False, help_text="A match ends evaluation and suppresses the default endpoint."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


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
    field = models.CharField(max_length=10, choices=Field.choices)
    operator = models.CharField(max_length=15, choices=Operator.choices)
    value = models.CharField(max_length=500)
    case_sensitive = models.BooleanField(default=False)

    class Meta:
        ordering = ["rule_id", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.get_operator_display()} {self.value!r}"
