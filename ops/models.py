from django.db import models


class WriteProbe(models.Model):
    """One row, rewritten by each /health/ready: a database that reads but cannot commit a write (disk full,
    read-only) answers every push 500, so readiness proves a committed write."""

    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Write probe at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class Alert(models.Model):
    """Something operators must hear about (docs/alerts.md): raised and resolved by the delivery workers.

    One row per (kind, subject) at a time while open; when the same trouble comes back soon after it
    resolved, the row opens again and counts it.
    """

    class Kind(models.TextChoices):
        ENDPOINT_LANE_OPEN = "endpoint_lane_open", "Endpoint lane open for more than 5 minutes"
        ENDPOINT_RECOVERED = "endpoint_recovered", "Endpoint recovered"
        ENDPOINT_AUTO_DISABLED = "endpoint_auto_disabled", "Endpoint auto-disabled"
        DELIVERY_FAILED = "delivery_failed", "Delivery failed for good"
        NO_DEFAULT_ENDPOINT = "no_default_endpoint", "No active default endpoint"
        NO_INGRESS = "no_ingress", "No push inside the time window"
        OFFLOAD_FAILING = "offload_failing", "File offload failure rate over 10 %"
        QUEUE_BEHIND = "queue_behind", "Oldest due delivery too old"

    class SubjectType(models.TextChoices):
        ENDPOINT = "endpoint", "Endpoint"
        DELIVERY = "delivery", "Delivery"
        SERVICE = "service", "Service"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    subject_type = models.CharField(max_length=10, choices=SubjectType.choices)
    subject_id = models.BigIntegerField(default=0, help_text="The endpoint's or delivery's id; 0 for the service.")
    subject_label = models.CharField(max_length=200)
    message = models.CharField(max_length=500)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1, help_text="Times it was raised (opened again after resolving).")
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When operators were last told it was raised."
    )
    notified_open = models.BooleanField(
        default=False, help_text="The last notification said it was raised: its resolution is to be told."
    )

    class Meta:
        ordering = [models.F("resolved_at").desc(nulls_first=True), "-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"], condition=models.Q(resolved_at__isnull=True),
                name="one_open_alert_per_subject",
            ),
        ]
        indexes = [models.Index(fields=["kind", "subject_type", "subject_id"], name="alert_subject_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_label}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertNotification(models.Model):
    """One try to tell operators of an alert, on one channel: what went out, and what went wrong."""

    class Event(models.TextChoices):
        RAISED = "alert.raised", "Raised"
        RESOLVED = "alert.resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=20, choices=Event.choices)
    channel = models.CharField(max_length=120, help_text="email, or webhook:<endpoint name>.")
    sent_at = models.DateTimeField()
    succeeded = models.BooleanField()
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} by {self.channel}: {'sent' if self.succeeded else 'failed'}"


class AlertLease(models.Model):
    """One row: which delivery worker evaluates the alert rules, and until when (one at a time)."""

    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Alert evaluation held by {self.holder or 'nobody'}"


class HourlyRollup(models.Model):
    """One figure of one UTC hour of history, kept by the delivery workers (ops.rollups): the overview reads
    these few rows instead of the history itself. They are a summary, kept when purge_history deletes
    the rows they were counted from."""

    class Metric(models.TextChoices):
        EMAIL_STATUS = "email_status", "E-mails received, by status"
        EMAIL_PROVIDER = "email_provider", "E-mails received with a link of the provider"
        ANSWER_MS = "answer_ms", "Ingress answer times (ms)"
        DELIVERY_STATUS = "delivery_status", "Deliveries created, by current status"
        ATTEMPT_FAILED = "attempt_failed", "Failed attempts started, by reason"
        ATTEMPT_MS = "attempt_ms", "Attempts started, by endpoint id, with their durations (ms)"
        ATTEMPT_SUCCEEDED = "attempt_succeeded", "Succeeded attempts started, by endpoint id"

    hour = models.BigIntegerField(help_text="Hours since the Unix epoch (UTC).")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    key = models.CharField(max_length=64, blank=True, help_text="A status, provider, reason or endpoint id.")
    count = models.PositiveIntegerField(default=0)
    values = models.JSONField(
        default=dict, blank=True, help_text="A distribution: {milliseconds: how many}, 3 significant digits."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["metric", "hour", "key"], name="one_rollup_per_metric_hour_key")]

    def __str__(self) -> str:
        return f"{self.metric} {self.key} at hour {self.hour}: {self.count}"


class RollupState(models.Model):
    """One row: which delivery worker rolls the history up and until when, how far each source is rolled,
    and the hours a purge left frozen."""

    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    rolled_at = models.DateTimeField(
        null=True, blank=True, help_text="Rows before this moment are in the rollups; the overview reads the rest live."
    )
    marks = models.JSONField(
        default=dict, blank=True, help_text='Per source, ids rolled up: {"emails": {"high": 120, "low": 0}, …}.'
    )
    swept_hour = models.BigIntegerField(default=0, help_text="The last hour of deliveries counted again.")
    frozen_before_hour = models.BigIntegerField(
        default=0, help_text="Hours before this one were purged: their rollups are kept as they are."
    )

    def __str__(self) -> str:
        return f"Rollups held by {self.holder or 'nobody'}"


class RetentionRun(models.Model):
    """One row: the last history purge, by the delivery workers' daily retention run or by purge_history."""

    days = models.PositiveIntegerField(default=0)
    cutoff = models.DateTimeField(null=True, blank=True, help_text="History older than this goes.")
    holder = models.CharField(max_length=64, blank=True, help_text="The worker (or command) running it.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows deleted, per kind.")
    max_lock_ms = models.PositiveIntegerField(default=0, help_text="The longest write transaction of the run.")

    def __str__(self) -> str:
        return f"History purge started {self.started_at or 'never'}"

    @property
    def counts_shown(self) -> list[tuple[str, int]]:
        return [(name.replace("_", " "), count) for name, count in self.counts.items()]
