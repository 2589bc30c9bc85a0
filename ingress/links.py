"""Interim link extraction (replaced by the full implementation)."""

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PROVIDER_DOMAINS = {"dropbox.com": "dropbox", "fromsmash.com": "fromsmash", "swisstransfer.com": "swisstransfer",
                    "wetransfer.com": "wetransfer"}
_URL_RE = re.compile(r"https?://[^\s<>\"']+", re.I)


def provider_for_host(host: str) -> str | None:
    host = (host or "").lower().rstrip(".")
    for domain, provider in PROVIDER_DOMAINS.items():
        if host == domain or host.endswith("." + domain):
            return provider
    return None


def link_canonicalize(url: str, provider: str) -> str:
    if provider != "dropbox":
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("dl", "raw")]
    query.append(("dl", "1"))
    return urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/"), urlencode(sorted(query)), ""))


def links_extract(body: str) -> list[dict]:
    links, seen = [], set()
    for match in _URL_RE.finditer(html.unescape(body or "")):
        url = match.group(0).rstrip(".,;:!?)")
        provider = provider_for_host(urlsplit(url).hostname or "")
        if not provider:
            continue
        direct = link_canonicalize(url, provider)
        if direct not in seen:
            seen.add(direct)
            links.append({"provider": provider, "raw_url": url, "direct_url": direct})
    return links
