"""Text view and folding (SPEC §4)."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.text import entities_decode, fold, html_to_text, html_view

# Table cells only exist inside tables (the parser drops a stray <td>), so they are tested apart.
BLOCK_TAGS = ["div", "p", "li", "h1", "blockquote", "section", "pre", "DIV"]
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéàç0123456789", min_size=1, max_size=12)


# --- html_to_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Livraison 16h",
        "À faire pour le 15/10/2025 à 09h30",
        "Prix < 5 € et 3 > 2",
        "a<b",
        "Jean <jean@example.fr>",
        "x = 1; y = [2]; 50% off!",
    ],
)
def test_plain_text_comes_out_unchanged(body):
    assert html_to_text(body) == body


def test_plain_text_only_has_its_whitespace_collapsed():
    assert html_to_text("  Lot 1\n\n\turgent   ici \r\n") == "Lot 1 urgent ici"


def test_plain_text_with_angle_bracket_url_is_not_parsed_as_html():
    body = "Lien : <https://www.dropbox.com/s/abc> merci"
    assert html_to_text(body) == body


@pytest.mark.parametrize("tag", BLOCK_TAGS)
def test_adjacent_block_elements_do_not_glue_words(tag):
    assert html_to_text(f"<{tag}>Lot 1</{tag}><{tag}>urgent</{tag}>") == "Lot 1 urgent"


@pytest.mark.parametrize("br", ["<br>", "<br/>", "<br />", "<BR>"])
def test_line_breaks_separate_words(br):
    assert html_to_text(f"<p>Lot 1{br}urgent</p>") == "Lot 1 urgent"


def test_table_cells_and_rows_separate_words():
    body = "<table><tr><td>Lot</td><td>3</td></tr><tr><td>urgent</td></tr></table>"
    assert html_to_text(body) == "Lot 3 urgent"


def test_text_after_a_closing_block_is_a_new_word():
    assert html_to_text("<div><div>journée</div>tarifs</div>") == "journée tarifs"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>Se d<b>é</b>sabonner</p>", "Se désabonner"),
        ("<p><span>Lot</span>issement</p>", "Lotissement"),
        ("<p>Livraison <strong>14</strong>h30</p>", "Livraison 14h30"),
        ("<p><a href='https://x.fr'>lien</a>s</p>", "liens"),
    ],
)
def test_inline_elements_do_not_split_words(body, expected):
    assert html_to_text(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "<html><head><title>Titre</title><style>p{color:red}</style></head><body><p>Bonjour</p></body></html>",
        "<p>Bonjour</p><script>var lot = 'urgent';</script>",
        "<style>.urgent{}</style><p>Bonjour</p>",
        "<p>Bonjour<!-- urgent --></p>",
    ],
)
def test_scripts_styles_head_and_comments_are_not_text(body):
    assert html_to_text(body) == "Bonjour"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>journ&eacute;e &agrave; 9h</p>", "journée à 9h"),
        ("&agrave; faire pour le 3/9/2025 &agrave; 9h", "à faire pour le 3/9/2025 à 9h"),
        ("<p>A &amp; B &lt;ok&gt; &#233;t&#xE9;</p>", "A & B <ok> été"),
    ],
)
def test_entities_are_decoded_in_html_and_in_plain_text(body, expected):
    assert html_to_text(body) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("journ&eacute;e &agrave; 9h", "journée à 9h"),
        ("&#233;&#xE9;&#XE9; &amp;amp;", "ééé &amp;"),
        ("A&B, R&D &copy 2025", "A&B, R&D &copy 2025"),
        ("?a=1&timestamp=2&region=fr", "?a=1&timestamp=2&region=fr"),
        ("&unknown; &#xD800; &", "&unknown; \ufffd &"),
    ],
)
def test_only_complete_character_references_are_decoded(text, expected):
    assert entities_decode(text) == expected


def test_plain_text_keeps_bare_ampersands():
    assert html_to_text("R&D &copy 2025, voir ?a=1&timestamp=2") == "R&D &copy 2025, voir ?a=1&timestamp=2"


@pytest.mark.parametrize("space", ["&nbsp;", "\u00a0", "\u2009", "\u202f", "\u3000", "&ensp;", "\t", "\n"])
def test_nbsp_and_unicode_spaces_become_one_plain_space(space):
    assert html_to_text(f"<p>tarifs{space}{space}habituels</p>") == "tarifs habituels"


@pytest.mark.parametrize("body", ["", "   ", "<html></html>", "<br><br>", "&nbsp;"])
def test_bodies_without_visible_text_give_empty_text(body):
    assert html_to_text(body) == ""


@pytest.mark.parametrize(
    "body",
    ["<", "<<<>>>", "<a href=", "<p", "</", "</p>", "<!--", "<!doctype", "&", "&#xD800;", "a\ud800b", "\0<p>\0</p>"],
)
def test_garbage_does_not_raise(body):
    assert isinstance(html_to_text(body), str)


def test_huge_body_is_handled():
    body = "<div>Lot 1 &eacute;t&eacute;</div>" * 50_000  # about 1.5 MB
    assert html_to_text(body).startswith("Lot 1 été Lot 1 été")


def test_html_view_lists_href_and_src_values_in_document_order_with_entities_decoded():
    body = (
        "<head><link href='https://style.example/x.css'></head>"
        "<img src='https://a.example/1.png'><a href=\"https://b.example/?x=1&amp;y=2\">b</a>"
        "<a name='no-href'>c</a><script src='https://s.example/x.js'></script>"
    )
    assert html_view(body).urls == ("https://a.example/1.png", "https://b.example/?x=1&y=2")


markup_pieces = st.sampled_from(["<", ">", "</", "/>", "<!--", "-->", "<p>", "<br>", "<div ", "&", ";", "&nbsp;", "'"])
markup = st.lists(st.one_of(markup_pieces, st.text(max_size=6)), max_size=20).map("".join)


@given(st.one_of(st.text(), markup))
def test_html_to_text_never_raises_and_is_collapsed(body):
    text = html_to_text(body)
    assert text == text.strip()
    assert "  " not in text
    assert not any(c.isspace() and c != " " for c in text)


@given(st.text(alphabet=st.characters(blacklist_characters="<&")))
def test_text_without_markup_or_entities_only_has_its_whitespace_collapsed(body):
    assert html_to_text(body) == " ".join(body.split())


@given(st.lists(words, min_size=1, max_size=8), st.sampled_from(BLOCK_TAGS + ["br"]))
def test_words_separated_by_block_markup_stay_separate_words(parts, tag):
    separator = "<br>" if tag == "br" else f"</{tag}><{tag}>"
    assert html_to_text(separator.join(parts)) == " ".join(parts)


# --- fold ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Média Solution", "media solution"),
        ("DÉSABONNEMENT", "desabonnement"),
        ("Journée", "journee"),
        ("À FAIRE POUR", "a faire pour"),
        ("ça, où, Noël, Ægir", "ca, ou, noel, ægir"),
    ],
)
def test_fold_removes_accents_and_lower_cases(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("text", ["  Média \t Solution\n", "Média\u00a0\u00a0Solution", "Média\u3000Solution"])
def test_fold_collapses_and_trims_whitespace(text):
    assert fold(text) == "media solution"


def test_fold_maps_compatibility_characters_to_plain_ones():
    assert fold("ﬁchier １４ｈ３０") == "fichier 14h30"


def test_fold_of_decomposed_and_composed_accents_is_the_same():
    decomposed, composed = unicodedata.normalize("NFD", "Désabonné"), unicodedata.normalize("NFC", "Désabonné")
    assert fold(decomposed) == fold(composed) == "desabonne"


@given(st.text() | st.text(alphabet=st.sampled_from(" \t\n\u00a0\u2009\u3000\x1c\x1fab\u0301é")))
def test_fold_collapses_every_whitespace_run_as_split_and_join_do(text):
    folded = fold(text)
    assert folded == " ".join(folded.split())


@given(st.text())
def test_fold_never_raises_and_is_idempotent(text):
    folded = fold(text)
    assert fold(folded) == folded


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF) | st.sampled_from("éèêàùçÉÀÇôûî")))
def test_fold_of_latin_text_has_no_accents_left(text):
    assert not any(unicodedata.combining(c) for c in fold(text))
