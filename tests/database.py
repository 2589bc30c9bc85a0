"""Faults of the database itself, made by the engine rather than by mocking our code."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def database_read_only():
    """This connection's database refuses writes, enforced by the engine itself: SQLite's query_only (as a
    read-only file), PostgreSQL's default_transaction_read_only (as a standby, or an operator's lock).
    PostgreSQL applies it to the next transaction: use it in `django_db(transaction=True)` tests."""
    on, off = {
        "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
        "postgresql": ("SET default_transaction_read_only = on", "SET default_transaction_read_only = off"),
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(on)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(off)
