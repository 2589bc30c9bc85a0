"""WAL checkpoints away from the request path.

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that request
(and, through the writer queue, every writer behind it) waits for the copy and two fsyncs. `serve`
instead raises the automatic threshold of its children to a safety net and checkpoints from its own
process every half second, which does not block writers.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

logger = logging.getLogger("signal_server")

# Children of `serve` checkpoint only if the WAL outgrows this (about 80 MB), i.e. if serve's own
# checkpoints stopped.
SERVED_AUTOCHECKPOINT_PAGES = 20000
CHECKPOINT_INTERVAL_SECONDS = 0.5


def uses_sqlite(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "sqlite"


def wal_checkpoint(using: str = DEFAULT_DB_ALIAS) -> tuple[int, int, int] | None:
    """Copy committed WAL frames into the database (PASSIVE: never waits for readers or writers).

    Returns SQLite's (busy, wal_frames, checkpointed_frames), or None if the database was unavailable.
    """
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return tuple(cursor.fetchone())
    except OperationalError as error:
        logger.warning("SQLite WAL checkpoint failed: %s", error)
        return None
