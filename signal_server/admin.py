"""API tokens in admin: shown masked, like endpoint secrets; the full key once, when it is created.

DRF's own Token admin lists every key in clear, so anyone allowed to view that page could act as any
user, a superuser included. This registration replaces it.
"""

from django.contrib import admin, messages
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from core.secrets import secret_mask
from signal_server.models import ApiToken

admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    list_display = ("masked_key", "user", "created")

    @admin.display(description="key")
    def masked_key(self, token) -> str:
        return secret_mask(token.key)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            messages.success(request, f"Token for {obj.user}: {obj.key}. Copy it now: it is not shown again.")
