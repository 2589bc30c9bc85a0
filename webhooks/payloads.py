"""The outbound payload (SPEC §7): legacy key names and order, optional keys omitted when empty.

docs/payload.schema.json describes it; keys added since the legacy app come after the legacy ones.
"""

import json
from collections.abc import Callable

from core.text import html_to_text

# The full text view is sent up to this many characters (`body_text_truncated` says when it was cut).
BODY_TEXT_MAX_CHARS = 100_000


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
    payload.update(_body_text(email.body))
    recipients = {kind: (email.recipients or {}).get(kind, []) for kind in ("to", "cc")}
    added = {
        "recipients": recipients if any(recipients.values()) else None,
        "attachments": email.attachments,
        "links_by_provider": links_by_provider(links),
    }
    payload.update({key: value for key, value in added.items() if value})
    return payload


def _body_text(body: str) -> dict:
    text = html_to_text(body)
    if len(text) <= BODY_TEXT_MAX_CHARS:
        return {"body_text": text}
    return {"body_text": text[:BODY_TEXT_MAX_CHARS], "body_text_truncated": True}


def links_by_provider(links: list[dict]) -> dict[str, list[str]]:
    """Each provider's download URLs (`direct_url`), in the order of the links."""
    grouped: dict[str, list[str]] = {}
    for link in links:
        url = link.get("direct_url") or link.get("raw_url")
        if link.get("provider") and url:
            grouped.setdefault(link["provider"], []).append(url)
    return grouped


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
        "body_text": "This is a test delivery sent from the admin.",
    }


def payload_serialize(payload: dict) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is, Python's default separators (as the legacy sender)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def payload_links_refresh(payload_json: str, refresh: Callable[[list[dict]], list[dict]]) -> str:
    """A payload built earlier, its `delivery_links` passed through `refresh` when one carries a bucket copy
    (`r2_url`, SPEC §8); otherwise the very same text, read without parsing unless it mentions `r2_url`."""
    if '"r2_url"' not in payload_json:
        return payload_json
    payload = json.loads(payload_json)
    links = payload.get("delivery_links")
    if not isinstance(links, list) or not any(isinstance(link, dict) and "r2_url" in link for link in links):
        return payload_json
    payload["delivery_links"] = refresh(links)  # same place: the legacy key order is kept
    return payload_serialize(payload).decode("utf-8")
