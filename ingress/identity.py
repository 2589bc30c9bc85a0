"""Which id an e-mail deduplicates on (SPEC §3.2, legacy-compatible)."""

import hashlib


def email_id_compute(*, subject: str, sender_email: str, date: str, message_id: str = "") -> str:
    """md5 of the message id when given, else the legacy md5(subject|sender_email|date)."""
    source = message_id if message_id else f"{subject}|{sender_email}|{date}"
    return hashlib.md5(source.encode("utf-8"), usedforsecurity=False).hexdigest()
