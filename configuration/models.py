"""Settings edited in admin that decide what ingress does (SPEC §5.1), and the configuration's version."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from configuration import validators
from core.models import SingletonModel


def default_time_zone() -> str:
    return settings.SIGNAL_TIME_ZONE


class RuntimeFlags(SingletonModel):
    ingress_enabled = models.BooleanField(default=True, help_text="Off: pushes answer 409 'Gmail ingress disabled'.")
    allow_without_links = models.BooleanField(
        default=False, help_text="Deliver e-mails that carry no provider link (off: they are skipped)."
    )
    email_id_dedup_enabled = models.BooleanField(
        default=True, help_text="Answer 'already_processed' to an e-mail seen before."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "runtime flags"

    def __str__(self) -> str:
        return "Runtime flags"


class IngressSettings(SingletonModel):
    """The gates of ingress: sending switch, absence days, time window, allowlist, per-sender rate limit."""

    class OutsideWindowPolicy(models.TextChoices):
        REJECT = "reject", "Reject (legacy 409 answers)"
        DEFER = "defer", "Defer (accept, deliver when the window opens)"

    sending_enabled = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validators.time_zone_validate])
    window_start = models.CharField(max_length=5, blank=True, help_text="HHhMM or HH:MM; empty with end = no window.")
    window_end = models.CharField(max_length=5, blank=True)
    outside_window_policy = models.CharField(
        max_length=10, choices=OutsideWindowPolicy.choices, default=OutsideWindowPolicy.REJECT
    )
    absence_enabled = models.BooleanField(default=False)
    absence_days = models.JSONField(default=list, blank=True, help_text='Weekday names, e.g. ["saturday", "sunday"].')
    sender_allowlist = models.JSONField(default=list, blank=True, help_text="Lower-case addresses; empty = everyone.")
    rate_limit_per_sender_per_hour = models.PositiveIntegerField(default=0, help_text="0 = no limit.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "ingress settings"

    def __str__(self) -> str:
        return "Ingress settings"

    def clean(self) -> None:
        self.window_start, self.window_end = (self.window_start or "").strip(), (self.window_end or "").strip()
        errors = validators.errors_collect(
            window_end=lambda: validators.window_validate(self.window_start, self.window_end),
            absence_days=lambda: validators.absence_validate(self.absence_enabled, self.absence_days),
            sender_allowlist=lambda: validators.allowlist_validate(self.sender_allowlist),
        )
        if errors:
            raise ValidationError(errors)
        self.absence_days = [day.strip().lower() for day in self.absence_days]
        self.sender_allowlist = validators.allowlist_normalise(self.sender_allowlist)


class RetentionSettings(SingletonModel):
    """How much history the delivery workers keep: their daily run deletes what is older (ops.retention)."""

    retention_days = models.PositiveIntegerField(
        default=90,
        validators=[validators.retention_days_validate],
        help_text="Days of e-mails, deliveries, attempts and link pairs to keep (0 = keep everything). "
        "The delivery workers delete older history once a day, in short batches.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "retention settings"

    def __str__(self) -> str:
        return "Retention settings"


class ConfigVersion(models.Model):
    """One row whose number goes up with every configuration change, in the same transaction: how every
    process, on every host, knows the snapshot it holds is stale (configuration.snapshot)."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Configuration version {self.version}"
