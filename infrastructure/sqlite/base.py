"""SQLite with a machine-wide queue for write transactions.

SQLite lets one writer in at a time; the others poll the lock with growing sleeps (1, 2, 5, 10, 15,
20, 25 ms …), so under concurrent ingress most of the latency was sleeping. Here every transaction
first takes an exclusive flock() on a file next to the database: waiters block in the kernel and wake
the moment the holder commits, in web processes, threads and the task worker alike. The busy timeout
stays as a fallback for statements outside transactions.
"""

import fcntl
import os
from functools import lru_cache

from django.db.backends.sqlite3 import base

# Statements longer than this (long IN lists) are rarely run twice: not worth keeping.
QMARK_CACHE_MAX_CHARS = 4096


@lru_cache(maxsize=1024)
def qmark_query(query: str) -> str:
    """Django's conversion of "format" placeholders to SQLite's "qmark" ones, kept per statement text."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    """Django's cursor, converting each statement's %s placeholders to SQLite's ? once, not per run.

    The ingress path runs the same few INSERTs over and over; the conversion was a regular expression
    over the whole statement (behind a lazy object) every time.
    """

    def convert_query(self, query, *, param_names=None):
        if param_names is None and len(query) <= QMARK_CACHE_MAX_CHARS:
            return qmark_query(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)

    def _writer_lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        return None if self.is_in_memory_db() else f"{name}.writer-lock"

    def _writer_lock_acquire(self) -> None:
        path = self._writer_lock_path()
        if path is None:
            return
        if getattr(self, "_writer_lock_fd", None) is None:
            self._writer_lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._writer_lock_fd, fcntl.LOCK_EX)
        self._writer_lock_held = True

    def _writer_lock_release(self) -> None:
        if getattr(self, "_writer_lock_held", False):
            self._writer_lock_held = False
            fcntl.flock(self._writer_lock_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self):
        self._writer_lock_acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._writer_lock_release()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._writer_lock_release()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._writer_lock_release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._writer_lock_release()
            if getattr(self, "_writer_lock_fd", None) is not None:
                os.close(self._writer_lock_fd)
                self._writer_lock_fd = None
