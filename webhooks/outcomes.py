"""How an HTTP answer is judged (SPEC §7): success, failure reason, retryability, and what it tells the lane."""

import json
from collections.abc import Collection
from dataclasses import dataclass

from webhooks.lanes import Outcome

BOT_PROTECTION_DENIED = "bot_protection_denied"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
RATE_LIMITED = "rate_limited"
UPSTREAM_SERVER_ERROR = "upstream_server_error"
UPSTREAM_CLIENT_ERROR = "upstream_client_error"
REMOTE_APPLICATION_ERROR = "remote_application_error"
REQUEST_FAILED = "request_failed"
BLOCKED_TARGET = "blocked_target"
# Not an HTTP outcome: the endpoint was deactivated (by staff or a 410) while the delivery waited.
ENDPOINT_INACTIVE = "endpoint_inactive"
# Not an HTTP outcome either: the send itself raised (a bug, or an input the transport refused).
INTERNAL_ERROR = "internal_error"

FAILURE_REASONS = {
    BOT_PROTECTION_DENIED: "Bot protection denied",
    UNSUPPORTED_MEDIA_TYPE: "Unsupported media type (415)",
    RATE_LIMITED: "Rate limited (429)",
    UPSTREAM_SERVER_ERROR: "Receiver server error (5xx)",
    UPSTREAM_CLIENT_ERROR: "Receiver refused (4xx/3xx)",
    REMOTE_APPLICATION_ERROR: 'Receiver answered without "success": true',
    REQUEST_FAILED: "Request failed (network, timeout)",
    BLOCKED_TARGET: "Blocked target (non-public address)",
    ENDPOINT_INACTIVE: "Endpoint inactive",
    INTERNAL_ERROR: "Internal error while sending",
}

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def response_is_success(status_code: int, text: str, requires_json: bool) -> bool:
    if not 200 <= status_code < 300:
        return False
    if not requires_json:
        return True
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("success") is True


def failure_reason_classify(status_code: int | None, text: str) -> str:
    """The legacy taxonomy, checked in the legacy order; a redirect (never followed) counts as a refusal."""
    lowered = (text or "").lower()
    if "imunify360" in lowered or "bot-protection" in lowered:
        return BOT_PROTECTION_DENIED
    if status_code is None:
        return REQUEST_FAILED
    if status_code == 415:
        return UNSUPPORTED_MEDIA_TYPE
    if status_code == 429:
        return RATE_LIMITED
    if status_code >= 500:
        return UPSTREAM_SERVER_ERROR
    if status_code >= 300:
        return UPSTREAM_CLIENT_ERROR
    if text:
        return REMOTE_APPLICATION_ERROR
    return REQUEST_FAILED


def status_is_retryable(status_code: int | None, also: Collection[int] = ()) -> bool:
    """Network errors and timeouts (None), 408, 425, 429, 5xx and the endpoint's own extra statuses (`also`,
    its `retry_on_status`) are retried; anything else fails at once."""
    return status_code is None or status_code in RETRYABLE_STATUSES or status_code >= 500 or status_code in also


@dataclass(frozen=True)
class Verdict:
    succeeded: bool
    reason: str  # "" on success, else one of FAILURE_REASONS
    retryable: bool
    lane: Outcome  # what the answer says about the receiver's health
    gone: bool = False  # 410: the receiver retired this URL


def attempt_judge(
    status_code: int | None, text: str, *, requires_json: bool, blocked: bool = False, retry_on: Collection[int] = ()
) -> Verdict:
    """The verdict on one answer (status None: no answer, a network error or a timeout).

    `retry_on` holds the endpoint's extra retried statuses: the receiver said it cannot take the delivery
    yet (n8n's 404 for an inactive workflow), so they count towards the breaker like a 5xx.
    """
    if status_code is not None and response_is_success(status_code, text, requires_json):
        return Verdict(True, "", False, Outcome.SUCCESS)
    if blocked:
        return Verdict(False, BLOCKED_TARGET, False, Outcome.REFUSAL)
    reason = failure_reason_classify(status_code, text)
    if status_is_retryable(status_code, retry_on):
        return Verdict(False, reason, True, Outcome.FAILURE)
    return Verdict(False, reason, False, Outcome.REFUSAL, gone=status_code == 410)
