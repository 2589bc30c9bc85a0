"""Admin for the settings singletons: one row each, never added twice, never deleted."""

from django.contrib import admin

from configuration.models import IngressSettings, RetentionSettings, RuntimeFlags
from core.admin import SingletonAdmin


@admin.register(RuntimeFlags)
class RuntimeFlagsAdmin(SingletonAdmin):
    list_display = ("__str__", "ingress_enabled", "allow_without_links", "email_id_dedup_enabled", "updated_at")


@admin.register(IngressSettings)
class IngressSettingsAdmin(SingletonAdmin):
    list_display = ("__str__", "sending_enabled", "time_zone", "window_start", "window_end", "outside_window_policy")


@admin.register(RetentionSettings)
class RetentionSettingsAdmin(SingletonAdmin):
    list_display = ("__str__", "retention_days", "updated_at")
