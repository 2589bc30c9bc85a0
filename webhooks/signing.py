"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets and the three signature headers."""

import base64
import binascii
import secrets
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
SECRET_NEW_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_NEW_BYTES)).decode("ascii")


def secret_validate(secret: str) -> None:
    """A signing secret is `whsec_` + standard base64 of 24 to 64 bytes, as the spec and its libraries expect."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValidationError(f"A signing secret starts with '{SECRET_PREFIX}' (use the generated one).")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("A signing secret is 'whsec_' followed by standard base64.") from exc
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValidationError(
            f"A signing secret holds {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes (this one has {len(key)})."
        )


def secret_mask(secret: str) -> str:
    """Enough to tell two secrets apart, never enough to use one: `whsec_…k3Q=`."""
    if not secret:
        return ""
    return f"{SECRET_PREFIX}…{secret[-4:]}" if len(secret) > len(SECRET_PREFIX) + 8 else "…"


def signature_headers(keys: list[str], msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` for this body, signed at `now` (whole seconds).

    With several secrets (a rotation's overlap) the signature header holds one space-separated `v1,<sig>`
    per secret, in the order given: a receiver holding any of them verifies the request.
    """
    timestamp = int(now.timestamp())
    signed_at, data = datetime.fromtimestamp(timestamp, tz=UTC), body.decode("utf-8")
    signatures = [Webhook(key).sign(msg_id=msg_id, timestamp=signed_at, data=data) for key in keys]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}
