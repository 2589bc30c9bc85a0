"""Builders for recorded history (e-mails, deliveries, attempts) with chosen timestamps."""

import hashlib
import itertools
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ingress.models import InboundEmail
from tests.factories import DROPBOX_LINK, endpoint_create
from webhooks.models import DeliveryAttempt, WebhookDelivery

_counter = itertools.count(1)


# What reading the whole history takes: the view permission on each model the API shows.
HISTORY_VIEW_PERMS = (
    "ingress.view_inboundemail",
    "webhooks.view_webhookdelivery",
    "webhooks.view_deliveryattempt",
    "webhooks.view_webhookendpoint",
)


def staff_create(username: str = "operator", password: str = "s3cret-pass", *, perms=(), **fields):
    """A staff user (unless `is_staff=False`) holding `perms`, given as "app_label.codename"."""
    fields.setdefault("is_staff", True)
    user = get_user_model().objects.create_user(username=username, password=password, **fields)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def token_client(user) -> APIClient:
    """An API client authenticated as `user` by token, as a script would be."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def email_create(*, received_at: datetime | None = None, **overrides) -> InboundEmail:
    n = next(_counter)
    values = {
        "email_id": hashlib.md5(f"email-{n}".encode()).hexdigest(),
        "sender": "Technique <technique@media-solution.fr>",
        "sender_email": "technique@media-solution.fr",
        "subject": f"Fichiers du jour {n}",
        "date": "2026-04-10T09:54:38.000Z",
        "body": f'<p>Bonjour <a href="{DROPBOX_LINK}">lien</a></p>',
        "body_preview": "Bonjour lien",
        "links": [{"provider": "dropbox", "raw_url": DROPBOX_LINK, "direct_url": DROPBOX_LINK + "&dl=1"}],
        "status": InboundEmail.Status.PROCESSED,
        "decision": {"detector": None, "window": "deliver", "links": 1, "endpoints": []},
    }
    values.update(overrides)
    values.setdefault("dedup_key", values["email_id"])
    email = InboundEmail.objects.create(**values)
    if received_at is not None:
        InboundEmail.objects.filter(pk=email.pk).update(received_at=received_at)
        email.received_at = received_at
    return email


def delivery_create(
    email=None, endpoint=None, *, created_at: datetime | None = None, attempts: list[dict] | None = None, **fields
) -> WebhookDelivery:
    """A delivery with the given (finished) attempts; its summary fields follow the last one, as the sender records."""
    endpoint = endpoint or endpoint_create()
    delivery = WebhookDelivery.objects.create(email=email, endpoint=endpoint, **fields)
    created_at = created_at or timezone.now()
    moment = created_at
    for number, attempt in enumerate(attempts or [], start=1):
        moment = attempt.pop("started_at", moment + timedelta(seconds=5 if number > 1 else 0))
        succeeded = attempt.pop("succeeded", 200 <= (attempt.get("status_code") or 0) < 300)
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=moment,
            finished_at=attempt.pop("finished_at", moment + timedelta(milliseconds=120)),
            duration_ms=attempt.pop("duration_ms", 120),
            url=attempt.pop("url", endpoint.url),
            delivery_mode=attempt.pop("delivery_mode", endpoint.delivery_mode),
            request_size=attempt.pop("request_size", 812),
            succeeded=succeeded,
            **attempt,
        )
        delivery.attempt_count = number
        delivery.last_attempt_at = moment
        delivery.last_status_code = attempt.get("status_code")
        delivery.last_error = "" if succeeded else attempt.get("error", "")
        delivery.failure_reason = "" if succeeded else attempt.get("failure_reason", "")
    if attempts and "status" not in fields:
        last_ok = delivery.attempts.order_by("-number").first().succeeded
        delivery.status = WebhookDelivery.Status.SUCCEEDED if last_ok else WebhookDelivery.Status.FAILED
        delivery.completed_at = moment
    delivery.save()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    delivery.created_at = created_at
    return delivery


def failed_attempt(status_code: int | None = 500, **fields) -> dict:
    reason = "request_failed" if status_code is None else "upstream_server_error"
    error = "Connection refused" if status_code is None else "Internal Server Error"
    return {"status_code": status_code, "error": error, "failure_reason": reason, "response_snippet": error, **fields}


def ok_attempt(**fields) -> dict:
    return {"status_code": 200, "response_snippet": '{"success": true}', **fields}
