"""E-mail detectors (SPEC §4): Media Solution "recadrage" and DESABO.

Keyword tests run on folded text (accents removed, lower case, single spaces), so "À faire",
"A FAIRE" and "a  faire" are the same phrase and every pattern below is written in folded form.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from core.detectors import DESABO, RECADRAGE
from core.providers import provider_for_host
from core.text import fold


@dataclass(frozen=True, slots=True)
class Detection:
    detector: str | None
    delivery_time: str | None = None
    is_urgent: bool = False


def _whole_word(word: str) -> re.Pattern[str]:
    # Letters on either side make another word ("Lotissement", "momentanément"); digits do not ("Lot1").
    # The word comes first and the letter check looks behind it: a leading look-behind would disable
    # the fast literal search (70x slower on a 10 KB text).
    return re.compile(rf"{word}(?<![^\W\d_]{word})(?![^\W\d_])")


_LOT = _whole_word("lot")
_URGENCE = _whole_word("urgence")
_MOMENT = _whole_word("moment")

# A time is HHh, HHhM, HHhMM or HH:MM; groups: hours, minutes after "h", minutes after ":".
_TIME = r"([0-9]{1,2})(?:h([0-9]{0,2})|:([0-9]{2}))\b"
_DUE_DATE = re.compile(r"a faire pour le ([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}) a (?:a )?" + _TIME)
_DUE_TIME = re.compile(r"a faire pour (?:a )?" + _TIME)
# Fallback as in the legacy: an "h" time anywhere wins over a colon time, which is more often a
# quoted header or signature ("Envoyé : lundi 13 octobre 2025 08:15") than a deadline.
_ANY_H_TIME = re.compile(r"\b([0-9]{1,2})h([0-9]{0,2})\b")
_ANY_COLON_TIME = re.compile(r"\b([0-9]{1,2}):([0-9]{2})\b")

_DESABO_FORBIDDEN = ("annulation", "facturation", "facture", "reference client", "total ht")
_ONE_HOUR = timedelta(hours=1)


def _hhmm(hours: str, minutes: str | None) -> str | None:
    """`HHhMM`, or None when out of range ("24h/24", "99h99" are not times)."""
    h, m = int(hours), int(minutes or 0)
    return f"{h:02d}h{m:02d}" if h < 24 and m < 60 else None


def _dated(day: str, month: str, year: str, time: str | None) -> str | None:
    if time is None:
        return None
    try:
        due = date(int(year), int(month), int(day))
    except ValueError:  # 31/02, 0/13, year 0000
        return None
    return f"le {due.day:02d}/{due.month:02d}/{due.year:04d} à {time}"


def _in_one_hour(now: datetime) -> datetime:
    if now.utcoffset() is None:
        return now + _ONE_HOUR
    # Elapsed time, not wall-clock arithmetic: across a DST change "in one hour" is still 60 minutes.
    return (now.astimezone(UTC) + _ONE_HOUR).astimezone(now.tzinfo)


# Delivery-time rules in order of precedence; the first valid time wins. Each turns a match into its
# delivery time, or None when the numbers are not a valid date or time (the search then goes on).
_TIME_RULES = (
    (_DUE_DATE, lambda m: _dated(m[1], m[2], m[3], _hhmm(m[4], m[5] or m[6]))),
    (_DUE_TIME, lambda m: _hhmm(m[1], m[2] or m[3])),
    (_ANY_H_TIME, lambda m: _hhmm(m[1], m[2])),
    (_ANY_COLON_TIME, lambda m: _hhmm(m[1], m[2])),
)


def _delivery_time(folded_subject: str, folded_text: str, now_local: datetime) -> str | None:
    if _URGENCE.search(folded_subject):
        return _in_one_hour(now_local).strftime("%Hh%M")
    for pattern, time_of in _TIME_RULES:
        for m in pattern.finditer(folded_text):
            if found := time_of(m):
                return found
    return None


def _is_media_solution_subject(folded_subject: str) -> bool:
    # Hyphens stay significant ("media-solution" does not count); the legacy literal subject
    # "Média Solution - Missions Recadrage - Lot" folds to a form that passes all three tests.
    return (
        "media solution" in folded_subject
        and "missions recadrage" in folded_subject
        and _LOT.search(folded_subject) is not None
    )


def media_solution_match(subject: str, text: str, has_links: bool, now_local: datetime) -> str | None:
    """Delivery time of a Media Solution e-mail, or None when it is not one (no time: not one either)."""
    folded_subject = fold(subject)
    if not (has_links and _is_media_solution_subject(folded_subject)):
        return None
    return _delivery_time(folded_subject, fold(text), now_local)


def _is_file_request(url: object) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return provider_for_host(parts.hostname or "") == "dropbox" and parts.path.lower().startswith("/request/")


def _has_file_request_link(links: list[dict]) -> bool:
    return any(_is_file_request(link.get("raw_url")) or _is_file_request(link.get("direct_url")) for link in links)


def _desabo(folded_subject: str, folded_text: str, links: list[dict]) -> tuple[bool, bool]:
    has_request_link = _has_file_request_link(links)
    required = (
        "journee" in folded_text
        and "tarifs habituels" in folded_text
        and ("desabonn" in folded_subject or "desabonn" in folded_text or has_request_link)
    )
    if not required or _desabo_forbidden(folded_text):
        return False, False
    return True, _is_urgent(folded_subject, folded_text)


def _desabo_forbidden(folded_text: str) -> bool:
    """Words that rule DESABO out (invoices, cancellations, the word "moment"), as in the legacy."""
    return any(word in folded_text for word in _DESABO_FORBIDDEN) or _MOMENT.search(folded_text) is not None


def _is_urgent(folded_subject: str, folded_text: str) -> bool:
    return any(word in folded for folded in (folded_subject, folded_text) for word in ("urgent", "urgence"))


def desabo_match(subject: str, text: str, links: list[dict]) -> tuple[bool, bool]:
    """(matches, is_urgent) of the DESABO detector; is_urgent is False when it does not match."""
    return _desabo(fold(subject), fold(text), links)


def email_detect(subject: str, text: str, links: list[dict], now_local: datetime) -> Detection:
    """Detector of an e-mail from its subject, text view and provider links; Media Solution wins."""
    folded_subject, folded_text = fold(subject), fold(text)
    if links and _is_media_solution_subject(folded_subject):
        delivery_time = _delivery_time(folded_subject, folded_text, now_local)
        if delivery_time:
            return Detection(RECADRAGE, delivery_time=delivery_time)
    matches, urgent = _desabo(folded_subject, folded_text, links)
    return Detection(DESABO, is_urgent=urgent) if matches else Detection(None)
