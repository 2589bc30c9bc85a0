"""Ingress credentials: bearer tokens (several, for rotation) and optional request signatures (SPEC §3.1, §3.4)."""

import hashlib
import hmac
import re
import time

SIGNATURE_TOLERANCE_SECONDS = 300
# ASCII digits only, and few of them: `str.isdigit()` accepts "²" (which int() refuses) and int()
# refuses strings over 4,300 digits; both would escape as a 500.
TIMESTAMP = re.compile(r"[0-9]{1,15}")


def bearer_token_valid(header: str, tokens: list[str]) -> bool:
    """`Bearer <token>` (scheme case-insensitive) against every configured token, in constant time."""
    scheme, _, presented = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip() or not tokens:
        return False
    try:
        presented_bytes = presented.strip().encode("latin-1")
    except UnicodeEncodeError:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented_bytes, token.encode("utf-8"))
    return matched


def request_signature_valid(secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None) -> bool:
    """`X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` within ±5 minutes."""
    now = time.time() if now is None else now
    timestamp = timestamp.strip()
    if not TIMESTAMP.fullmatch(timestamp) or abs(now - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    scheme, _, digest = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    try:
        return hmac.compare_digest(expected.hexdigest(), digest.strip().lower())
    except TypeError:  # non-ASCII digest
        return False
