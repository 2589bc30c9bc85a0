import fcntl
import os
import sqlite3
import threading

import pytest
from django.db import connection, connections, transaction
from django.db.backends.sqlite3 import base as django_sqlite

from infrastructure.sqlite.base import QMARK_CACHE_MAX_CHARS, DatabaseWrapper, qmark_query

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
    hits = qmark_query.cache_info().hits

    assert fetch(sql, [41]) == (42,)
    assert qmark_query.cache_info().hits == hits + 1


def test_long_statements_are_converted_without_being_kept():
    sql = "SELECT %s" + " " * QMARK_CACHE_MAX_CHARS
    size = qmark_query.cache_info().currsize

    assert fetch(sql, [7]) == (7,)
    assert qmark_query.cache_info().currsize == size


# --- the writer queue ---------------------------------------------------------------------------
WAIT_SECONDS = 0.3


@pytest.fixture
def database(tmp_path):
    """A connection of the project's SQLite backend to a file database (the test database is in memory)."""
    settings = {**connections["default"].settings_dict, "NAME": str(tmp_path / "db.sqlite3")}
    wrapper = DatabaseWrapper(settings, alias="queue-test")
    with wrapper.cursor() as cursor:
        cursor.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, value TEXT)")
        cursor.execute("INSERT INTO item (value) VALUES ('a')")
    yield wrapper
    wrapper.close()


@pytest.fixture
def queue_held(database):
    """The writer queue taken by someone else (another process's transaction) until released."""
    fd = os.open(database._writer_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    def release():
        fcntl.flock(fd, fcntl.LOCK_UN)

    yield release
    release()
    os.close(fd)


def test_a_transaction_waits_for_the_writer_queue(database, queue_held):
    """Another process's transaction holds the queue: this one starts when it commits, not before."""
    def work():
        connections["queue-test"] = database  # connections are per thread
        try:
            with transaction.atomic(using="queue-test"):
                pass
        finally:
            del connections["queue-test"]
            database.close()

    database.inc_thread_sharing()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(WAIT_SECONDS)
    assert thread.is_alive()

    queue_held()
    thread.join(5)
    assert not thread.is_alive()


def lock_is_free(database) -> bool:
    fd = os.open(database._writer_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock this probe took
    return True


@pytest.fixture
def registered(database):
    """The file database as the connection "queue-test" of this thread."""
    connections["queue-test"] = database
    yield database
    del connections["queue-test"]


def test_the_queue_is_held_for_the_length_of_a_transaction(registered):
    database = registered
    with transaction.atomic(using="queue-test"):
        with database.cursor() as cursor:
            cursor.execute("UPDATE item SET value = 'b'")
        assert not lock_is_free(database)
    assert lock_is_free(database)


def test_a_rolled_back_transaction_releases_the_queue(registered):
    database = registered
    with pytest.raises(RuntimeError), transaction.atomic(using="queue-test"):
        raise RuntimeError("roll back")
    assert lock_is_free(database)


# --- the contract with Django -------------------------------------------------------------------
# The writer queue hooks four private methods of Django's SQLite backend. These tests fail when Django
# stops calling them where the queue needs it: at BEGIN, at COMMIT, at ROLLBACK and at close.


class RecordingWrapper(django_sqlite.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def _start_transaction_under_autocommit(self):
        self.calls.append("begin")
        return super()._start_transaction_under_autocommit()

    def _commit(self):
        self.calls.append("commit")
        return super()._commit()

    def _rollback(self):
        self.calls.append("rollback")
        return super()._rollback()

    def _close(self):
        self.calls.append("close")
        return super()._close()


@pytest.fixture
def recording(tmp_path):
    settings = {**connections["default"].settings_dict, "NAME": str(tmp_path / "contract.sqlite3")}
    wrapper = RecordingWrapper(settings, alias="contract")
    connections["contract"] = wrapper
    yield wrapper
    del connections["contract"]
    wrapper.close()


def test_django_begins_every_atomic_block_through_the_hook(recording):
    with transaction.atomic(using="contract"):
        assert recording.calls == ["begin"]


def test_django_commits_through_the_hook(recording):
    with transaction.atomic(using="contract"):
        pass
    assert recording.calls == ["begin", "commit"]


def test_django_rolls_back_through_the_hook(recording):
    with pytest.raises(RuntimeError), transaction.atomic(using="contract"):
        raise RuntimeError("roll back")
    assert recording.calls == ["begin", "rollback"]


@pytest.mark.parametrize(
    "query", ["SELECT %s", "SELECT '100%%', %s", "SELECT %%s, %s", "UPDATE t SET a = %s WHERE b LIKE '%%x%%'"]
)
def test_django_converts_placeholders_as_the_cached_conversion_does(query):
    cursor = sqlite3.connect(":memory:").cursor(factory=django_sqlite.SQLiteCursorWrapper)

    assert qmark_query(query) == cursor.convert_query(query)


def test_django_closes_through_the_hook(recording):
    recording.ensure_connection()
    recording.close()
    assert recording.calls[-1] == "close"
