"""The outbound payload (SPEC §7): legacy key names and order, optional keys omitted when empty."""

import json


def payload_build(email, *, links: list[dict], routing_rule: dict | None) -> dict:
    payload = {
        "microsoft_graph_email_id": email.email_id,
        "email_id": email.email_id,
        "subject": email.subject,
        "receivedDateTime": email.date,
        "sender_address": email.sender,
        "sender_email": email.sender_email,
        "bodyPreview": email.body_preview,
        "email_content": email.body,
        "source": "gmail_push",
    }
    optional = {
        "detector": email.detector,
        "delivery_time": email.delivery_time,
        "is_urgent": email.is_urgent if email.detector == "desabonnement_journee_tarifs" else None,
        "webhooks_time_start": email.webhooks_time_start,
        "webhooks_time_end": email.webhooks_time_end,
        "delivery_links": links,
        "routing_rule": routing_rule,
    }
    payload.update({key: value for key, value in optional.items() if value not in (None, "", [], {})})
    return payload


def test_payload_build(endpoint_name: str, sent_at: str) -> dict:
    return {
        "microsoft_graph_email_id": "test",
        "email_id": "test",
        "subject": f"Signal Server test webhook for {endpoint_name}",
        "receivedDateTime": sent_at,
        "sender_address": "Signal Server <signal-server@localhost>",
        "sender_email": "signal-server@localhost",
        "bodyPreview": "This is a test delivery sent from the admin.",
        "email_content": "<p>This is a test delivery sent from the admin.</p>",
        "source": "signal_server_test",
        "is_test": True,
    }


def payload_serialize(payload: dict) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is, Python's default separators (as the legacy sender)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
