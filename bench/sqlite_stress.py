"""Does a committed write survive? Many processes write, read and checkpoint one SQLite database in WAL
mode as yiwang opens it; every COMMIT that returned is counted, and at the end every one must be there.

Why: SQLite 3.7.0-3.51.2 has the WAL-reset bug. A checkpoint that runs right after another one has
emptied the WAL, while a third connection commits and so starts the WAL again from its beginning, can
record that frames of the new WAL were already copied into the database; a later checkpoint then
skips them, and when the WAL is reset again those committed pages are lost. It needs two checkpoints
and a writer at once, in different connections. yiwang's writer lock (core/backends/sqlite/base.py)
queues the writers, and the automatic checkpoint runs inside the COMMIT that holds it, but not every
checkpoint is taken under the lock: the last connection to close checkpoints and resets the WAL, and
so do `PRAGMA wal_checkpoint` and an online backup's connection. This bench does all three as often
as it can, beside writers that take the lock as yiwang does:

- writers: BEGIN IMMEDIATE under the writer lock, INSERT (writer, seq), COMMIT; a COMMIT that
  returned is acknowledged. One in ``--reopen`` transactions closes the connection and opens a new one.
- readers: open, count, close: each close may be the last and checkpoint and reset the WAL.
- checkpointers: ``PRAGMA wal_checkpoint(PASSIVE|RESTART|TRUNCATE)`` in turn from fresh connections,
  outside the writer lock, as the sqlite3 command line or another tool would.
- ``wal_autocheckpoint`` is set low (``--autocheckpoint`` pages), so the writers checkpoint too.

At the end: every acknowledged row is there, no row is there that was not written, and PRAGMA
integrity_check is "ok". Exit 0 when so, 1 when a write was lost (the rows are named).

    .venv/bin/python bench/sqlite_stress.py                      # 60 s on the SQLite yiwang runs on
    .venv/bin/python bench/sqlite_stress.py --library sqlite3    # Python's own (Debian 12: 3.40.1)
    .venv/bin/python bench/sqlite_stress.py --seconds 600 --writers 6 --readers 3 --checkpointers 2
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

# As yiwang's settings open the database (settings.database_from_url), but wal_autocheckpoint.
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=20000",
           "PRAGMA cache_size=-64000", "PRAGMA mmap_size=268435456")
CHECKPOINTS = ("PASSIVE", "RESTART", "TRUNCATE")


def _library(name: str):
    """``pysqlite3`` (what yiwang runs on, core/backends/sqlite) or ``sqlite3`` (Python's own)."""
    return importlib.import_module("pysqlite3.dbapi2" if name == "pysqlite3" else "sqlite3")


def _connect(sqlite, db: str, autocheckpoint: int):
    conn = sqlite.connect(db, timeout=20, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    return conn


def _writer(library: str, db: str, me: int, until: float, reopen: int, autocheckpoint: int, out) -> None:
    sqlite = _library(library)
    lock = os.open(f"{db}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)  # core/backends/sqlite/base.lock_path
    rng = random.Random(me)
    acknowledged, unknown, errors = [], [], 0
    conn = _connect(sqlite, db, autocheckpoint)
    seq = 0
    while time.monotonic() < until:
        if rng.randrange(reopen) == 0:
            conn.close()
            conn = _connect(sqlite, db, autocheckpoint)
        fcntl.flock(lock, fcntl.LOCK_EX)
        began = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            began = True
            conn.execute("INSERT INTO acked (writer, seq, payload) VALUES (?, ?, ?)",
                         (me, seq, os.urandom(rng.randrange(50, 3000))))
            conn.execute("COMMIT")
            acknowledged.append(seq)
        except sqlite.Error:
            errors += 1
            if began:  # a COMMIT that failed may or may not have written the row
                unknown.append(seq)
                with contextlib.suppress(sqlite.Error):
                    conn.execute("ROLLBACK")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        seq += 1
    conn.close()
    out.put(("writer", me, acknowledged, unknown, errors))


def _reader(library: str, db: str, me: int, until: float, autocheckpoint: int, out) -> None:
    sqlite = _library(library)
    reads = errors = 0
    while time.monotonic() < until:
        try:
            conn = _connect(sqlite, db, autocheckpoint)
            conn.execute("SELECT count(*), max(seq) FROM acked").fetchone()
            conn.close()  # perhaps the last connection: then it checkpoints and resets the WAL
            reads += 1
        except sqlite.Error:
            errors += 1
    out.put(("reader", me, reads, errors))


def _checkpointer(library: str, db: str, me: int, until: float, autocheckpoint: int, out) -> None:
    sqlite = _library(library)
    done = errors = 0
    while time.monotonic() < until:
        try:
            conn = _connect(sqlite, db, autocheckpoint)
            conn.execute(f"PRAGMA wal_checkpoint({CHECKPOINTS[done % len(CHECKPOINTS)]})").fetchone()
            conn.close()
            done += 1
        except sqlite.Error:
            errors += 1
    out.put(("checkpointer", me, done, errors))


def stress(db: Path, *, seconds: float, writers: int = 4, readers: int = 2, checkpointers: int = 1,
           reopen: int = 20, autocheckpoint: int = 8, library: str = "pysqlite3") -> dict:
    """Run the processes for ``seconds`` on a new database at ``db``; what was acknowledged and found."""
    sqlite = _library(library)
    path = str(db)
    with contextlib.closing(_connect(sqlite, path, autocheckpoint)) as conn:
        conn.execute("CREATE TABLE acked (writer INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB, "
                     "PRIMARY KEY (writer, seq))")
    context = multiprocessing.get_context("spawn")  # each process loads its own SQLite, as a server's do
    out = context.Queue()
    until = time.monotonic() + 1.5 + seconds  # the spawned interpreters start within the first 1.5 s
    procs = [context.Process(target=_writer, args=(library, path, i, until, reopen, autocheckpoint, out))
             for i in range(writers)]
    procs += [context.Process(target=_reader, args=(library, path, i, until, autocheckpoint, out))
              for i in range(readers)]
    procs += [context.Process(target=_checkpointer, args=(library, path, i, until, autocheckpoint, out))
              for i in range(checkpointers)]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    acknowledged = {(r[1], seq) for r in reports if r[0] == "writer" for seq in r[2]}
    unknown = {(r[1], seq) for r in reports if r[0] == "writer" for seq in r[3]}
    with contextlib.closing(sqlite.connect(path, isolation_level=None)) as conn:
        found = set(conn.execute("SELECT writer, seq FROM acked").fetchall())
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        version = conn.execute("SELECT sqlite_version()").fetchone()[0]
    lost = sorted(acknowledged - found)
    phantom = sorted(found - acknowledged - unknown)
    return {
        "library": f"SQLite {version} ({library})", "seconds": seconds, "writers": writers, "readers": readers,
        "checkpointers": checkpointers, "reopen_every": reopen, "wal_autocheckpoint": autocheckpoint,
        "acknowledged": len(acknowledged), "found": len(found), "unknown": len(unknown),
        "lost": len(lost), "lost_rows": lost[:20], "phantom": len(phantom), "integrity": integrity,
        "reads": sum(r[2] for r in reports if r[0] == "reader"),
        "checkpoints": sum(r[2] for r in reports if r[0] == "checkpointer"),
        "errors": sum(r[-1] for r in reports),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--checkpointers", type=int, default=1)
    ap.add_argument("--reopen", type=int, default=20, help="a writer reopens its connection once in N commits")
    ap.add_argument("--autocheckpoint", type=int, default=8, help="PRAGMA wal_autocheckpoint, in pages")
    ap.add_argument("--library", choices=("pysqlite3", "sqlite3"), default="pysqlite3")
    ap.add_argument("--dir", help="where the database is made (default: a new temp dir, removed after)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="yiwang-sqlite-stress-", dir=args.dir) as tmp:
        started = time.monotonic()
        result = stress(Path(tmp) / "stress.sqlite3", seconds=args.seconds, writers=args.writers,
                        readers=args.readers, checkpointers=args.checkpointers, reopen=args.reopen,
                        autocheckpoint=args.autocheckpoint, library=args.library)
        result["wall_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    ok = not result["lost"] and not result["phantom"] and result["integrity"] == "ok"
    print("no acknowledged write lost" if ok else "WRITES LOST OR DATABASE DAMAGED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
