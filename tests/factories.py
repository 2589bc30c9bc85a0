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


def settings_update(**values) -> IngressSettings:
    prefs = IngressSettings.load()
    for key, value in values.items():
        setattr(prefs, key, value)
    prefs.full_clean()
    prefs.save()
    return prefs


def delivery_settings_update(**values) -> DeliverySettings:
    delivery = DeliverySettings.load()
    for key, value in values.items():
        setattr(delivery, key, value)
    delivery.full_clean()
    delivery.save()
    return delivery


def flags_update(**values) -> RuntimeFlags:
    flags = RuntimeFlags.load()
    for key, value in values.items():
        setattr(flags, key, value)
    flags.save()
    return flags


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
