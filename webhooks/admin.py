from django.contrib import admin

from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookSettings


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "is_active", "is_default", "delivery_mode", "success_requires_json")
    list_filter = ("is_active", "is_default", "delivery_mode")
    search_fields = ("name", "url")


@admin.register(WebhookSettings)
class WebhookSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "sending_enabled", "time_zone", "window_start", "window_end", "outside_window_policy")

    def has_add_permission(self, request):
        return not WebhookSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "status_code", "duration_ms", "failure_reason", "error", "response_snippet")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "endpoint", "status", "attempt_count", "last_status_code", "failure_reason")
    list_filter = ("status", "endpoint", "failure_reason", "is_test")
    search_fields = ("email__email_id", "email__subject")
    date_hierarchy = "created_at"
    list_select_related = ("endpoint",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [DeliveryAttemptInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    def has_add_permission(self, request):
        return False
