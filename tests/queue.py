"""The delivery worker's rounds, run in the test's own process and transaction (no threads)."""

from webhooks.models import WebhookDelivery
from webhooks.services.queue import Claim, deliveries_claim
from webhooks.services.sending import (
    attempts_record,
    deliveries_load,
    deliveries_recover_expired,
    delivery_attempt,
)


def delivery_send(claim: Claim) -> str | None:
    """Send one claimed delivery and record it, as a worker's sender and loop threads do; its new status
    (None when the claim no longer holds)."""
    delivery = deliveries_load([claim]).get(claim.delivery_id)
    if delivery is None or delivery.status != WebhookDelivery.Status.SENDING or delivery.claim_token != claim.token:
        return None
    return attempts_record([delivery_attempt(claim, delivery)])[claim.delivery_id]


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
