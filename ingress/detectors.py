"""Interim detectors (replaced by the full implementation)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ingress.text import fold

RECADRAGE = "recadrage"
DESABO = "desabonnement_journee_tarifs"
_TIME_RE = re.compile(r"\b(\d{1,2})(?:h(\d{2})?|:(\d{2}))\b")


@dataclass(frozen=True)
class Detection:
    detector: str | None
    delivery_time: str | None = None
    is_urgent: bool = False


def media_solution_match(subject: str, text: str, has_links: bool, now_local: datetime) -> str | None:
    s = fold(subject)
    if not (has_links and "media solution" in s and "missions recadrage" in s and re.search(r"\blot\b", s)):
        return None
    if re.search(r"\burgence\b", s):
        return (now_local + timedelta(hours=1)).strftime("%Hh%M")
    for m in _TIME_RE.finditer(text):
        hours, minutes = int(m.group(1)), int(m.group(2) or m.group(3) or 0)
        if hours < 24 and minutes < 60:
            return f"{hours:02d}h{minutes:02d}"
    return None


def desabo_match(subject: str, text: str, links: list[dict]) -> tuple[bool, bool]:
    s, t = fold(subject), fold(text)
    request_link = any(urlsplit(link["raw_url"]).path.startswith("/request/") for link in links
                       if link["provider"] == "dropbox")
    required = "journee" in t and "tarifs habituels" in t and ("desabonn" in s or "desabonn" in t or request_link)
    forbidden = any(w in t for w in ("annulation", "facturation", "facture", "reference client", "total ht"))
    forbidden = forbidden or re.search(r"\bmoment\b", t) is not None
    urgent = any(w in s or w in t for w in ("urgent", "urgence"))
    return required and not forbidden, urgent


def email_detect(subject: str, text: str, links: list[dict], now_local: datetime) -> Detection:
    delivery_time = media_solution_match(subject, text, bool(links), now_local)
    if delivery_time:
        return Detection(RECADRAGE, delivery_time)
    matches, urgent = desabo_match(subject, text, links)
    return Detection(DESABO, is_urgent=urgent) if matches else Detection(None)
