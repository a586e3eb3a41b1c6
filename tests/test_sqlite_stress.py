"""A short run of bench/sqlite_stress.py (docs/operations.md, "SQLite's library"): writers under
yiwang's writer lock, readers closing connections and checkpoints outside the lock, on the SQLite
yiwang runs on; every acknowledged commit is found and the database is intact. About 8 s."""

from __future__ import annotations

import pytest
from bench.sqlite_stress import stress
from django.db import connection


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_no_acknowledged_write_is_lost(tmp_path):
    result = stress(tmp_path / "stress.sqlite3", seconds=5, writers=3, readers=2, checkpointers=1,
                    library=connection.Database.__name__.split(".")[0])
    assert result["library"] == f"SQLite {connection.Database.sqlite_version} (pysqlite3)"
    # It did what it is for: many commits, reads and checkpoints beside each other.
    assert result["acknowledged"] > 500 and result["reads"] > 100 and result["checkpoints"] > 50, result
    assert (result["lost"], result["phantom"], result["integrity"]) == (0, 0, "ok"), result
