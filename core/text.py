"""Text view of e-mail bodies (SPEC §4): what detectors and the link finder read.

The raw body is still what gets forwarded; nothing here touches I/O or Django.
"""

import html
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser

# Real markup only: a tag name followed by a space, "/" or ">", a comment or a doctype. A plain-text
# body such as "a<b", "Prix <5 €", "Jean <jean@x.fr>" or "<https://…>" is not fed to the HTML parser,
# which would swallow those as tags.
_MARKUP = re.compile(r"<(?:/?[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)?[\s/>]|!--|!doctype)", re.IGNORECASE)

# Complete character references only ("&eacute;", "&#233;", "&#xE9;"). A bare "&times" or "&reg" stays
# as it is, as browsers leave it inside attributes: in a URL it is a parameter ("&timestamp=", "&region=").
_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);")

# Invisible to a reader, so invisible to the detectors too.
_HIDDEN_TAGS = ["script", "style", "head"]

# Elements that end a line or a cell when rendered: their edges must not glue words together
# ("Lot 1</div><div>urgent"), while inline ones must not split them ("d<b>é</b>sabonner").
_BREAKING_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)

# Every combining mark of the Basic Multilingual Plane (all accents of living scripts). A compiled
# character class strips them several times faster than a per-character unicodedata loop.
_COMBINING_MARKS = re.compile(
    "[" + "".join(chr(cp) for cp in range(0x300, 0x10000) if unicodedata.combining(chr(cp))) + "]"
)


class HtmlView(NamedTuple):
    text: str
    urls: tuple[str, ...]  # href/src attribute values, in document order, entities decoded


def entities_decode(text: str) -> str:
    """Decode complete HTML character references, leaving any other "&" untouched."""
    return _ENTITY.sub(lambda match: html.unescape(match.group()), text)


def _collapse(text: str) -> str:
    # str.split() splits on every Unicode space (U+00A0, U+2009, U+3000…), so they all become " ".
    return " ".join(text.split())


# The ingress reads each body twice in a row (html_to_text, then links_extract): a tiny cache saves the
# second parse. Results are immutable, so sharing them is safe.
@lru_cache(maxsize=4)
def html_view(body: str) -> HtmlView:
    """Text view and link attributes of a body from a single parse (links need both)."""
    if not _MARKUP.search(body):
        return HtmlView(_collapse(entities_decode(body)), ())
    tree = LexborHTMLParser(body)
    tree.strip_tags(_HIDDEN_TAGS)
    urls = tuple(
        value for node in tree.css("[href], [src]") for name in ("href", "src") if (value := node.attributes.get(name))
    )
    # Collected before inserting: traverse() must not walk a tree that is being modified.
    breaking = [node for node in tree.root.traverse() if node.tag in _BREAKING_TAGS]
    for node in breaking:
        node.insert_before(" ")
        node.insert_after(" ")
    return HtmlView(_collapse(tree.root.text()), urls)


def html_to_text(body: str) -> str:
    """Visible text of an HTML (or plain-text) body: entities decoded, spaces collapsed, trimmed."""
    return html_view(body).text


def fold(text: str) -> str:
    """Accent-free, lower-cased, whitespace-collapsed form used for keyword tests."""
    # NFKD also turns compatibility characters (ligatures, full-width digits, U+00A0) into plain ones.
    decomposed = unicodedata.normalize("NFKD", text).lower()
    return _collapse(_COMBINING_MARKS.sub("", decomposed))
