"""How answers are judged: the legacy failure_reason taxonomy and what is retried."""

import pytest

from webhooks import outcomes
from webhooks.lanes import Outcome


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


# An endpoint's retry_on_status adds statuses to the retried set; the rest of the table is unchanged.
@pytest.mark.parametrize(
    ("status", "retry_on", "retryable"),
    [
        (404, [404, 409], True),
        (409, [404, 409], True),
        (404, [], False),
        (400, [404, 409], False),
        (415, [415], True),
        (503, [], True),
        (503, [404], True),
        (None, [404], True),
    ],
)
def test_retry_on_status_adds_to_the_retried_statuses(status, retry_on, retryable):
    assert outcomes.status_is_retryable(status, retry_on) is retryable
    assert outcomes.attempt_judge(status, "", requires_json=False, retry_on=retry_on).retryable is retryable


def test_a_listed_status_keeps_its_failure_reason_and_counts_towards_the_breaker():
    verdict = outcomes.attempt_judge(404, "workflow inactive", requires_json=False, retry_on=[404])
    assert (verdict.succeeded, verdict.reason, verdict.lane, verdict.gone) == (
        False, "upstream_client_error", Outcome.FAILURE, False
    )


def test_an_unlisted_4xx_is_a_refusal_that_fails_at_once():
    verdict = outcomes.attempt_judge(404, "", requires_json=False, retry_on=[409])
    assert (verdict.retryable, verdict.lane) == (False, Outcome.REFUSAL)


def test_410_is_gone_whatever_else_is_listed():
    assert outcomes.attempt_judge(410, "", requires_json=False, retry_on=[404, 409]).gone
