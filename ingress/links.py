"""Provider link extraction and canonical download URLs (SPEC §4)."""

import re
from collections.abc import Iterator
from urllib.parse import quote, unquote, unquote_to_bytes, urlencode, urlsplit, urlunsplit

from core.providers import provider_for_host
from core.text import entities_decode, html_view

# A URL runs to whitespace, "<", ">" or '"' (legacy boundary). Lone surrogates are excluded because
# they cannot be encoded and no real URL holds one.
_URL_CHARS = r"[^\s<>\"\ud800-\udfff]+"
_URL = re.compile(r"(?i:https?)://" + _URL_CHARS)
# Same URLs for scanning long texts: anchored on the literal "://", which is searched at C speed
# (a case-insensitive scheme is not, ~4x slower); the scheme is checked behind it.
_URL_TAIL = re.compile(r"://(?:(?<=[hH][tT][tT][pP]://)|(?<=[hH][tT][tT][pP][sS]://))" + _URL_CHARS)
_TRAILING = ".,;:!?)]}'\"’”»"
_OPENERS = {")": "(", "]": "[", "}": "{"}
# RFC 3986 path-segment characters kept as they are when re-encoding a Dropbox path.
_SEGMENT_SAFE = "!$&'()*+,;=:@"
_PREVIEW_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_PREVIEW_PREFIXES = ("ms", "logo", "avatar", "profile")

Link = dict[str, str]


def _query_pairs(query: str) -> list[tuple[bytes, bytes]]:
    # Percent-escapes are decoded exactly once, and "+" stays a plus sign: parse_qsl would read it
    # as a space, which is the legacy %2B-becomes-space bug.
    pairs = (part.partition("=") for part in query.split("&") if part)
    return [(unquote_to_bytes(key), unquote_to_bytes(value)) for key, _, value in pairs]


def link_canonicalize(url: str, provider: str) -> str:
    """Canonical download URL: Dropbox links normalised with dl=1, other providers unchanged."""
    if provider != "dropbox":
        return url
    try:
        parts = urlsplit(url)
        params = _dropbox_params(parts.query)
    except ValueError:  # unparsable host or characters that cannot be encoded: nothing to normalise
        return url
    # Dropbox only serves https on 443, so credentials, port and fragment are dropped.
    host = (parts.hostname or "").rstrip(".")
    return urlunsplit(("https", host, _dropbox_path(parts.path), urlencode(params, quote_via=quote), ""))


def _dropbox_params(query: str) -> list[tuple[bytes, bytes]]:
    """The query parameters with `dl=1`, sorted by name; `dl`, `raw`, empty values and repeats are dropped."""
    params = [(b"dl", b"1")]
    for key, value in _query_pairs(query):
        if key in (b"dl", b"raw") or not (value or key == b"rlkey") or (key, value) in params:
            continue
        params.append((key, value))
    params.sort(key=lambda pair: pair[0])  # stable: repeated keys keep their order
    return params


def _dropbox_path(path: str) -> str:
    """The path with each segment percent-encoded once, empty segments dropped."""
    return "".join("/" + quote(unquote_to_bytes(segment), safe=_SEGMENT_SAFE) for segment in path.split("/") if segment)


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        opener = _OPENERS.get(url[-1])
        if opener and url.count(opener) >= url.count(url[-1]):
            break  # it closes a bracket opened inside the URL, e.g. a Wikipedia-style "…_(x)"
        url = url[:-1]
    return url


def _is_preview_image(path: str, query: str) -> bool:
    """Legacy rule: Dropbox-hosted logo/avatar images embedded in signatures are not deliveries."""
    if not path.startswith("/scl/fi/") or (b"raw", b"1") not in _query_pairs(query):
        return False
    name = unquote(path.rsplit("/", 1)[-1]).lower()
    return name.endswith(_PREVIEW_EXTENSIONS) and name.rsplit(".", 1)[0].startswith(_PREVIEW_PREFIXES)


def _link(url: str) -> Link | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    provider = provider_for_host(parts.hostname or "")
    if provider is None or (provider == "dropbox" and _is_preview_image(parts.path, parts.query)):
        return None
    return {"provider": provider, "raw_url": url, "direct_url": link_canonicalize(url, provider)}


def _url_spans(text: str) -> Iterator[tuple[str, int]]:
    """Each URL in `text` with the index where it ends."""
    for match in _URL_TAIL.finditer(text):
        start = match.start() - (5 if text[match.start() - 1] in "sS" else 4)
        yield text[start : match.end()], match.end()


def _raw_body_urls(body: str) -> list[str]:
    """URLs the parser cannot show: plain-text bodies, comments (Outlook VML buttons), other attributes."""
    urls = []
    for url, end in _url_spans(body):
        if body.startswith("<", end):
            continue  # text content cut by a tag: the text view has the whole URL
        # Decoding may reveal a boundary ("&quot;"), so the URL is matched again afterwards.
        decoded = _URL.match(entities_decode(url))
        if decoded:
            urls.append(decoded.group())
    return urls


def links_extract(body: str) -> list[Link]:
    """Provider links of a body: href/src values first, then URLs in the text view, then in the raw body.

    De-duplicated on `direct_url`, the first occurrence wins.
    """
    view = html_view(body)
    candidates = [match.group() for value in view.urls if (match := _URL.match(value.strip()))]
    candidates += [url for url, _ in _url_spans(view.text)]
    candidates += _raw_body_urls(body)
    links: list[Link] = []
    tried: set[str] = set()
    seen: set[str] = set()
    for candidate in candidates:
        url = _trim(candidate)
        if url in tried:
            continue
        tried.add(url)
        link = _link(url)
        if link is not None and link["direct_url"] not in seen:
            seen.add(link["direct_url"])
            links.append(link)
    return links
