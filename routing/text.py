"""The two ways a condition looks at text (docs/routing.md, "Case, accents and spaces").

Case-insensitive conditions (the default) compare *folded* text: lower case, accents and ligatures
removed, runs of whitespace collapsed, so "facture" finds "FACTURÉ", "Facture" and "fac  ture" is
"fac ture". French subjects often drop accents on capitals ("FACTURE", "ETE"), so ignoring case
without ignoring accents would miss exactly the e-mails a French-speaking operator means.

Case-sensitive conditions compare the exact characters, only normalised to Unicode NFC so that an
"é" typed in admin equals an "é" that arrived decomposed (e + combining accent).
"""

import unicodedata

from core.text import fold

# NFKD leaves these letters whole; French writes "cœur"/"coeur" and "Lætitia"/"Laetitia" alike.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS"})


def text_fold(text: str) -> str:
    """Lower case, accents and ligatures removed, whitespace collapsed and trimmed."""
    return fold(text).translate(_LIGATURES)


def text_exact(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def pattern_fold(pattern: str) -> str:
    """Accents and ligatures removed from a regex, case and spacing kept (escapes like \\D stay intact).

    Case-insensitive regexes run on folded text with IGNORECASE, so their letters must lose their
    accents too: `journée` then matches "JOURNEE" and "journée".
    """
    decomposed = unicodedata.normalize("NFKD", pattern or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).translate(_LIGATURES)
