"""The file-transfer providers Signal Server recognises (SPEC §4), by host name."""

import re

PROVIDER_DOMAINS = {
    "dropbox.com": "dropbox",
    "fromsmash.com": "fromsmash",
    "swisstransfer.com": "swisstransfer",
    "wetransfer.com": "wetransfer",
}

# Syntactically valid host names only: a backslash or "%" in the host is read differently by browsers
# ("https://evil.tld\.dropbox.com" goes to evil.tld), so such hosts never count as a provider.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


def provider_for_host(host: str) -> str | None:
    """Provider whose domain is `host` or a parent of it ("dl.dropbox.com" → dropbox)."""
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not _HOST_NAME.fullmatch(host):
        return None
    for domain, provider in PROVIDER_DOMAINS.items():
        if host == domain or host.endswith("." + domain):
            return provider
    return None
