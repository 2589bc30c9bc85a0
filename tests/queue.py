"""The delivery worker's rounds, run in the test's own process and transaction (no threads)."""

from webhooks.models import WebhookDelivery
from webhooks.services.queue import deliveries_claim
from webhooks.services.sending import deliveries_recover_expired, delivery_send


def queue_pass(free: int = 64) -> list:
    """One round of the delivery worker, in this process: take back expired leases, claim what is due
    lane by lane, and send each claim. The claims it sent."""
    deliveries_recover_expired()
    claims = deliveries_claim(free).claims
    for claim in claims:
        delivery_send(claim)
    return claims


def send_due(delivery: WebhookDelivery) -> str | None:
    """Send what is due now (one worker round) and return `delivery`'s status afterwards."""
    queue_pass()
    return WebhookDelivery.objects.get(pk=delivery.pk).status
