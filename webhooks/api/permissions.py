"""Who may use the history API: staff holding Django's model permissions, as in the admin (docs/api.md)."""

from rest_framework.permissions import DjangoModelPermissions

VIEW = "%(app_label)s.view_%(model_name)s"
CHANGE = "%(app_label)s.change_%(model_name)s"
VIEW_ATTEMPTS = "webhooks.view_deliveryattempt"


class StaffModelPermissions(DjangoModelPermissions):
    """Staff holding the permission on the model of the view's queryset: view to read, change for the
    actions (replay, cancel: every POST). Superusers hold every permission; non-staff are refused, as by admin."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": [VIEW], "HEAD": [VIEW], "POST": [CHANGE]}

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff) and super().has_permission(request, view)


class StaffModelPermissionsWithAttempts(StaffModelPermissions):
    """For answers that show delivery attempts (headers sent, the receiver's answers): admin shows those
    only to users who may view attempts, so `webhooks.view_deliveryattempt` is needed as well."""

    perms_map = {method: [*perms, VIEW_ATTEMPTS] for method, perms in StaffModelPermissions.perms_map.items()}
