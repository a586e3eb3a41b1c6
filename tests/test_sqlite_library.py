"""The embedded database runs on a SQLite without the WAL-reset bug (>= 3.51.3), in every module that
opens it, and a process that would run on an older one refuses to start (docs/operations.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

import yiwang.core.backup
from yiwang.core.backends import sqlite as library

ON_SQLITE = pytest.mark.skipif("connection.vendor != 'sqlite'")
ROOT = Path(__file__).resolve().parent.parent


@ON_SQLITE
@pytest.mark.django_db
def test_the_database_runs_on_a_fixed_sqlite():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        (version,) = cursor.fetchone()
    assert tuple(map(int, version.split("."))) >= library.FIXED_IN
    # Backups and restores open the same file through the same library, not a second copy of SQLite.
    assert yiwang.core.backup.sqlite3.dbapi2 is connection.Database


@pytest.mark.django_db
def test_yiwang_stats_names_the_database_and_its_version():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("stats", stdout=out)
    last = out.getvalue().splitlines()[-1]
    if connection.vendor == "sqlite":
        assert last == f"database: {library.library()}" and "(pysqlite3)" in last
    else:
        assert last.startswith("database: PostgreSQL 1")


def test_make_venv_names_the_library():
    done = subprocess.run([sys.executable, "-m", "yiwang.core.backends.sqlite"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == library.library()
    assert done.stdout.startswith("SQLite 3.")


def test_an_old_sqlite_refuses_to_start(tmp_path):
    """Without the wheel, Python's own sqlite3 (Debian 12: 3.40) is refused at the backend's import."""
    # Asked of another process: this one keeps a single copy of SQLite.
    own = subprocess.run([sys.executable, "-c", "import _sqlite3; print(_sqlite3.sqlite_version)"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    if tuple(map(int, own.split("."))) >= library.FIXED_IN:
        pytest.skip(f"Python's own SQLite {own} has no WAL-reset bug")
    code = ("import sys; sys.modules['pysqlite3'] = None\n"  # as if the wheel were not installed
            "import django; django.setup()\n"
            "from django.db import connection; connection.ensure_connection()\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "yiwang.settings",
           "YIWANG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert f"SQLite {own} (sqlite3) has the WAL-reset bug" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists()

    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pysqlite3'] = None\n"
                           "import runpy; runpy.run_module('yiwang.core.backends.sqlite', run_name='__main__')"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    assert "has the WAL-reset bug" in done.stdout
