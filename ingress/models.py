from django.db import models


class InboundEmail(models.Model):
    """An e-mail pushed to ingress that passed authentication and validation, with its decision."""

    class Status(models.TextChoices):
        PROCESSED = "processed", "Processed"
        DEFERRED = "deferred", "Deferred to the time window"
        SKIPPED_SENDER_NOT_ALLOWED = "skipped_sender_not_allowed", "Skipped: sender not allowed"
        SKIPPED_OUTSIDE_TIME_WINDOW = "skipped_outside_time_window", "Skipped: outside time window"
        SKIPPED_NO_LINKS = "skipped_no_links", "Skipped: no provider link"
        STOPPED_BY_ROUTING_RULE = "stopped_by_routing_rule", "Stopped by a routing rule"

    # Indexed, and kept unique, by one_email_per_dedup_key: one index fewer to write per push.
    email_id = models.CharField(max_length=32)
    # Equals email_id while deduplication is on; NULL (never conflicting) for pushes accepted with it off.
    # NULL is needed: "" would make one_email_per_dedup_key reject a repeated email_id with dedup off.
    dedup_key = models.CharField(max_length=32, null=True, blank=True, editable=False)  # noqa: DJ001
    message_id = models.CharField(max_length=500, blank=True)
    sender = models.CharField(max_length=500)
    # Canonical (core.addresses): admin's search by address is an exact match on it (email_sender_received_idx).
    sender_email = models.CharField(max_length=320)
    subject = models.TextField(blank=True)
    date = models.CharField(max_length=100, blank=True, help_text="As sent by the script (not parsed).")
    body = models.TextField()
    body_preview = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=100, blank=True, help_text="X-Source header.")
    recipients = models.JSONField(
        default=dict, blank=True, help_text="To, Cc, Reply-To and Delivered-To addresses, when the script sends them."
    )
    headers = models.JSONField(default=dict, blank=True, help_text="Allowlisted headers the script sent.")
    attachments = models.JSONField(default=list, blank=True, help_text="Name, size and type of each attachment.")
    detector = models.CharField(max_length=40, blank=True)
    delivery_time = models.CharField(max_length=40, blank=True)
    is_urgent = models.BooleanField(default=False)
    links = models.JSONField(default=list, blank=True)
    webhooks_time_start = models.CharField(max_length=20, blank=True)
    webhooks_time_end = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=32, choices=Status.choices)
    deliver_after = models.DateTimeField(null=True, blank=True)
    decision = models.JSONField(default=dict, blank=True, help_text="Why it was routed the way it was.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Measured by the web process itself; empty for rows recorded before it was.
    answer_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Milliseconds from the push request's start to this decision."
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound e-mail"
        constraints = [models.UniqueConstraint(fields=["email_id", "dedup_key"], name="one_email_per_dedup_key")]
        # Admin's filters and search, each in reception order so a page stops after its rows (docs/admin.md);
        # the first two replace single-column indexes, so a push writes one index more than before, not three.
        indexes = [
            models.Index(fields=["status", "received_at"], name="email_status_received_idx"),
            models.Index(fields=["detector", "received_at"], name="email_detector_received_idx"),
            models.Index(fields=["sender_email", "received_at"], name="email_sender_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subject[:60] or '(no subject)'} [{self.email_id[:8]}]"


class SenderHourCount(models.Model):
    """Pushes of one sender in one clock hour: the rate limit's count when no Redis is shared by every process."""

    hour = models.BigIntegerField(help_text="Hours since the Unix epoch.")
    sender = models.CharField(max_length=320, help_text="The canonical address (core.addresses).")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "sender hour count"
        # Leads with the hour, so that dropping past hours reads the index too.
        constraints = [models.UniqueConstraint(fields=["hour", "sender"], name="one_count_per_sender_hour")]

    def __str__(self) -> str:
        return f"{self.sender} hour {self.hour}: {self.count}"
