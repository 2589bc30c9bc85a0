"""How answers are judged: the legacy failure_reason taxonomy and what is retried."""

import pytest

from webhooks import outcomes


@pytest.mark.parametrize(
    ("status", "text", "reason"),
    [
        (None, "", "request_failed"),
        (403, "blocked by Imunify360", "bot_protection_denied"),
        (200, "<p>bot-protection page</p>", "bot_protection_denied"),
        (415, "", "unsupported_media_type"),
        (429, "", "rate_limited"),
        (500, "", "upstream_server_error"),
        (503, "", "upstream_server_error"),
        (400, "", "upstream_client_error"),
        (404, "", "upstream_client_error"),
        (301, "", "upstream_client_error"),
        (200, '{"success": false}', "remote_application_error"),
        (200, "", "request_failed"),
    ],
)
def test_failure_reason_taxonomy(status, text, reason):
    assert outcomes.failure_reason_classify(status, text) == reason


@pytest.mark.parametrize("status", [None, 408, 425, 429, 500, 502, 503, 504, 599])
def test_retryable(status):
    assert outcomes.status_is_retryable(status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 410, 415, 422])
def test_not_retryable(status):
    assert not outcomes.status_is_retryable(status)


def test_json_success_must_be_literally_true():
    assert outcomes.response_is_success(200, '{"success": true}', requires_json=True)
    assert not outcomes.response_is_success(200, '{"success": 1}', requires_json=True)
    assert not outcomes.response_is_success(200, '[{"success": true}]', requires_json=True)
    assert not outcomes.response_is_success(500, '{"success": true}', requires_json=True)
    assert outcomes.response_is_success(204, "", requires_json=False)
