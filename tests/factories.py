"""Small builders for the objects tests need; keyword arguments override the defaults."""

import itertools

from configuration.models import IngressSettings, RuntimeFlags
from webhooks.models import DeliverySettings, WebhookEndpoint

TOKEN = "test-token"
_counter = itertools.count(1)

DROPBOX_LINK = "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0"


def endpoint_create(**overrides) -> WebhookEndpoint:
    n = next(_counter)
    values = {"name": f"endpoint-{n}", "url": f"http://127.0.0.1:9/hook-{n}", "is_default": False}
    values.update(overrides)
    return WebhookEndpoint.objects.create(**values)


def _singleton_update(model, *, clean: bool = True, **values):
    """Set fields of a settings singleton and save it, validated as admin would."""
    row = model.load()
    for key, value in values.items():
        setattr(row, key, value)
    if clean:
        row.full_clean()
    row.save()
    return row


def settings_update(**values) -> IngressSettings:
    return _singleton_update(IngressSettings, **values)


def delivery_settings_update(**values) -> DeliverySettings:
    return _singleton_update(DeliverySettings, **values)


def flags_update(**values) -> RuntimeFlags:
    return _singleton_update(RuntimeFlags, clean=False, **values)


def push_payload(**overrides) -> dict:
    n = next(_counter)
    payload = {
        "sender": "Technique <technique@media-solution.fr>",
        "subject": f"Fichiers du jour {n}",
        "date": f"2026-04-10T09:{n % 60:02d}:38.000Z",
        "body": f'<div dir="ltr">Bonjour, voici les fichiers : <a href="{DROPBOX_LINK}">lien</a></div>',
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}
