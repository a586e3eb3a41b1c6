"""The SQLite library yiwang's embedded database runs on: one without SQLite's WAL-reset bug.

SQLite 3.7.0 to 3.51.2 can, in WAL mode, lose committed writes when one connection checkpoints
right after another checkpoint has reset the WAL while a third commits (fixed in 3.51.3). With
Debian 12's SQLite 3.40, bench/intake.py lost committed cases this way while connections were
short-lived. Python's own ``sqlite3`` links the system's library, so yiwang depends on pysqlite3,
a build of the same module from a wheel that bundles a fixed SQLite (3.53.4 in pysqlite3 0.6.1),
and puts it in place of ``sqlite3`` here: Django imports this package before its SQLite backend and
before any of yiwang's modules imports ``sqlite3`` (core/backup.py's online backup and restore),
so the whole process opens the database through one library. Two copies of SQLite in one process
on one file would drop each other's POSIX locks (sqlite.org/howtocorrupt.html, 2.2.1).

A library older than 3.51.3 refuses to start (``library_problem``); ``make venv`` runs this module
to say so at install time (docs/operations.md, "SQLite's library").
"""

from __future__ import annotations

import sys

FIXED_IN = (3, 51, 3)

try:
    import pysqlite3
    import pysqlite3.dbapi2
except ImportError:  # the dependency is missing: the check below names the library in use
    pass
else:
    sys.modules["sqlite3"] = pysqlite3
    sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2

import sqlite3  # noqa: E402 (pysqlite3 from here on, when installed)


def library() -> str:
    """The SQLite library in use, e.g. ``SQLite 3.53.4 (pysqlite3)``, for /readyz and `yiwang stats`."""
    return f"SQLite {sqlite3.sqlite_version} ({sqlite3.__name__.split('.')[0]})"


def library_problem() -> str | None:
    """Why this SQLite library must not run yiwang's database, or None when it may."""
    if sqlite3.sqlite_version_info < FIXED_IN:
        return (f"{library()} has the WAL-reset bug, which can lose committed writes; yiwang needs "
                f"SQLite {'.'.join(map(str, FIXED_IN))} or newer: install the pysqlite3 wheel "
                "(`make venv`, or pip install -e .) or use PostgreSQL")
    return None
