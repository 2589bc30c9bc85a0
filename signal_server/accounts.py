import os

from django.contrib.auth import get_user_model


def superuser_ensure_from_env() -> list[str]:
    """Create or update the admin user named by DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL."""
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    if not username or not password:
        return []
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    user.email = os.environ.get("DJANGO_SUPERUSER_EMAIL", user.email)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return [f"{'Created' if created else 'Updated'} admin user '{username}'."]


def admin_usernames() -> list[str]:
    """Active superusers' names, the first few: who can log in to admin right now."""
    return list(
        get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").values_list("username", flat=True)[:5]
    )
