"""Configuration writes outside the document: first-start seeding from the environment."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from configuration.models import IngressSettings
from webhooks.models import WebhookEndpoint


def config_seed_from_env() -> list[str]:
    """Seed what the environment offers, once: the ingress settings and the default endpoint."""
    notes = []
    if not IngressSettings.objects.exists():
        prefs = IngressSettings(sender_allowlist=list(settings.GMAIL_SENDER_ALLOWLIST))
        prefs.full_clean()
        prefs.save()
        notes.append(
            f"Created ingress settings (time zone {prefs.time_zone}, {len(prefs.sender_allowlist)} allowed senders)."
        )
    if settings.WEBHOOK_URL and not WebhookEndpoint.objects.exists():
        endpoint = WebhookEndpoint(name="default", url=settings.WEBHOOK_URL, is_default=True)
        try:
            endpoint.full_clean()
        except ValidationError as exc:
            notes.append(f"WEBHOOK_URL not used: {'; '.join(exc.messages)}")
        else:
            endpoint.save()
            notes.append(f"Created the default endpoint from WEBHOOK_URL ({endpoint.url_masked}).")
    return notes


def superuser_ensure_from_env() -> list[str]:
    """Create or update the admin user named by DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL."""
    username, password = settings.SUPERUSER_USERNAME, settings.SUPERUSER_PASSWORD
    if not username or not password:
        return []
    user, created = get_user_model().objects.get_or_create(username=username)
    user.email = settings.SUPERUSER_EMAIL or user.email
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return [f"{'Created' if created else 'Updated'} admin user '{username}'."]
