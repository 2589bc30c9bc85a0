from django.contrib import admin
from django.utils import timezone

from signal_server.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "beat_at", "age", "in_flight", "concurrency", "started_at")
    readonly_fields = ("worker_id", "beat_at", "in_flight", "concurrency", "started_at")

    @admin.display(description="seconds since the beat")
    def age(self, beat):
        return round((timezone.now() - beat.beat_at).total_seconds())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
