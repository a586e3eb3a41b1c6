"""Which database answers a read: the primary, or a streaming replica for reads that may lag it.

A deployment may add a PostgreSQL hot standby (YIWANG_REPLICA_URL, settings.DATABASES["replica"]).
There is no database router: only a read that may be a few seconds old asks for ``stale_ok()`` and
names the answer at the call site, ``Case.objects.using(stale_ok())``. Those are leaders' figures,
public Open311 lists, parking hotspots and ledger counts. Everything else stays on the primary: the
case page after an action, a queue, every read inside a transaction. A clerk never misses what they
have just done, and a reader sees at the call which server answers.

Rows read from the replica are for showing only. Django saves an instance to the database it came
from, and a hot standby refuses writes.

A replica that stops answering must not take the dashboards down with it. stale_ok() checks the
replica connection before handing it out: Django's own once-per-request health check, and every
YIWANG_REPLICA_RETRY_SECONDS outside requests. If the check or the connect fails (connect_timeout is
short), reads go to the primary and this process leaves the replica alone for that many seconds
before it tries again.

A primary that stops answering is the client's to wait out: ``unavailable`` tells a lost or busy
database from a wrong query, and core.middleware answers the first 503 with Retry-After.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

REPLICA = "replica"

log = logging.getLogger("yiwang.db")
_down_until = 0.0  # monotonic time before which this process sends stale reads to the primary
_checked = threading.local()  # when this thread last saw its replica connection answer

# PostgreSQL SQLSTATEs that say "not now" rather than "not this query": class 08 connection exception,
# class 53 insufficient resources (too many connections, disk full, out of memory), and the server
# shutting down, crashing, starting up or ending an idle session (57P01, 57P02, 57P03, 57P05).
_PG_UNAVAILABLE_CLASSES = ("08", "53")
_PG_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
# SQLite result codes with the same meaning: SQLITE_BUSY and SQLITE_LOCKED past the busy timeout,
# SQLITE_CANTOPEN (the file cannot be opened now).
_SQLITE_UNAVAILABLE_CODES = frozenset({5, 6, 14})


def stale_ok() -> str:
    """The database alias for a read that may be a few seconds stale.

    "replica" when one is configured and answering, else "default". Also "default" inside a
    transaction on the primary: the reads there belong with its writes.
    """
    if REPLICA not in settings.DATABASES or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return REPLICA if replica_alive() else DEFAULT_DB_ALIAS


def replica_alive() -> bool:
    """Whether this thread's replica connection answers, connecting when needed; False without one."""
    global _down_until
    if REPLICA not in settings.DATABASES:
        return False
    now = time.monotonic()
    if now < _down_until:
        return False
    retry = settings.YIWANG_REPLICA_RETRY_SECONDS
    conn = connections[REPLICA]
    try:
        # What Django does before a query: one liveness check per request on a kept-open connection.
        conn.close_if_health_check_failed()
        # Outside requests (the worker, a shell) nothing re-arms that check, so check on a clock too.
        if conn.connection is not None and now - getattr(_checked, "at", 0.0) >= retry and not conn.is_usable():
            conn.close()
        conn.ensure_connection()
    except DatabaseError as exc:
        _down_until = now + retry
        log.warning("replica %s:%s not answering (%s); stale reads go to the primary for %.0f s",
                    conn.settings_dict.get("HOST"), conn.settings_dict.get("PORT"), str(exc).strip(), retry)
        with contextlib.suppress(DatabaseError):
            conn.close()
        return False
    _checked.at = now
    return True


def forget_replica_state() -> None:
    """Forget that the replica was down: the next stale read tries it again (tests, operators)."""
    global _down_until
    _down_until = 0.0
    _checked.at = 0.0


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means the database cannot answer now (the request may be retried
    unchanged) rather than that the query is wrong (a bug, which stays a 500).

    PostgreSQL: the connection was lost or never made (no SQLSTATE: the server did not answer), or one
    of the states above; InterfaceError is psycopg's "the connection is closed". SQLite: a busy or
    locked database, including core.backends.sqlite's own "database is locked" after its write-lock
    timeout, and a file that cannot be opened. "no such table" and other OperationalErrors are bugs.
    """
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    module = type(cause).__module__ if cause is not None else ""
    if module.startswith("psycopg"):
        if isinstance(exc, InterfaceError):
            return True
        state = getattr(cause, "sqlstate", None)
        return state is None or state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_STATES
    if module in ("sqlite3", "pysqlite3.dbapi2") and isinstance(exc, OperationalError):  # core/backends/sqlite
        code = getattr(cause, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_UNAVAILABLE_CODES
        return str(cause) in ("database is locked", "database table is locked", "unable to open database file")
    return False
