from django.db import models


class LinkPair(models.Model):
    """A provider link and its copy in the S3-compatible bucket."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"

    source_url = models.CharField(max_length=2000, unique=True, help_text="Canonical download URL.")
    provider = models.CharField(max_length=20)
    object_key = models.CharField(max_length=1024, blank=True)
    r2_url = models.CharField(max_length=2000, blank=True)
    original_filename = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Admin's filters, each in the list's order (docs/admin.md, "Large lists"); they replace the
        # single-column indexes, so a copy writes no more index entries than before.
        indexes = [
            models.Index(fields=["provider", "created_at"], name="linkpair_provider_created_idx"),
            models.Index(fields=["status", "created_at"], name="linkpair_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.original_filename or self.source_url[:60]}"
