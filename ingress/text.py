"""Interim text view (replaced by the full implementation)."""

import html
import re
import unicodedata

_TAG_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]+>", re.S | re.I)
_SPACE_RE = re.compile(r"\s+")


def html_to_text(body: str) -> str:
    return _SPACE_RE.sub(" ", html.unescape(_TAG_RE.sub(" ", body or "")).replace("\xa0", " ")).strip()


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return _SPACE_RE.sub(" ", "".join(c for c in decomposed if not unicodedata.combining(c))).strip().lower()
