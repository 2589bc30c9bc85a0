"""Configuration reads outside the ingress snapshot."""

from django.contrib.auth import get_user_model

from configuration.models import IngressSettings, default_time_zone


def time_zone_configured() -> str:
    """The operator's time zone (ingress settings), in one small query; the seeded default before any save."""
    return IngressSettings.objects.values_list("time_zone", flat=True).first() or default_time_zone()


def admin_usernames() -> list[str]:
    """Active superusers' names, the first few: who can log in to admin right now."""
    users = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk")
    return list(users.values_list("username", flat=True)[:5])
