"""The floor for the intake benchmark: a bare WSGI app that does only what intake cannot avoid.

Per POST it parses the JSON body and writes the same two rows yiwang writes — one into cases_case,
one into cases_caseevent — in one ``BEGIN IMMEDIATE`` transaction, with sqlite3 directly on a copy
of the same migrated database and the same connection pragmas as ``yiwang.settings``. No framework,
no authentication, no validation, no routing, no hashing: whatever yiwang spends beyond this is its
overhead. ``bench/intake.py`` serves it with granian exactly as ``yiwang serve`` serves yiwang.

Writers queue the way yiwang's do (yiwang.core.backends.sqlite), written out again here so that the
floor imports nothing of yiwang: before ``BEGIN IMMEDIATE`` each connection takes an exclusive
``flock`` on ``<database>-writer.lock`` (its own open file, so threads of one process exclude each
other too), polled every half millisecond, and lets it go after COMMIT or ROLLBACK. Without it a
writer that finds SQLite's lock taken sleeps in the busy handler (1, 2, 5, 10 … 100 ms) long after
the lock is free, and the floor leaves cores idle: it then measures waiting, not the work of a case.
``FLOOR_WRITER_LOCK=busy`` turns the flock off (SQLite's busy handler alone, as before 2026-12-06).

Configuration comes from the environment (set by bench/intake.py):
  FLOOR_DB            path of the SQLite database (a copy of the yiwang bench database)
  FLOOR_INIT_COMMAND  the ``init_command`` PRAGMAs from yiwang.settings (";"-separated)
  FLOOR_TIMEOUT       the sqlite3 busy timeout in seconds, from yiwang.settings (also the flock's)
  FLOOR_WRITER_LOCK   "flock" (default): writers queue on the file lock; "busy": SQLite's busy handler only
  FLOOR_TEMPLATE      a JSON file with one case row and its first event row that yiwang wrote in this run
                      ({"case": {column: value}, "event": {column: value}}): the columns to write and
                      the values of those the request doesn't give
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
import time

# The SQLite library yiwang runs on (pysqlite3's, not the system's): the same for both sides.
from yiwang.core.backends.sqlite import sqlite3

DB = os.environ.get("FLOOR_DB", "")
INIT = [c.strip() for c in os.environ.get("FLOOR_INIT_COMMAND", "").split(";") if c.strip()]
TIMEOUT = float(os.environ.get("FLOOR_TIMEOUT", "20"))
WRITER_LOCK = os.environ.get("FLOOR_WRITER_LOCK", "flock")
if WRITER_LOCK not in ("flock", "busy"):
    raise ValueError(f"FLOOR_WRITER_LOCK must be 'flock' or 'busy', not {WRITER_LOCK!r}")
POLL_SECONDS = 0.0005  # as yiwang.core.backends.sqlite.POLL_SECONDS
HASH = "f" * 64

# One case row and its first event as yiwang wrote them: every column the floor writes comes from
# here unless the request supplies it, so the floor writes the same columns, with the same kind of
# values, whatever columns the schema has gained since.
with open(os.environ["FLOOR_TEMPLATE"], encoding="utf-8") as _f:
    _TEMPLATE = json.load(_f)
CASE_COLS = [c for c in _TEMPLATE["case"] if c != "id"]
EVENT_COLS = [c for c in _TEMPLATE["event"] if c != "id"]
CASE_BASE = [_TEMPLATE["case"][c] for c in CASE_COLS]
EVENT_BASE = [_TEMPLATE["event"][c] for c in EVENT_COLS]


def _insert_sql(table: str, cols: list[str]) -> str:
    names = ", ".join('"' + c + '"' for c in cols)
    marks = ", ".join("?" * len(cols))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"


CASE_SQL = _insert_sql("cases_case", CASE_COLS)
EVENT_SQL = _insert_sql("cases_caseevent", EVENT_COLS)
C = {c: i for i, c in enumerate(CASE_COLS)}
E = {c: i for i, c in enumerate(EVENT_COLS)}
# Request fields copied into the case row as they are (the JSON ones are serialised).
FROM_BODY = [(k, C[k]) for k in ("description", "applicant_name", "applicant_phone", "channel", "lat", "lng",
                                 "address") if k in C]

_local = threading.local()


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(DB, timeout=TIMEOUT, isolation_level=None, check_same_thread=False)
    for command in INIT:
        conn.execute(command)
    if WRITER_LOCK == "flock":
        _local.lock_fd = os.open(f"{DB}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    return conn


def _take_writer_lock(fd: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked") from None
            time.sleep(POLL_SECONDS)


HEADERS_201 = [("Content-Type", "application/json")]


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length))
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _connect()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    row = CASE_BASE.copy()
    for key, i in FROM_BODY:
        if key in data:
            row[i] = data[key]
    if data.get("title"):
        row[C["title"]] = data["title"]
    row[C["form_data"]] = json.dumps(data.get("form") or {})
    row[C["materials"]] = json.dumps(data.get("materials") or [])
    row[C["created_at"]] = now
    row[C["last_hash"]] = HASH
    row[C["idempotency_key"]] = None
    event = EVENT_BASE.copy()
    event[E["at"]] = now
    event[E["hash"]] = HASH
    fd = getattr(_local, "lock_fd", None)
    if fd is not None:
        _take_writer_lock(fd)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            case_id = conn.execute(CASE_SQL, row).lastrowid
            event[E["case_id"]] = case_id
            conn.execute(EVENT_SQL, event)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    body = b'{"id": %d}' % case_id
    start_response("201 Created", [*HEADERS_201, ("Content-Length", str(len(body)))])
    return [body]
