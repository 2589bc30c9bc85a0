import time

import pytest

from ingress.models import InboundEmail
from tests.factories import delivery_settings_update, endpoint_create
from tests.queue import queue_pass
from webhooks.models import WebhookDelivery

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's example secret (24 bytes)


@pytest.fixture
def email(db):
    return InboundEmail.objects.create(
        email_id="ef626f4a3197550e73b6e5a1b3cdc39e",
        sender="Technique <technique@media-solution.fr>",
        sender_email="technique@media-solution.fr",
        subject="Média Solution - Missions Recadrage - Lot 107",
        date="2026-04-10T09:54:38.000Z",
        body="<p>À faire pour 14h30 https://www.dropbox.com/scl/fo/abc</p>",
        body_preview="À faire pour 14h30 https://www.dropbox.com/scl/fo/abc",
        detector="recadrage",
        delivery_time="14h30",
        links=[{"provider": "dropbox", "raw_url": "https://www.dropbox.com/scl/fo/abc",
                "direct_url": "https://www.dropbox.com/scl/fo/abc?dl=1"}],
        webhooks_time_start="maintenant",
        webhooks_time_end="17h00",
        status="processed",
    )


@pytest.fixture
def make_delivery(email, receiver):
    """A pending delivery of the e-mail to a fresh endpoint on the receiver (endpoint fields overridable)."""

    def _make(path: str = "/hook", *, of=None, **endpoint_fields) -> WebhookDelivery:
        endpoint_fields.setdefault("url", receiver.url(path))
        endpoint = endpoint_create(**endpoint_fields)
        return WebhookDelivery.objects.create(email=of or email, endpoint=endpoint)

    return _make


@pytest.fixture
def short_schedule(db):
    """Retry schedule short enough for tests: `short_schedule(0, 1, 1, 1)`."""

    def _set(*delays: int):
        delivery_settings_update(retry_schedule_seconds=list(delays))

    return _set


@pytest.fixture
def run_queue():
    """Run worker rounds in this process until `done()` holds, bounded in time.

    Deliveries go out when they are due and their lane admits them, exactly as in production.
    """

    def _run(done, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue_pass()
            if done():
                return True
            time.sleep(0.05)
        return done()

    return _run


def finished(delivery: WebhookDelivery):
    """For run_queue: true once the delivery has succeeded or failed."""
    return lambda: WebhookDelivery.objects.get(pk=delivery.pk).status in ("succeeded", "failed")
