"""One log line per outage and process (ops.outages): the first failure, not a traceback per request."""

import logging

import pytest
from django.db import OperationalError, connection

from ops.outages import OutageLogFilter


@pytest.fixture
def records():
    """What a handler carrying the outage filter lets through."""
    kept: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = kept.append
    handler.addFilter(OutageLogFilter())
    log = logging.getLogger("tests.outages")
    log.addHandler(handler)
    log.propagate = False
    yield kept
    log.removeHandler(handler)


def fail(message: str = "INGRESS: unexpected error") -> None:
    try:
        raise OperationalError("connection failed: Connection refused\nIs the server running?")
    except OperationalError:
        logging.getLogger("tests.outages").exception(message)


def test_the_first_database_failure_is_one_line_and_the_repeats_are_not_logged(records):
    for _ in range(5):
        fail()
    assert len(records) == 1
    assert records[0].exc_info is None
    assert records[0].getMessage() == (
        "INGRESS: unexpected error | database unavailable (OperationalError: connection failed: Connection "
        "refused); repeats are not logged until it is back"
    )


@pytest.mark.django_db(transaction=True)
def test_a_new_database_connection_ends_the_outage_saying_what_was_folded(records, caplog):
    fail(), fail(), fail()
    connection.close()
    with caplog.at_level(logging.WARNING, logger="ops.outages"):
        connection.ensure_connection()
    fail()
    assert "DATABASE: back after" in caplog.text and "2 failures during the outage were not logged" in caplog.text
    assert len(records) == 2, "the next failure begins a new outage"


def test_other_errors_are_logged_as_they_come(records):
    for _ in range(3):
        try:
            raise ValueError("a bug")
        except ValueError:
            logging.getLogger("tests.outages").exception("INGRESS: unexpected error")
    assert len(records) == 3 and all(r.exc_info for r in records)
