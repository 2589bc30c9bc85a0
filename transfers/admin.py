from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html

from transfers.models import LinkPair
from transfers.storage import object_url, storage_configured


@admin.register(LinkPair)
class LinkPairAdmin(admin.ModelAdmin):
    """Read-only history of copies; deleting a row makes the next delivery copy its source again."""

    list_display = ("created_at", "provider", "filename", "status", "size_display", "expires_at")
    list_filter = ("provider", "status", "created_at")
    search_fields = ("source_url", "original_filename", "object_key")
    date_hierarchy = "created_at"
    list_per_page = 100
    fields = (
        "source_url", "provider", "status", "error", "original_filename", "size_display", "content_type",
        "object_key", "download", "r2_url", "created_at", "updated_at", "expires_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="file name", ordering="original_filename")
    def filename(self, obj: LinkPair) -> str:
        return obj.original_filename or obj.object_key.rsplit("/", 1)[-1] or "—"

    @admin.display(description="size", ordering="size")
    def size_display(self, obj: LinkPair) -> str:
        return filesizeformat(obj.size) if obj.size is not None else "—"

    @admin.display(description="download")
    def download(self, obj: LinkPair) -> str:
        """A fresh link to the copy (a presigned URL is signed now, locally) while the copy is live."""
        if obj.status != LinkPair.Status.STORED or not obj.object_key or not storage_configured():
            return "—"
        if obj.expires_at and obj.expires_at <= timezone.now():
            return "expired"
        remaining = (obj.expires_at - timezone.now()).total_seconds() if obj.expires_at else None
        url = object_url(obj.object_key, max_seconds=remaining)
        return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">Download the copy</a>', url)
