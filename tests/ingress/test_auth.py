"""Ingress credentials (SPEC §3.1, §3.4)."""

import hashlib
import hmac

import pytest

from ingress.auth import bearer_token_valid, request_signature_valid

TOKENS = ["alpha-token", "beta-token"]


@pytest.mark.parametrize(
    "header", ["Bearer alpha-token", "bearer beta-token", "BEARER alpha-token", " Bearer alpha-token "]
)
def test_bearer_with_any_configured_token_is_valid(header):
    assert bearer_token_valid(header, TOKENS)


@pytest.mark.parametrize("header", ["", "alpha-token", "Bearer", "Bearer ", "Token alpha-token", "Bearer alpha",
                                    "Bearer alpha-token-extra", "Bearer ålpha-token", "Bearer \u2603"])
def test_anything_else_is_invalid_without_raising(header):
    assert not bearer_token_valid(header, TOKENS)


def test_no_configured_token_rejects_everything():
    assert not bearer_token_valid("Bearer ", [])
    assert not bearer_token_valid("Bearer x", [])


def sign(secret, timestamp, body):
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_signature_over_timestamp_and_body_is_valid():
    assert request_signature_valid("s3cret", "1000", sign("s3cret", 1000, b"{}"), b"{}", now=1000)


def test_signature_older_than_five_minutes_is_refused():
    assert not request_signature_valid("s3cret", "1000", sign("s3cret", 1000, b"{}"), b"{}", now=1301)


@pytest.mark.parametrize("signature", ["", "sha256=", "md5=abc", "sha256=zz", "sha256=ünicode"])
def test_malformed_signature_is_refused(signature):
    assert not request_signature_valid("s3cret", "1000", signature, b"{}", now=1000)


def test_signature_of_another_body_is_refused():
    assert not request_signature_valid("s3cret", "1000", sign("s3cret", 1000, b"{}"), b"{ }", now=1000)


@pytest.mark.parametrize("timestamp", ["\u00b2", "1\u00b2", "\u0661\u0662", "9" * 5000, "-1000", "1e3", " ", "1_000"])
def test_malformed_timestamp_is_refused_without_raising(timestamp):
    assert not request_signature_valid("s3cret", timestamp, sign("s3cret", 1000, b"{}"), b"{}", now=1000)
