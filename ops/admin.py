"""Alerts in admin: read-only, open ones first; each with the notifications tried and their errors."""

from collections import Counter

from django.contrib import admin

from core.admin import HistoryAdmin, ReadOnlyInline
from ops.models import Alert, AlertNotification


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


class AlertNotificationInline(ReadOnlyInline):
    model = AlertNotification
    fields = ("sent_at", "event", "channel", "succeeded", "error")
    readonly_fields = fields
    verbose_name_plural = "notifications (newest first)"


@admin.register(Alert)
class AlertAdmin(HistoryAdmin):
    list_display = (
        "kind", "subject_type", "subject_label", "state", "message", "count", "first_seen_at", "last_seen_at",
        "resolved_at", "last_notified_at", "notification_errors",
    )
    list_filter = ("kind", AlertStateFilter, "subject_type")
    search_fields = ("subject_label", "message")
    fields = (
        "kind", "subject_type", "subject_id", "subject_label", "message", "count", "first_seen_at", "last_seen_at",
        "resolved_at", "last_notified_at", "notified_open",
    )
    readonly_fields = fields
    inlines = [AlertNotificationInline]

    # The default order only (open ones first, then the newest): sorting by a column sorts every alert.
    sortable_by = ()

    def get_changelist_instance(self, request):
        """The page's failed notifications, counted in one query over those alerts alone (a count annotated
        on the list would group every alert of the history)."""
        changelist = super().get_changelist_instance(request)
        alerts = {alert.pk: alert for alert in changelist.result_list}
        failed_notifications = AlertNotification.objects.filter(alert__in=alerts, succeeded=False).order_by()
        failed = Counter(failed_notifications.values_list("alert_id", flat=True))
        for alert in alerts.values():
            alert.failed_notifications = failed[alert.pk]
        return changelist

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state", ordering="resolved_at")
    def state(self, alert) -> str:
        return "open" if alert.is_open else "resolved"

    @admin.display(description="failed notifications")
    def notification_errors(self, alert) -> int:
        return alert.failed_notifications
