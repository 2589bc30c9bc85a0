"""E-mail addresses: the canonical one in a From value, and how logs show one.

Every place that compares senders (deduplication, the allowlist, the rate limit) uses the canonical
form, so a spelling that mail servers read as the same mailbox (`"x"@d`, `x@d.`, `X@D`, a zero-width
character, a stray `>`) is the same sender here too.
"""

import re
import unicodedata
from email.utils import getaddresses, parseaddr

import idna

# The last `<…@…>` of a From value parseaddr gives up on (`Name <x@d>>`, `Name <x@d> trailing`).
ANGLE_ADDRESS = re.compile(r"<([^<>]*@[^<>]*)>")
# Quoting, escapes, angle brackets, and the characters only a quoted local part may hold (a comment's
# parentheses, a group's colon and semicolon, a list's comma): dropped, so `"x"@d` is x@d.
UNQUOTED = str.maketrans("", "", '"\\<>():;,')


def _visible(text: str) -> str:
    """NFKC, without format characters (zero-width space and joiners, BOM, soft hyphen: category Cf)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def _domain_canonicalize(domain: str) -> str:
    """Lower case, no trailing dot, and an internationalised name in its one Unicode spelling (UTS #46)."""
    domain = domain.rstrip(".").lower()
    if domain.isascii() and "xn--" not in domain:
        return domain
    try:
        return idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return domain


def address_canonicalize(address: str) -> str:
    """One spelling per mailbox: NFKC, no format characters, whitespace, quotes or `<>`, lower case."""
    text = "".join(_visible(address).split()).translate(UNQUOTED)
    local, at, domain = text.rpartition("@")
    if not at:
        return unicodedata.normalize("NFKC", text.lower())
    return unicodedata.normalize("NFKC", f"{local.lower()}@{_domain_canonicalize(domain)}")


def sender_email_parse(sender: str) -> str:
    """The canonical address in `Name <a@b.fr>`; the canonical raw value when none parses."""
    text = _visible(sender)
    try:
        address = parseaddr(text)[1]
    except (TypeError, ValueError):
        address = ""
    if not address:
        angled = ANGLE_ADDRESS.findall(text)
        address = angled[-1] if angled else text
    return address_canonicalize(address)


def address_list_parse(values: list[str]) -> list[str]:
    """The canonical addresses of To/Cc-style header values (`Name <a@b>, "Doe, J" <c@d>`), each once, in order.

    A value the strict parser refuses is read piece by piece between commas; what holds no `@` (an empty
    group such as `undisclosed-recipients:;`) is not an address.
    """
    found: dict[str, None] = {}
    for value in values:
        pairs = getaddresses([value])
        if pairs == [("", "")]:
            pairs = [("", sender_email_parse(piece)) for piece in value.split(",")]
        for _, address in pairs:
            canonical = address_canonicalize(address) if address else ""
            if "@" in canonical:
                found.setdefault(canonical)
    return list(found)


def email_mask(address: str) -> str:
    """`john.doe@acme.fr` -> `jo***@acme.fr`; anything that is not an address is masked whole."""
    local, sep, domain = (address or "").strip().partition("@")
    if not sep:
        return "***" if address else ""
    return f"{local[:2]}***@{domain}"
