"""Provider link extraction and Dropbox canonical URLs (SPEC §4, legacy reference §4)."""

import html
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.providers import PROVIDER_DOMAINS, provider_for_host
from ingress.links import link_canonicalize, links_extract

FOLDER = "https://www.dropbox.com/scl/fo/abc123/xyz?rlkey=k1&dl=0"
FOLDER_DIRECT = "https://www.dropbox.com/scl/fo/abc123/xyz?dl=1&rlkey=k1"


def raw_urls(body):
    return [link["raw_url"] for link in links_extract(body)]


# --- provider_for_host -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("dropbox.com", "dropbox"),
        ("www.dropbox.com", "dropbox"),
        ("dl.dropbox.com", "dropbox"),
        ("WWW.DropBox.COM", "dropbox"),
        ("dropbox.com.", "dropbox"),
        ("fromsmash.com", "fromsmash"),
        ("swisstransfer.com", "swisstransfer"),
        ("www.swisstransfer.com", "swisstransfer"),
        ("wetransfer.com", "wetransfer"),
        ("we.tl.wetransfer.com", "wetransfer"),
    ],
)
def test_provider_hosts_are_the_domains_and_their_subdomains(host, provider):
    assert provider_for_host(host) == provider


@pytest.mark.parametrize(
    "host",
    [
        "dropbox.com.evil.tld",
        "notdropbox.com",
        "dropbox.community",
        "dl.dropboxusercontent.com",
        "dropbox.co",
        "evil.tld\\.dropbox.com",
        "evil.tld%2f.dropbox.com",
        "dropbox.com..",
        "drive.google.com",
        "",
    ],
)
def test_lookalike_and_other_hosts_are_not_providers(host):
    assert provider_for_host(host) is None


# --- finding links ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        f'<a href="{FOLDER}">Télécharger</a>',
        f"<a href='{FOLDER}'>Télécharger</a>",
        f"<a href={FOLDER}>Télécharger</a>",
        f'<a href="  {FOLDER}\n">Télécharger</a>',
        f"Voici le lien : {FOLDER}",
        f"<p>Voici le lien : {FOLDER}</p>",
        f"Lien : <{FOLDER}>",
    ],
    ids=["href-double-quotes", "href-single-quotes", "href-unquoted", "href-padded", "plain-text", "html-text",
         "plain-text-angle-brackets"],
)
def test_a_link_is_found_in_attributes_and_text_without_surrounding_quotes_or_spaces(body):
    assert links_extract(body) == [{"provider": "dropbox", "raw_url": FOLDER, "direct_url": FOLDER_DIRECT}]


def test_image_src_links_are_found():
    assert raw_urls('<img src="https://www.dropbox.com/scl/fi/x/photo.png?rlkey=a&amp;raw=1">') == [
        "https://www.dropbox.com/scl/fi/x/photo.png?rlkey=a&raw=1"
    ]


def test_links_in_outlook_conditional_comments_are_found():
    body = '<!--[if mso]><v:roundrect href="https://fromsmash.com/AbC-xyz"></v:roundrect><![endif]-->'
    assert raw_urls(body) == ["https://fromsmash.com/AbC-xyz"]


@pytest.mark.parametrize(
    "body",
    [
        '<a href="https://www.dropbox.com/s/abc?rlkey=k&amp;dl=0">x</a>',
        "https://www.dropbox.com/s/abc?rlkey=k&amp;dl=0",
        "<p>https://www.dropbox.com/s/abc?rlkey=k&amp;dl=0</p>",
        "<p>https://www.dropbox.com/s/abc?rlkey=k&#38;dl=0</p>",
    ],
)
def test_entities_in_urls_are_decoded(body):
    assert raw_urls(body) == ["https://www.dropbox.com/s/abc?rlkey=k&dl=0"]


@pytest.mark.parametrize(
    "body",
    [
        '<a href="https://wetransfer.com/d/x?a=1&timestamp=2&region=fr">Télécharger</a>',
        "https://wetransfer.com/d/x?a=1&timestamp=2&region=fr merci",
        '<!--[if mso]><v:roundrect href="https://wetransfer.com/d/x?a=1&amp;timestamp=2&amp;region=fr"><![endif]-->',
    ],
)
def test_bare_ampersand_parameters_are_not_read_as_entities(body):
    assert raw_urls(body) == ["https://wetransfer.com/d/x?a=1&timestamp=2&region=fr"]


def test_entity_encoded_quotes_end_a_url():
    body = '<div data-x="{&quot;u&quot;:&quot;https://fromsmash.com/abc&quot;}"></div>'
    assert raw_urls(body) == ["https://fromsmash.com/abc"]


def test_a_url_split_by_inline_tags_is_read_from_the_text_view_whole():
    assert raw_urls("<p>https://www.dropbox.com/scl/fo/<wbr>abc123/xyz</p>") == [
        "https://www.dropbox.com/scl/fo/abc123/xyz"
    ]


def test_a_url_at_the_end_of_a_block_does_not_run_into_the_next_block():
    assert raw_urls("<div>https://fromsmash.com/abc</div><div>Merci</div>") == ["https://fromsmash.com/abc"]


@pytest.mark.parametrize("tail", [".", ",", ";", ":", "!", "?", ")", "]", "}", "'", '"', "...", ").", "',", "»"])
def test_trailing_punctuation_and_quotes_are_trimmed_legacy_kept_them(tail):
    assert raw_urls(f"Lien https://www.dropbox.com/scl/fo/abc123{tail} merci") == [
        "https://www.dropbox.com/scl/fo/abc123"
    ]


def test_a_closing_parenthesis_that_matches_one_inside_the_url_is_kept():
    assert raw_urls("(voir https://wetransfer.com/downloads/lot_(2)).") == ["https://wetransfer.com/downloads/lot_(2)"]


@pytest.mark.parametrize(
    "url",
    [
        "https://dropbox.com.evil.tld/s/abc",
        "https://dropbox.community/s/abc",
        "https://notdropbox.com/s/abc",
        "https://dl.dropboxusercontent.com/s/abc",
        "https://evil.tld\\.dropbox.com/s/abc",
        "https://drive.google.com/file/d/abc",
        "ftp://dropbox.com/s/abc",
    ],
)
def test_non_provider_hosts_and_schemes_are_ignored_legacy_false_positives_fixed(url):
    assert links_extract(f'<a href="{url}">x</a> {url}') == []


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://dl.dropbox.com/s/abc/file.zip", "dropbox"),
        ("https://dropbox.com/s/abc", "dropbox"),
        ("http://www.dropbox.com/s/abc", "dropbox"),
        ("HTTPS://WWW.DROPBOX.COM/s/abc", "dropbox"),
        ("https://fromsmash.com/OPS-Lot-3", "fromsmash"),
        ("https://www.swisstransfer.com/d/8b5f-4c1e", "swisstransfer"),
        ("https://wetransfer.com/downloads/4c0ffee/abc123", "wetransfer"),
        ("https://we.tl.wetransfer.com/t-abc", "wetransfer"),
    ],
)
def test_provider_links_and_subdomains_are_found(url, provider):
    assert [(link["provider"], link["raw_url"]) for link in links_extract(f"Lien : {url}")] == [(provider, url)]


def test_non_dropbox_direct_url_is_the_raw_url():
    url = "https://wetransfer.com/downloads/4c0ffee/abc123?utm_source=mail&x="
    assert links_extract(f'<a href="{url}">x</a>') == [{"provider": "wetransfer", "raw_url": url, "direct_url": url}]


def test_dropbox_file_request_links_are_extracted_and_canonicalised():
    assert links_extract("Déposez ici : https://www.dropbox.com/request/AbCdEf123") == [
        {
            "provider": "dropbox",
            "raw_url": "https://www.dropbox.com/request/AbCdEf123",
            "direct_url": "https://www.dropbox.com/request/AbCdEf123?dl=1",
        }
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.dropbox.com/scl/fi/x/MS.png?rlkey=a&raw=1",
        "https://www.dropbox.com/scl/fi/x/logo-media.JPG?raw=1",
        "https://www.dropbox.com/scl/fi/x/avatar.jpeg?raw=1&rlkey=b",
        "https://www.dropbox.com/scl/fi/x/profile_photo.webp?raw=1",
        "https://www.dropbox.com/scl/fi/x/ms_final.gif?raw=1",
        "https://dl.dropbox.com/scl/fi/x/Logo.png?raw=1",
    ],
)
def test_dropbox_logo_and_avatar_preview_images_are_skipped(url):
    assert links_extract(f'<img src="{url}">') == []


@pytest.mark.parametrize(
    "url",
    [
        "https://www.dropbox.com/scl/fi/x/photo.png?raw=1",
        "https://www.dropbox.com/scl/fi/x/msfile.zip?raw=1",
        "https://www.dropbox.com/scl/fi/x/avatar.png?dl=0",
        "https://www.dropbox.com/s/x/logo.png?raw=1",
        "https://wetransfer.com/scl/fi/x/logo.png?raw=1",
    ],
)
def test_other_images_and_files_are_kept(url):
    assert raw_urls(f'<img src="{url}">') == [url]


def test_one_link_in_href_and_visible_text_is_extracted_once():
    assert raw_urls(f'<a href="{FOLDER}">{FOLDER}</a> {FOLDER}') == [FOLDER]


def test_links_equal_after_canonicalisation_are_one_link_legacy_counted_three():
    body = (
        "https://www.dropbox.com/scl/fo/abc?rlkey=k "
        "https://www.dropbox.com/scl/fo/abc?rlkey=k&dl=0 "
        "HTTPS://WWW.DROPBOX.COM/scl/fo/abc/?dl=0&rlkey=k"
    )
    assert links_extract(body) == [
        {
            "provider": "dropbox",
            "raw_url": "https://www.dropbox.com/scl/fo/abc?rlkey=k",
            "direct_url": "https://www.dropbox.com/scl/fo/abc?dl=1&rlkey=k",
        }
    ]


def test_bare_and_www_hosts_stay_distinct_links():
    assert raw_urls("https://dropbox.com/s/a https://www.dropbox.com/s/a") == [
        "https://dropbox.com/s/a",
        "https://www.dropbox.com/s/a",
    ]


def test_links_keep_first_occurrence_order():
    body = "https://fromsmash.com/b https://www.dropbox.com/s/a https://fromsmash.com/b https://wetransfer.com/c"
    assert raw_urls(body) == ["https://fromsmash.com/b", "https://www.dropbox.com/s/a", "https://wetransfer.com/c"]


def test_body_without_provider_links_gives_no_links():
    assert links_extract("<p>Bonjour, rien à télécharger. https://example.com/x</p>") == []


# --- link_canonicalize -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.dropbox.com/s/abc/f.zip", "https://www.dropbox.com/s/abc/f.zip?dl=1"),
        ("https://www.dropbox.com/s/abc/f.zip?dl=0", "https://www.dropbox.com/s/abc/f.zip?dl=1"),
        ("https://www.dropbox.com/s/abc?raw=1&dl=0&dl=0", "https://www.dropbox.com/s/abc?dl=1"),
        ("http://WWW.DROPBOX.COM/s/abc", "https://www.dropbox.com/s/abc?dl=1"),
        ("https://www.dropbox.com//scl//fo/abc//xyz/", "https://www.dropbox.com/scl/fo/abc/xyz?dl=1"),
        ("https://www.dropbox.com/s/x?st=s1&rlkey=k&e=2", "https://www.dropbox.com/s/x?dl=1&e=2&rlkey=k&st=s1"),
        ("https://www.dropbox.com/scl/fo/x?e=&flag&rlkey=", "https://www.dropbox.com/scl/fo/x?dl=1&rlkey="),
        ("https://www.dropbox.com/scl/fo/x?rlkey=k&rlkey=k", "https://www.dropbox.com/scl/fo/x?dl=1&rlkey=k"),
        ("https://www.dropbox.com/s/abc?dl=0#preview", "https://www.dropbox.com/s/abc?dl=1"),
        ("https://user:pw@www.dropbox.com:443/s/abc", "https://www.dropbox.com/s/abc?dl=1"),
        ("https://www.dropbox.com./s/abc", "https://www.dropbox.com/s/abc?dl=1"),
        ("https://www.dropbox.com/request/AbC?dl=0", "https://www.dropbox.com/request/AbC?dl=1"),
    ],
)
def test_dropbox_links_are_canonicalised(url, expected):
    assert link_canonicalize(url, "dropbox") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.dropbox.com/s/a?rlkey=a%2Bb", "https://www.dropbox.com/s/a?dl=1&rlkey=a%2Bb"),
        ("https://www.dropbox.com/s/a?rlkey=a+b", "https://www.dropbox.com/s/a?dl=1&rlkey=a%2Bb"),
        ("https://www.dropbox.com/s/a?k%2By=v", "https://www.dropbox.com/s/a?dl=1&k%2By=v"),
        ("https://www.dropbox.com/s/a%2Bb/c+d", "https://www.dropbox.com/s/a+b/c+d?dl=1"),
        ("https://www.dropbox.com/s/a?x=%252B", "https://www.dropbox.com/s/a?dl=1&x=%252B"),
    ],
    ids=["encoded-plus-in-value", "plus-in-value", "encoded-plus-in-key", "plus-in-path", "decoded-only-once"],
)
def test_plus_signs_survive_and_escapes_are_decoded_once_legacy_double_decoding_fixed(url, expected):
    assert link_canonicalize(url, "dropbox") == expected


def test_encoded_plus_in_a_key_reads_back_as_a_plus_sign():
    query = urlsplit(link_canonicalize("https://www.dropbox.com/s/a?a%2Bb=c%2Bd", "dropbox")).query
    assert ("a+b", "c+d") in parse_qsl(query)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.dropbox.com/s/%7Efile%20name.zip", "https://www.dropbox.com/s/~file%20name.zip?dl=1"),
        ("https://www.dropbox.com/s/été.zip", "https://www.dropbox.com/s/%C3%A9t%C3%A9.zip?dl=1"),
        ("https://www.dropbox.com/s/a%2Fb", "https://www.dropbox.com/s/a%2Fb?dl=1"),
        ("https://www.dropbox.com/s/a?name=été 1", "https://www.dropbox.com/s/a?dl=1&name=%C3%A9t%C3%A9%201"),
    ],
)
def test_canonical_dropbox_urls_are_valid_percent_encoded_urls(url, expected):
    assert link_canonicalize(url, "dropbox") == expected


@pytest.mark.parametrize("provider", ["fromsmash", "swisstransfer", "wetransfer"])
def test_other_providers_are_not_canonicalised(provider):
    url = "HTTPS://Example.COM//x/?dl=0&b=%2B&a=+"
    assert link_canonicalize(url, provider) == url


def test_unparsable_dropbox_url_is_returned_unchanged():
    assert link_canonicalize("https://[dropbox.com/s/a", "dropbox") == "https://[dropbox.com/s/a"


# --- properties ------------------------------------------------------------------------------------

url_tails = st.text(alphabet="abcXYZ019-_.~/?&=%+#()'\",;:!é", max_size=25)
hosts = st.sampled_from(
    ["www.dropbox.com", "dl.dropbox.com", "DROPBOX.COM", "fromsmash.com", "www.swisstransfer.com", "wetransfer.com",
     "dropbox.com.evil.tld", "dropboxusercontent.com", "example.com"]
)
schemes = st.sampled_from(["http", "https", "HTTPS"])
provider_urls = st.builds(lambda scheme, host, tail: f"{scheme}://{host}/{tail}", schemes, hosts, url_tails)
body_pieces = st.one_of(
    provider_urls,
    provider_urls.map(lambda u: f'<a href="{u}">lien</a>'),
    provider_urls.map(lambda u: f"<a href='{html.escape(u)}'>{u}</a>"),
    st.sampled_from(["<div>", "</div>", "<br>", "&amp;", "&nbsp;", " ", "\n", "(", ")", ".", "<!--", "-->", "<", ">"]),
    st.sampled_from(['"', "'", "&quot;", "<a href=", "<img src='"]),
    st.text(max_size=10),
)
bodies = st.lists(body_pieces, max_size=12).map("".join)


@given(st.one_of(st.text(), bodies))
def test_links_extract_never_raises_and_only_returns_provider_links(body):
    for link in links_extract(body):
        assert set(link) == {"provider", "raw_url", "direct_url"}
        parts = urlsplit(link["raw_url"])
        assert parts.scheme in ("http", "https")
        assert provider_for_host(parts.hostname) == link["provider"] in PROVIDER_DOMAINS.values()
        assert provider_for_host(urlsplit(link["direct_url"]).hostname) == link["provider"]


@given(bodies)
def test_links_extract_is_idempotent_on_its_joined_raw_urls(body):
    links = links_extract(body)
    # The body is HTML, so raw (decoded) URLs are escaped when written back into one.
    assert links_extract(" ".join(html.escape(link["raw_url"]) for link in links)) == links


@given(bodies)
def test_extracted_links_are_unique_on_direct_url(body):
    direct_urls = [link["direct_url"] for link in links_extract(body)]
    assert len(direct_urls) == len(set(direct_urls))


@given(st.builds(lambda host, tail: f"https://{host}/{tail}", st.sampled_from(["www.dropbox.com", "dl.dropbox.com"]),
                 url_tails))
def test_dropbox_canonicalisation_is_idempotent_and_gives_a_space_free_url(url):
    canonical = link_canonicalize(url, "dropbox")
    assert link_canonicalize(canonical, "dropbox") == canonical
    assert canonical.startswith("https://") and not any(c.isspace() for c in canonical)
    assert ("dl", "1") in parse_qsl(urlsplit(canonical).query)


@given(st.text(), st.sampled_from(["dropbox", "wetransfer"]))
def test_link_canonicalize_never_raises(url, provider):
    assert isinstance(link_canonicalize(url, provider), str)
