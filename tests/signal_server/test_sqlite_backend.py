import pytest
from django.db import connection

from signal_server.sqlite_backend.base import QMARK_CACHE_MAX_CHARS, _qmark_query

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the project's SQLite backend"),
    pytest.mark.django_db,
]


def fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_format_placeholders_and_escaped_percents_reach_sqlite_as_before():
    assert fetch("SELECT %s, '100%%', %s", [5, "x"]) == (5, "100%", "x")


def test_named_placeholders_still_work():
    assert fetch("SELECT %(a)s, %(b)s", {"a": 1, "b": "two"}) == (1, "two")


def test_a_statement_is_converted_once_and_reused():
    sql = "SELECT %s + 1 AS converted_once_probe"
    fetch(sql, [1])
    hits = _qmark_query.cache_info().hits

    assert fetch(sql, [41]) == (42,)
    assert _qmark_query.cache_info().hits == hits + 1


def test_long_statements_are_converted_without_being_kept():
    sql = "SELECT %s" + " " * QMARK_CACHE_MAX_CHARS
    size = _qmark_query.cache_info().currsize

    assert fetch(sql, [7]) == (7,)
    assert _qmark_query.cache_info().currsize == size
