"""Who sent an e-mail and which id it deduplicates on (SPEC §3.2, legacy-compatible)."""

import hashlib
from email.utils import parseaddr


def sender_email_parse(sender: str) -> str:
    """The address in `Name <a@b.fr>`, trimmed and lower-cased; the trimmed raw value when none parses."""
    try:
        address = parseaddr(sender)[1].strip()
    except (TypeError, ValueError):
        address = ""
    return (address or sender.strip()).lower()


def email_id_compute(*, subject: str, sender_email: str, date: str, message_id: str = "") -> str:
    """md5 of the message id when given, else the legacy md5(subject|sender_email|date)."""
    source = message_id if message_id else f"{subject}|{sender_email}|{date}"
    return hashlib.md5(source.encode("utf-8"), usedforsecurity=False).hexdigest()
