"""Django's SQLite backend, with writers queued on an OS file lock instead of SQLite's busy handler,
on a SQLite library without the WAL-reset bug (the package's ``__init__``).

SQLite lets one writer in at a time. A second writer (another thread's connection, another
granian worker) that finds the write lock taken gets SQLITE_BUSY, and the busy handler behind
``timeout`` sleeps and retries: 1, 2, 5, 10, 15, 20, 25 … 100 ms. A write transaction here takes
well under a millisecond, so the waiters sleep far longer than the holder holds: under load the
cores sat a third idle (bench/intake.py: 1.28 of 2 cores used) and the closed-loop p99 was 159 ms.

So every transaction (``BEGIN IMMEDIATE``: each one may write) first takes an exclusive
``flock`` on ``<database>-writer.lock``, one open file per connection, so threads of one process
exclude each other too, and lets it go at COMMIT or ROLLBACK. A waiter polls the lock every
half millisecond: it is in line again almost as soon as the holder commits. The kernel drops the lock
of a process that dies (the crash test kills workers with SIGKILL). After ``timeout`` seconds
without it, the answer is SQLite's own "database is locked".

Readers take no lock: in WAL mode they never wait for the writer.

The cursor keeps each SQL text's conversion from Django's ``%s`` placeholders to SQLite's ``?``:
Django runs a regular expression over the whole text on every execute, and yiwang runs the same
few hundred texts again and again (intake: five statements, four of them while holding the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.sqlite3 import base, creation

from yiwang.core.backends.sqlite import library_problem, sqlite3

if problem := library_problem():
    raise ImproperlyConfigured(problem)
if base.Database is not sqlite3.dbapi2:  # Django's backend was imported before this package could swap
    raise ImproperlyConfigured(f"Django's SQLite backend runs on {base.Database.__name__}, yiwang's on "
                               f"{sqlite3.dbapi2.__name__}: import yiwang.core.backends.sqlite first")

POLL_SECONDS = 0.0005
CONVERTED_MAX = 4096  # SQL texts kept; more (e.g. IN lists of every length) start the cache afresh
_converted: dict[str, str] = {}


def lock_path(database: str) -> str:
    return f"{database}-writer.lock"


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        super()._destroy_test_db(test_database_name, verbosity)
        if test_database_name and not self.is_in_memory_db(test_database_name):
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock_path(test_database_name))


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is not None:
            return super().convert_query(query, param_names=param_names)
        converted = _converted.get(query)
        if converted is None:
            if len(_converted) >= CONVERTED_MAX:
                _converted.clear()
            converted = _converted[query] = super().convert_query(query)
        return converted


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation
    _writer_fd: int | None = None
    _holding = False

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)

    def _writer_lock_fd(self) -> int | None:
        if self._writer_fd is None and not self.is_in_memory_db():
            self._writer_fd = os.open(lock_path(self.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600)
        return self._writer_fd

    def _take_writer_lock(self) -> None:
        fd = self._writer_lock_fd()
        if fd is None or self._holding:
            return
        deadline = time.monotonic() + float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    with self.wrap_database_errors:  # as Django reports SQLite's own busy timeout
                        raise self.Database.OperationalError("database is locked") from None
                time.sleep(POLL_SECONDS)
        self._holding = True

    def _drop_writer_lock(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._drop_writer_lock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._drop_writer_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._drop_writer_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._drop_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None
