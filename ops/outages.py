"""One log line per outage and process (a logging filter on the console handler).

While the database or Redis is away, every request of a web worker and every round of a delivery worker
fails the same way; a traceback each time would bury the line that matters. The first failure of an
outage is logged, its traceback replaced by the error's first line; later ones (records carrying a
database error, django-redis' ignored cache errors, and the 5xx request lines they cause) are counted,
not logged. A database outage ends when a connection opens again, which logs how long it lasted and how
many failures were folded; either outage also ends after QUIET_SECONDS without a failure, so the next
failure is logged again.
"""

import logging
import threading
import time

from django.db import InterfaceError, InternalError, OperationalError
from django.db.backends.signals import connection_created

logger = logging.getLogger("ops.outages")

QUIET_SECONDS = 30.0
DATABASE_ERRORS = (OperationalError, InterfaceError, InternalError)
CACHE_LOGGER = "django_redis.cache"  # django-redis logs each cache error it ignores here
DATABASE, CACHE = "database", "cache"


class Outage:
    """One kind of outage as one process sees it: when it began, its last failure, the failures folded."""

    def __init__(self):
        self.since: float | None = None
        self.last = 0.0
        self.folded = 0

    def ongoing(self, now: float) -> bool:
        return self.since is not None and now - self.last < QUIET_SECONDS

    def failure(self, now: float) -> bool:
        """Note a failure; whether it belongs to an outage already logged."""
        folded = self.ongoing(now)
        if folded:
            self.folded += 1
        else:
            self.since, self.folded = now, 0
        self.last = now
        return folded

    def consequence(self, now: float) -> bool:
        """Count a failure the outage caused (a request it failed); whether one is under way."""
        if self.ongoing(now):
            self.folded += 1
            return True
        return False

    def end(self, now: float) -> str | None:
        """Close the outage; a line saying how it went, when some failures were folded."""
        since, folded, self.since = self.since, self.folded, None
        if since is None or not folded:
            return None
        return f"back after {now - since:.1f} s; {folded} failures during the outage were not logged"


class OutageLogFilter(logging.Filter):
    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._outages = {DATABASE: Outage(), CACHE: Outage()}
        connection_created.connect(self._database_back)  # held weakly: as long as its handler keeps it

    def filter(self, record: logging.LogRecord) -> bool:
        kind = outage_kind(record)
        now = time.monotonic()
        with self._lock:
            if kind is None:
                # The "Internal Server Error" line of a request the outage failed.
                request_failed = record.name == "django.request" and getattr(record, "status_code", 0) >= 500
                return not (request_failed and self._outages[DATABASE].consequence(now))
            if self._outages[kind].failure(now):
                return False
        _traceback_fold(record, kind)
        return True

    def _database_back(self, **kwargs) -> None:
        with self._lock:
            line = self._outages[DATABASE].end(time.monotonic())
        if line:
            logger.warning("DATABASE: %s", line)


def outage_kind(record: logging.LogRecord) -> str | None:
    """DATABASE or CACHE when the record reports an unreachable database or cache; None otherwise."""
    if record.name == CACHE_LOGGER:
        return CACHE
    error = record.exc_info[1] if record.exc_info else None
    while error is not None:
        if isinstance(error, DATABASE_ERRORS):
            return DATABASE
        error = error.__cause__ or error.__context__
    return None


def _traceback_fold(record: logging.LogRecord, kind: str) -> None:
    error = record.exc_info[1] if record.exc_info else None
    detail = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}" if error else "no detail"
    record.msg = f"{record.getMessage()} | {kind} unavailable ({detail}); repeats are not logged until it is back"
    record.args, record.exc_info, record.exc_text = None, None, None
