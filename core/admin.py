"""Admin pieces every app's admin shares."""

from django.contrib import admin


class SingletonAdmin(admin.ModelAdmin):
    """A settings singleton (core.models.SingletonModel): one row, never added twice, never deleted."""

    def has_add_permission(self, request):
        return not self.model.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
