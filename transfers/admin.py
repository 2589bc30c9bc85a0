from django.contrib import admin

from transfers.models import LinkPair


@admin.register(LinkPair)
class LinkPairAdmin(admin.ModelAdmin):
    list_display = ("created_at", "provider", "original_filename", "status", "size", "expires_at")
    list_filter = ("provider", "status")
    search_fields = ("source_url", "original_filename", "object_key")
