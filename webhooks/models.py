import json
import uuid
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import SingletonModel
from core.network import url_mask
from webhooks import signing, validators
from webhooks.payloads import payload_serialize

DEFAULT_RETRY_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def default_retry_schedule() -> list[int]:
    return list(DEFAULT_RETRY_SCHEDULE)


class WebhookEndpoint(models.Model):
    class DeliveryMode(models.TextChoices):
        JSON = "json", "JSON (application/json)"
        LEGACY_FORM_HEADER = "legacy_form_header", "Legacy form header (JSON body, form content type)"

    class DeactivatedReason(models.TextChoices):
        STAFF = "staff", "Deactivated by staff"
        GONE = "gone", "The receiver answered 410 Gone"
        FAILING = "failing", "Every attempt failed for too long"
        CONFIG = "config", "Not listed in an imported config document"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=2000)
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Receives every accepted e-mail unless a routing rule stops processing."
    )
    secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Standard Webhooks signing secret: `whsec_` + base64 of 24 to 64 random bytes. Empty: unsigned.",
    )
    # The secret a rotation replaced: deliveries are signed with it too until it expires (SPEC §7).
    previous_secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Until then, deliveries carry a signature with each secret."
    )
    delivery_mode = models.CharField(max_length=20, choices=DeliveryMode.choices, default=DeliveryMode.JSON)
    fallback_on_415 = models.BooleanField(default=True, help_text="On HTTP 415, retry at once in the other mode.")
    verify_tls = models.BooleanField(default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    success_requires_json = models.BooleanField(
        default=False, help_text='Legacy receivers: success needs a 2xx and a JSON body with "success": true.'
    )
    headers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Extra request headers, e.g. {"X-Api-Key": "…"}; their values are never logged or recorded.',
    )
    max_in_flight = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(256)],
        help_text="Attempts in flight at once to this endpoint, across every worker (1 sends one at a time).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(60000)],
        help_text="At most this many attempts start per minute, evenly spaced, across every worker. Empty: no limit.",
    )
    breaker_failures = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Consecutive failed attempts (network error, timeout, 408, 425, 429, 5xx) that open the circuit "
        "breaker: deliveries then wait, attempts unspent, until a probe succeeds.",
    )
    retry_on_status = models.JSONField(
        default=list,
        blank=True,
        help_text="HTTP statuses retried on the schedule besides 408, 425, 429 and 5xx (e.g. n8n's 404 for an "
        "inactive workflow), 400 to 599 except 410. They count towards the circuit breaker like a 5xx.",
    )
    receives_alerts = models.BooleanField(
        default=False, help_text="Also receives the service's alerts, as signed alert.raised / alert.resolved POSTs."
    )
    deactivated_reason = models.CharField(max_length=20, choices=DeactivatedReason.choices, blank=True)
    deactivated_note = models.CharField(max_length=200, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_endpoint"),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1, timeout_seconds__lte=300), name="endpoint_timeout_range"
            ),
            models.CheckConstraint(condition=Q(max_in_flight__gte=1), name="endpoint_max_in_flight_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_masked(self) -> str:
        return signing.secret_mask(self.secret)

    @property
    def url_masked(self) -> str:
        return url_mask(self.url)

    def previous_secret_valid(self, now: datetime) -> bool:
        """A rotation's previous secret still signs deliveries."""
        expires = self.previous_secret_expires_at
        return bool(self.previous_secret and self.secret and expires and now < expires)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets deliveries are signed with at `now`: the current one first, then a rotation's previous
        one while it is valid; none when the endpoint is unsigned."""
        if not self.secret:
            return []
        return [self.secret, self.previous_secret] if self.previous_secret_valid(now) else [self.secret]

    def secret_replace(self, secret: str) -> None:
        """Set (or, with "", remove) the secret at once: a previous one from a rotation stops too."""
        if secret != self.secret:
            self.secret, self.previous_secret, self.previous_secret_expires_at = secret, "", None

    def clean(self) -> None:
        errors: dict[str, list] = {}
        self.secret = (self.secret or "").strip()
        for field, check in (
            ("url", lambda: validators.endpoint_url_validate(self.url)),
            ("headers", lambda: validators.headers_validate(self.headers)),
            ("secret", lambda: signing.secret_validate(self.secret) if self.secret else None),
            ("retry_on_status", lambda: validators.retry_on_status_validate(self.retry_on_status)),
        ):
            try:
                check()
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)
        if not 1 <= (self.timeout_seconds or 0) <= 300:
            errors.setdefault("timeout_seconds", []).append("Timeout must be between 1 and 300 seconds.")
        if errors:
            raise ValidationError(errors)
        self.retry_on_status = sorted(set(self.retry_on_status))


class DeliverySettings(SingletonModel):
    """How deliveries are retried (SPEC §7): the schedule every endpoint's attempts follow."""

    retry_schedule_seconds = models.JSONField(
        default=default_retry_schedule,
        validators=[validators.retry_schedule_validate],
        help_text=(
            "Delay before each attempt in seconds, counted from the previous attempt (±20 % jitter); the first is "
            "0 (send at once) and the length is the number of attempts. Default: 0, 5 s, 5 min, 30 min, 2 h, 5 h, "
            "10 h, 10 h."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "delivery settings"

    def __str__(self) -> str:
        return "Delivery settings"


class WebhookDelivery(models.Model):
    """One e-mail (or test message) to one endpoint; attempts are its HTTP tries.

    The rows are the delivery queue; the state machine is documented in webhooks.services.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused (endpoint inactive)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.ForeignKey(
        "ingress.InboundEmail", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries",
        db_index=False,  # one_delivery_per_email_endpoint leads with it
    )
    # Indexed by the leading column of (endpoint, status, created_at), and for the queue by the partial
    # delivery_due_idx. Every index is one more page written per push.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", db_index=False)
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    routing_rule = models.JSONField(null=True, blank=True, help_text="{id, name, priority} of the rule that chose it.")
    # Text, not JSON: PostgreSQL's jsonb reorders keys, and receivers get the legacy key order byte for byte.
    payload_json = models.TextField(
        blank=True, help_text="The exact JSON body, frozen at the first attempt; retries and replays resend it as is."
    )
    attempt_count = models.PositiveSmallIntegerField(default=0, help_text="HTTP tries recorded, all series.")
    series = models.PositiveSmallIntegerField(default=1, help_text="1, then one more for each replay.")
    series_attempt_count = models.PositiveSmallIntegerField(
        default=0, help_text="Scheduled attempts made in the current series (index into the retry schedule)."
    )
    # When it is due (a new delivery: at once); null once it is finished.
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=40, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="While sending: when a live worker must have finished the attempt."
    )
    replayed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # Test sends have no e-mail, and NULLs never conflict: no condition needed, so the index also
            # serves every lookup by e-mail.
            models.UniqueConstraint(fields=["email", "endpoint"], name="one_delivery_per_email_endpoint"),
        ]
        indexes = [
            models.Index(fields=["endpoint", "status", "created_at"]),
            # The queue: what each lane has due, oldest first (pending rows only, so it stays small).
            models.Index(
                fields=["endpoint", "next_attempt_at"], name="delivery_due_idx", condition=Q(status="pending")
            ),
            # Test webhooks waiting to go out (a handful of rows at most; e-mail deliveries never enter it).
            models.Index(
                fields=["next_attempt_at"], name="delivery_test_due_idx", condition=Q(status="pending", is_test=True)
            ),
            # In flight per lane, and expired leases (sending rows only).
            models.Index(
                fields=["endpoint", "lease_expires_at"], name="delivery_sending_idx", condition=Q(status="sending")
            ),
            # The history newest attempt first (webhook_logs). Partial: a new delivery has no attempt yet,
            # so a push writes no page of it.
            models.Index(
                fields=["last_attempt_at"], name="delivery_attempted_idx", condition=Q(last_attempt_at__isnull=False)
            ),
            # Admin's and the API's filters on statuses and outcomes a push never writes (docs/admin.md), each
            # in creation order. Partial, one per status: SQLite uses a partial index only for a query that
            # names its exact condition, and a push (a pending delivery) writes none of them.
            *(
                models.Index(
                    fields=["status", "created_at"], name=f"delivery_{status}_idx", condition=Q(status=status)
                )
                for status in ("failed", "cancelled", "paused")
            ),
            # The e-mails with a failed delivery (admin's e-mail filter): an index-only EXISTS per e-mail.
            models.Index(fields=["status", "email"], name="delivery_failed_email_idx", condition=Q(status="failed")),
            models.Index(
                fields=["failure_reason", "created_at"], name="delivery_failure_reason_idx",
                condition=~Q(failure_reason=""),
            ),
            models.Index(fields=["is_test", "created_at"], name="delivery_is_test_idx", condition=Q(is_test=True)),
            # One endpoint's deliveries newest first (admin's and the API's endpoint filter, an endpoint's last
            # delivery): the one index of these a push writes.
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} to {self.endpoint_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.uuid.hex}"

    @property
    def payload(self) -> dict | None:
        """The frozen payload as a dict (keys in sent order), or None before the first attempt built it."""
        return json.loads(self.payload_json) if self.payload_json else None

    @payload.setter
    def payload(self, value: dict | None) -> None:
        self.payload_json = "" if value is None else payload_serialize(value).decode("utf-8")


class EndpointLane(models.Model):
    """The runtime state of an endpoint's lane: its circuit breaker, rate-limit clock and health.

    Written by the delivery workers only, never by a form, so staff editing the endpoint cannot
    overwrite it. The decisions themselves are pure functions in webhooks.lanes.
    """

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (sending)"
        OPEN = "open", "Open (waiting for the cool-down)"
        HALF_OPEN = "half_open", "Half-open (one probe in flight)"

    endpoint = models.OneToOneField(WebhookEndpoint, on_delete=models.CASCADE, primary_key=True, related_name="lane")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    state_since = models.DateTimeField(default=timezone.now)
    consecutive_failures = models.PositiveIntegerField(default=0)
    cooldown_seconds = models.PositiveIntegerField(default=0, help_text="Length of the current open period.")
    open_until = models.DateTimeField(null=True, blank=True)
    probe_delivery_id = models.BigIntegerField(null=True, blank=True, help_text="The half-open lane's probe.")
    rate_next_at = models.DateTimeField(null=True, blank=True, help_text="Earliest start of the next attempt.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    opened_at = models.DateTimeField(
        null=True, blank=True, help_text="While not closed: when the breaker opened (failed probes keep it)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Lane of endpoint #{self.endpoint_id} ({self.state})"


class WorkerHeartbeat(models.Model):
    """Each delivery worker's last sign of life, written by its own loop every few seconds."""

    worker_id = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    concurrency = models.PositiveSmallIntegerField(default=0, help_text="Deliveries it may send at once.")
    in_flight = models.PositiveSmallIntegerField(default=0, help_text="Deliveries it was sending at the last beat.")

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return self.worker_id


class DeliveryAttempt(models.Model):
    """One HTTP try. Created when the request starts (finished_at NULL while it is in flight)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    series = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    url = models.CharField(max_length=2000)
    delivery_mode = models.CharField(max_length=20)
    request_headers = models.JSONField(default=dict, help_text="Sent headers; secrets and signatures redacted.")
    request_size = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_snippet = models.CharField(max_length=1024, blank=True)
    error = models.CharField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=40, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_number_per_delivery")]
        # Lane health over the last 24 h and the overview's failure reasons read attempts by start time.
        indexes = [models.Index(fields=["started_at"], name="attempt_started_idx")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery #{self.delivery_id}"

    @property
    def in_flight(self) -> bool:
        return self.finished_at is None
