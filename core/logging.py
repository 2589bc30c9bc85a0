"""Log hygiene: e-mail addresses masked, credentials never written."""

import logging
import re

from core.addresses import email_mask

_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_CREDENTIAL_RE = re.compile(r"(?i)\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}")


def text_redact(text: str) -> str:
    text = _EMAIL_RE.sub(lambda m: email_mask(m.group(0)), text)
    return _CREDENTIAL_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RedactSecretsFilter(logging.Filter):
    """Safety net behind explicit masking: rewrites any record that still carries an address or token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = text_redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
