"""`manage.py endpoint_rotate_secret <endpoint name or id> [--secret whsec_…]`: rotate with an overlap."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import endpoint_secret_rotate


class Command(BaseCommand):
    help = (
        "Give an endpoint a new signing secret, printed once; its current secret keeps signing deliveries too for "
        f"SECRET_ROTATION_OVERLAP_HOURS (now {settings.SECRET_ROTATION_OVERLAP_HOURS} h)."
    )

    def add_arguments(self, parser):
        parser.add_argument("endpoint", help="The endpoint's name, or its id.")
        parser.add_argument("--secret", default="", help="The new secret (whsec_…); default: a generated one.")

    def handle(self, *args, endpoint, secret, **options):
        target = _endpoint_find(endpoint)
        try:
            rotation = endpoint_secret_rotate(target, secret=secret)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"New signing secret of endpoint '{target.name}' (shown once; give it to the receiver):")
        self.stdout.write(rotation.secret)
        if rotation.previous_valid_until:
            self.stdout.write(
                f"The previous secret also signs deliveries until {rotation.previous_valid_until:%Y-%m-%d %H:%M:%S} "
                "UTC."
            )
        else:
            self.stdout.write("Only the new secret signs deliveries from now on.")


def _endpoint_find(key: str) -> WebhookEndpoint:
    found = WebhookEndpoint.objects.filter(name=key).first()
    if found is None and key.isascii() and key.isdigit():
        found = WebhookEndpoint.objects.filter(pk=int(key)).first()
    if found is None:
        raise CommandError(f"No endpoint named '{key}' (nor with that id).")
    return found
