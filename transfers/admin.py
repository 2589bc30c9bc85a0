from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html

from core.admin import SEARCH_WINDOW, HistoryAdmin
from core.providers import PROVIDER_DOMAINS
from transfers.models import LinkPair
from transfers.storage import object_url, storage_configured

PROVIDERS = sorted(PROVIDER_DOMAINS.values())


class ProviderFilter(admin.SimpleListFilter):
    """The providers are known: listing them needs no DISTINCT over every copy."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(name, name) for name in PROVIDERS]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() in PROVIDERS else queryset


@admin.register(LinkPair)
class LinkPairAdmin(HistoryAdmin):
    """Read-only history of copies; deleting a row makes the next delivery copy its source again."""

    list_display = ("created_at", "provider", "filename", "status", "size_display", "expires_at")
    # Each filter is served by an index in creation order (docs/admin.md, "Large lists").
    list_filter = (ProviderFilter, "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("source_url",)  # shows the search box; get_search_results decides what a query means
    search_help_text = (
        f"A link finds its copy exactly; other text is looked for in the file names of the newest {SEARCH_WINDOW:,} "
        "copies of the list."
    )
    sortable_by = ("created_at",)
    list_per_page = 100
    fields = (
        "source_url", "provider", "status", "error", "original_filename", "size_display", "content_type",
        "object_key", "download", "r2_url", "created_at", "updated_at", "expires_at",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        """A link exactly (the unique index); a word, in the file names of a bounded window (docs/admin.md)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith(("http://", "https://")):
            return queryset.filter(source_url=term), False
        in_window = self.search_window(queryset, "created_at")
        return queryset.filter(in_window, original_filename__icontains=term), False

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
