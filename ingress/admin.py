from django.contrib import admin

from ingress.models import InboundEmail, RuntimeFlags


@admin.register(RuntimeFlags)
class RuntimeFlagsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "ingress_enabled", "allow_without_links", "email_id_dedup_enabled", "updated_at")

    def has_add_permission(self, request):
        return not RuntimeFlags.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ("received_at", "subject", "sender_email", "status", "detector", "email_id")
    list_filter = ("status", "detector")
    search_fields = ("email_id", "subject", "sender_email", "message_id")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundEmail._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body", "links", "decision")

    def has_add_permission(self, request):
        return False
