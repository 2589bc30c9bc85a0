"""The canonical sender address: every spelling of one mailbox is one sender (dedup, allowlist, rate limit)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.addresses import address_canonicalize, address_list_parse, sender_email_parse


@pytest.mark.parametrize("spelling", [
    "jo@acme.fr",
    '"jo"@acme.fr',
    "jo@acme.fr.",
    "jo@acme.fr\u200b",
    "j\u200bo@acme.fr",
    "\ufeffjo@acme.fr",
    "jo\u00ad@acme.fr",
    "jo@acme.fr>",
    "<jo@acme.fr",
    "Jo <jo@acme.fr>>",
    "Jo <jo@acme.fr> trailing",
    "<<jo@acme.fr>>",
    'Jo Doe <"JO"@ACME.FR.>',
    "JO@Acme.Fr",
    "ｊｏ＠ａｃｍｅ．ｆｒ",
    " jo @ acme.fr ",
])
def test_each_spelling_of_a_mailbox_is_the_same_sender(spelling):
    assert sender_email_parse(spelling) == "jo@acme.fr"


@pytest.mark.parametrize("spelling", ["jo@xn--mnchen-3ya.de", "jo@MÜNCHEN.de", "jo@mu\u0308nchen.de"])
def test_an_internationalised_domain_has_one_spelling(spelling):
    assert sender_email_parse(spelling) == "jo@münchen.de"


@pytest.mark.parametrize("raw,expected", [
    ("Technique <technique@media-solution.fr>", "technique@media-solution.fr"),
    ('"Doe, John" <JD@X.fr>', "jd@x.fr"),
    ("a@b.fr (Jean)", "a@b.fr"),
    (" ", ""),
])
def test_the_address_is_taken_out_of_a_from_value(raw, expected):
    assert sender_email_parse(raw) == expected


def test_different_mailboxes_stay_different():
    assert len({sender_email_parse(a) for a in ("jo@acme.fr", "jo@acme.com", "jo.b@acme.fr", "jo@b.acme.fr")}) == 4


@given(st.text())
def test_the_canonical_form_of_a_canonical_form_is_itself(text):
    once = sender_email_parse(text)
    assert sender_email_parse(once) == once
    assert address_canonicalize(once) == once


@given(st.text())
def test_a_canonical_form_has_no_whitespace_format_character_or_angle_bracket(text):
    canonical = sender_email_parse(text)
    assert not any(c.isspace() or c in "<>" or c in "\u200b\u200c\u200d\u2060\ufeff\u00ad" for c in canonical)
    assert canonical == canonical.lower()


LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-+", min_size=1, max_size=20)
DOMAIN = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12), min_size=2).map(
    ".".join
)


@given(LOCAL, DOMAIN, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_decorating_an_address_never_makes_a_new_sender(local, domain, quoted, upper, dot, invisible, stray, named):
    spelling = f'"{local}"' if quoted else local
    spelling += "@" + domain + ("." if dot else "") + ("\u200b" if invisible else "") + (">" if stray else "")
    spelling = spelling.upper() if upper else spelling
    spelling = f"Name <{spelling}>" if named else spelling
    assert sender_email_parse(spelling) == f"{local}@{domain}"


@pytest.mark.parametrize("values,expected", [
    (['Jean <Jean@Acme.fr>, "Dupont, Marie" <marie@acme.fr>'], ["jean@acme.fr", "marie@acme.fr"]),
    (["Équipe: a@acme.fr, b@acme.fr;"], ["a@acme.fr", "b@acme.fr"]),
    (["jo@acme.fr", "Jo <JO@acme.fr.>"], ["jo@acme.fr"]),
    (["Jo <jo@acme.fr> bureau, b@acme.fr"], ["jo@acme.fr", "b@acme.fr"]),
    (["undisclosed-recipients:;", "", " , "], []),
])
def test_an_address_list_gives_each_canonical_address_once_in_order(values, expected):
    assert address_list_parse(values) == expected
