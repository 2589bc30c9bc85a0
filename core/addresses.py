"""E-mail addresses: the one in a From value, and how logs show one."""

from email.utils import parseaddr


def sender_email_parse(sender: str) -> str:
    """The address in `Name <a@b.fr>`, trimmed and lower-cased; the trimmed raw value when none parses."""
    try:
        address = parseaddr(sender)[1].strip()
    except (TypeError, ValueError):
        address = ""
    return (address or sender.strip()).lower()


def email_mask(address: str) -> str:
    """`john.doe@acme.fr` -> `jo***@acme.fr`; anything that is not an address is masked whole."""
    local, sep, domain = (address or "").strip().partition("@")
    if not sep:
        return "***" if address else ""
    return f"{local[:2]}***@{domain}"
