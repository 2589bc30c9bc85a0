"""Media Solution and DESABO detectors (SPEC §4, legacy reference §3.3/§3.4)."""

import dataclasses
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.text import html_to_text
from ingress.detectors import DESABO, RECADRAGE, Detection, desabo_match, email_detect, media_solution_match
from ingress.links import links_extract

PARIS = ZoneInfo("Europe/Paris")
NOON = datetime(2025, 10, 15, 12, 35, tzinfo=PARIS)
MS_SUBJECT = "Média Solution - Missions Recadrage - Lot 3"
DROPBOX_LINK = {
    "provider": "dropbox",
    "raw_url": "https://www.dropbox.com/scl/fo/abc/xyz?rlkey=k&dl=0",
    "direct_url": "https://www.dropbox.com/scl/fo/abc/xyz?dl=1&rlkey=k",
}
REQUEST_LINK = {
    "provider": "dropbox",
    "raw_url": "https://dropbox.com/request/AbC",
    "direct_url": "https://dropbox.com/request/AbC?dl=1",
}
DESABO_TEXT = "Se désabonner de la journée aux tarifs habituels"


def delivery_time(body, subject=MS_SUBJECT, now=NOON):
    return media_solution_match(subject, html_to_text(body), True, now)


# --- Media Solution: subject -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Média Solution - Missions Recadrage - Lot 3",
        "Media Solution - Missions Recadrage - Lot 3",
        "TR: MÉDIA SOLUTION - MISSIONS RECADRAGE - LOT 12",
        "Lot 4 / missions recadrage / media solution",
        "Média  Solution -  Missions\tRecadrage - Lot 3",
        "Média Solution - Missions Recadrage - Lot1",
    ],
    ids=["legacy-literal", "unaccented", "upper-case-forwarded", "any-order", "doubled-spaces-legacy-missed",
         "lot-digit"],
)
def test_media_solution_subjects_match(subject):
    assert media_solution_match(subject, "Livraison 16h", True, NOON) == "16h00"


@pytest.mark.parametrize(
    "subject",
    [
        "Média Solution - Missions Recadrage - Lotissement Les Pins",
        "Média Solution - Missions Recadrage - Pilote",
        "Média-Solution - Missions Recadrage - Lot 3",
        "Média Solution - Recadrage - Lot 3",
        "Missions Recadrage - Lot 3",
        "Média Solution - Missions Recadrage",
        "",
    ],
    ids=["lotissement-legacy-false-positive", "lot-inside-word", "hyphenated-name", "no-missions", "no-media-solution",
         "no-lot", "empty"],
)
def test_other_subjects_are_not_media_solution(subject):
    assert media_solution_match(subject, "Livraison 16h", True, NOON) is None


def test_media_solution_needs_a_provider_link():
    assert media_solution_match(MS_SUBJECT, "Livraison 16h", False, NOON) is None


# --- Media Solution: delivery time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("À faire pour 14h30", "14h30"),
        ("À faire pour 9h", "09h00"),
        ("9h5", "09h05"),
        ("9:05", "09h05"),
        ("A FAIRE POUR 10H15", "10h15"),
        ("à faire pour à 11h51", "11h51"),
        ("À faire pour le 15/10/2025 à 09h30", "le 15/10/2025 à 09h30"),
        ("à faire pour le 3/9/2025 à 9h", "le 03/09/2025 à 09h00"),
        ("à faire pour le 03/09/2025 à 09:05", "le 03/09/2025 à 09h05"),
        ("à faire pour le 3/9/2025 à à 9h15", "le 03/09/2025 à 09h15"),
        ("Livraison 16h", "16h00"),
        ("Livraison 16:45", "16h45"),
    ],
)
def test_legacy_verified_delivery_times(body, expected):
    assert delivery_time(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("&agrave; faire pour le 3/9/2025 &agrave; 9h", "le 03/09/2025 à 09h00"),
        ("<p>&Agrave;&nbsp;faire&nbsp;pour le 15/10/2025&nbsp;&agrave;&nbsp;09h30</p>", "le 15/10/2025 à 09h30"),
        ("<div>À faire pour</div><div>14h30</div>", "14h30"),
        ("a faire pour le 3/9/2025 a 9h", "le 03/09/2025 à 09h00"),
    ],
    ids=["entities-keep-the-date-legacy-lost-it", "nbsp-entities", "across-blocks", "a-without-accent"],
)
def test_delivery_time_is_read_from_the_text_view(body, expected):
    assert delivery_time(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Service 24h/24", None),
        ("Service 24h/24, livraison 18h", "18h00"),
        ("99h99 puis 9h", "09h00"),
        ("à faire pour 25h, sinon 17h", "17h00"),
        ("Référence 12:75, livraison 08:30", "08h30"),
        ("9h60 ou 23h59", "23h59"),
        ("0h0", "00h00"),
    ],
    ids=["24h-24-legacy-false-positive", "24h-24-then-time", "99h99-legacy-kept-it", "invalid-due-time",
         "invalid-colon-minutes", "invalid-minutes", "midnight"],
)
def test_times_out_of_range_are_not_times(body, expected):
    assert delivery_time(body) == expected


def test_invalid_due_date_falls_back_to_the_time():
    assert delivery_time("à faire pour le 31/02/2025 à 9h") == "09h00"


@pytest.mark.parametrize("body", ["10 h 15", "Bonjour, merci.", "", "Rendez-vous 9:5", "14h300"])
def test_media_solution_without_any_time_is_not_a_match(body):
    assert delivery_time(body) is None


def test_due_phrase_wins_over_an_earlier_time():
    assert delivery_time("Envoyé à 08h15. À faire pour 14h30") == "14h30"


def test_fallback_prefers_an_h_time_over_an_earlier_colon_time_as_legacy():
    assert delivery_time("Envoyé : lundi 08:15. Livraison 16h") == "16h00"


def test_urgence_in_subject_gives_now_plus_one_hour_and_ignores_body_times():
    assert delivery_time("À faire pour 14h30", subject="URGENCE " + MS_SUBJECT) == "13h35"


def test_urgence_plus_one_hour_rolls_past_midnight_as_hhmm():
    late = datetime(2025, 10, 15, 23, 30, tzinfo=PARIS)
    assert delivery_time("", subject=MS_SUBJECT + " - Urgence", now=late) == "00h30"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 3, 30, 1, 30, tzinfo=PARIS), "03h30"),  # 02:00 CET jumps to 03:00 CEST
        (datetime(2025, 10, 26, 2, 30, tzinfo=PARIS), "02h30"),  # 02:30 CEST, then 02:30 CET again
    ],
    ids=["spring-forward", "fall-back"],
)
def test_urgence_adds_one_real_hour_across_dst_changes(now, expected):
    assert delivery_time("", subject="Urgence " + MS_SUBJECT, now=now) == expected


@pytest.mark.parametrize("subject", ["URGENT " + MS_SUBJECT, "Urgences " + MS_SUBJECT])
def test_only_the_whole_word_urgence_triggers_now_plus_one_hour(subject):
    assert delivery_time("À faire pour 14h30", subject=subject) == "14h30"


# --- DESABO ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("x", "Se désabonner journée tarifs habituels", (True, False)),
        ("x", "journée tarifs habituels https://www.dropbox.com/request/abc", (True, False)),
        ("Désabonnement", "journée tarifs habituels", (True, False)),
        ("DÉSABONNEMENT", "JOURNÉE et TARIFS HABITUELS", (True, False)),
        ("x", "journée tarifs habituels", (False, False)),
        ("x", "se désabonner journée tarifs habituels facture", (False, False)),
        ("x", "se désabonner journée tarifs habituels au moment", (False, False)),
        ("x", "se désabonner journée tarifs habituels Référence client 12", (False, False)),
        ("x", "se désabonner journée tarifs habituels Total HT", (False, False)),
        ("x", "se desabonner journee tarifs-habituels", (False, False)),
        ("URGENT", "se désabonner journée tarifs habituels", (True, True)),
    ],
)
def test_legacy_verified_desabo_examples(subject, body, expected):
    assert desabo_match(subject, html_to_text(body), links_extract(body)) == expected


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("x", "se désabonner journée tarifs habituels, momentanément"),
        ("x", "journée tarifs habituels https://dropbox.com/request/abc"),
        ("x", "journée tarifs habituels https://dl.dropbox.com/request/abc"),
        ("x", "se d&eacute;sabonner journ&eacute;e tarifs habituels"),
        ("x", "<p>Se désabonner</p><p>journée&nbsp;tarifs&nbsp;habituels</p>"),
    ],
    ids=["momentanement-legacy-blocked", "request-link-without-www-legacy-missed", "request-link-on-subdomain",
         "entities-legacy-missed", "nbsp-and-blocks"],
)
def test_desabo_matches_where_legacy_missed(subject, body):
    assert desabo_match(subject, html_to_text(body), links_extract(body)) == (True, False)


@pytest.mark.parametrize("word", ["annulation", "facturation", "facture", "référence client", "TOTAL HT", "moment"])
def test_each_forbidden_word_blocks_desabo(word):
    assert desabo_match("x", f"{DESABO_TEXT}. {word}", []) == (False, False)


def test_forbidden_words_in_the_subject_do_not_block_desabo():
    assert desabo_match("Facture", DESABO_TEXT, []) == (True, False)


@pytest.mark.parametrize(
    "link",
    [
        {"provider": "dropbox", "raw_url": "https://dropbox.com.evil.tld/request/abc", "direct_url": ""},
        {"provider": "dropbox", "raw_url": "https://www.dropbox.com/s/request/abc", "direct_url": ""},
        {"provider": "wetransfer", "raw_url": "https://wetransfer.com/request/abc", "direct_url": ""},
    ],
)
def test_only_dropbox_request_links_stand_in_for_desabonn(link):
    assert desabo_match("x", "journée tarifs habituels", [link]) == (False, False)


def test_request_link_stands_in_for_desabonn():
    assert desabo_match("x", "journée tarifs habituels", [REQUEST_LINK]) == (True, False)


@pytest.mark.parametrize(
    ("subject", "text"),
    [("Urgent", DESABO_TEXT), ("x", DESABO_TEXT + " URGENCE"), ("x", DESABO_TEXT + " en cas d'urgence appelez-nous")],
)
def test_desabo_is_urgent_when_subject_or_text_says_urgent_or_urgence(subject, text):
    assert desabo_match(subject, text, []) == (True, True)


# --- email_detect ----------------------------------------------------------------------------------


def test_media_solution_is_detected_with_its_delivery_time():
    assert email_detect(MS_SUBJECT, "À faire pour 14h30", [DROPBOX_LINK], NOON) == Detection(RECADRAGE, "14h30")


def test_media_solution_wins_over_desabo():
    text = DESABO_TEXT + ". À faire pour 14h30"
    assert email_detect(MS_SUBJECT, text, [DROPBOX_LINK], NOON) == Detection(RECADRAGE, "14h30")


def test_media_solution_without_a_time_falls_back_to_desabo():
    assert email_detect("Urgent " + MS_SUBJECT, DESABO_TEXT, [DROPBOX_LINK], NOON) == Detection(DESABO, is_urgent=True)


def test_media_solution_without_links_is_not_recadrage():
    assert email_detect(MS_SUBJECT, "À faire pour 14h30", [], NOON) == Detection(None)


def test_desabo_is_detected():
    assert email_detect("Désabonnement", "journée tarifs habituels", [], NOON) == Detection(DESABO, is_urgent=False)


def test_other_emails_have_no_detector():
    assert email_detect("Bonjour", "Rien à signaler, 14h30", [DROPBOX_LINK], NOON) == Detection(None)


def test_full_html_email_is_detected_from_its_text_view_and_links():
    body = (
        "<html><head><style>p{}</style></head><body><div>Bonjour,</div>"
        "<div>&Agrave; faire pour le 3/9/2025 &agrave; 9h</div>"
        "<a href='https://www.dropbox.com/scl/fo/abc/xyz?rlkey=k&amp;dl=0'>T&eacute;l&eacute;charger</a>"
        "<p>Service 24h/24</p></body></html>"
    )
    detection = email_detect(MS_SUBJECT, html_to_text(body), links_extract(body), NOON)
    assert detection == Detection(RECADRAGE, "le 03/09/2025 à 09h00")


def test_detection_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Detection(None).detector = RECADRAGE  # type: ignore[misc]


# --- properties ------------------------------------------------------------------------------------

DELIVERY_TIME = re.compile(r"(le [0-3][0-9]/[01][0-9]/[0-9]{4} à )?([01][0-9]|2[0-3])h[0-5][0-9]")
keywords = st.sampled_from(
    ["Média Solution", "Missions Recadrage", "Lot", "urgence", "à faire pour", "le 3/9/2025", "à", "9h", "24h/24",
     "14:30", "journée", "tarifs habituels", "désabonner", "moment", " ", "\u00a0"]
)
texts = st.one_of(st.text(), st.lists(st.one_of(keywords, st.text(max_size=5)), max_size=12).map(" ".join))
link_lists = st.lists(st.sampled_from([DROPBOX_LINK, REQUEST_LINK, {}, {"raw_url": None}]), max_size=3)


@given(texts, texts, link_lists, st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                              timezones=st.just(PARIS)))
def test_email_detect_never_raises_and_returns_a_well_formed_detection(subject, text, links, now):
    detection = email_detect(subject, text, links, now)
    assert detection.detector in (None, RECADRAGE, DESABO)
    if detection.detector == RECADRAGE:
        assert DELIVERY_TIME.fullmatch(detection.delivery_time)
    else:
        assert detection.delivery_time is None
    assert not detection.is_urgent or detection.detector == DESABO


@given(texts, texts, st.booleans())
def test_email_detect_agrees_with_the_two_detectors(subject, text, has_links):
    links = [DROPBOX_LINK] if has_links else []
    delivery = media_solution_match(subject, text, has_links, NOON)
    matches, urgent = desabo_match(subject, text, links)
    detection = email_detect(subject, text, links, NOON)
    if delivery:
        assert detection == Detection(RECADRAGE, delivery)
    else:
        assert detection == (Detection(DESABO, is_urgent=urgent) if matches else Detection(None))
