"""A throw-away yiwang site for tests that run real `yiwang` processes: the CLI and the server.

pytest-django owns the test database, and these tests need one that separate processes open
themselves: a SQLite file in a temp dir, or a scratch PostgreSQL database created (and dropped) here
on the server the run uses, so the pytest database is never touched. The vendor follows the run
(YIWANG_DATABASE_URL): `make test` runs the suite once on each.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
YIWANG = Path(sys.executable).parent / "yiwang"

# build_world() with fast password hashing: the production hasher costs ~0.3 s per user.
SEED_WORLD = """
from django.test.utils import override_settings
from yiwang.testing import build_world
with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
    world = build_world()
"""


def vendor() -> str:
    return "postgresql" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"


class Site:
    """A database and a var/ directory (media, static) that `yiwang` subprocesses are pointed at."""

    def __init__(self, var: Path, template: Site | None = None):
        """An empty database, or a copy of ``template``'s database and media (``template`` must be idle)."""
        self.var = var
        (var / "static").mkdir(parents=True, exist_ok=True)  # `serve --no-collectstatic` mounts it
        self.vendor = vendor()
        if self.vendor == "sqlite":
            self.db = var / "yiwang.sqlite3"
            self.url = f"sqlite:///{self.db}"
            if template is not None:
                with contextlib.closing(sqlite3.connect(template.db)) as src, \
                        contextlib.closing(sqlite3.connect(self.db)) as dst:
                    src.backup(dst)
        else:
            self.db_name = f"yiwang_scratch_{os.getpid()}_{secrets.token_hex(4)}"
            copy = f' TEMPLATE "{template.db_name}"' if template is not None else ""
            self._admin(f'CREATE DATABASE "{self.db_name}"{copy}')
            self.url = _pg_url(self.db_name)
        if template is not None and template.media.is_dir():
            shutil.copytree(template.media, self.media)

    @property
    def media(self) -> Path:
        return self.var / "media"

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "YIWANG_"))}
        env.update(DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_DATABASE_URL=self.url,
                   YIWANG_VAR_DIR=str(self.var), YIWANG_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
                   YIWANG_ALLOWED_HOSTS="127.0.0.1,localhost",
                   YIWANG_STAFF_2FA="off")  # staff sessions without an authenticator, as in conftest
        return env

    def yiwang(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([str(YIWANG), *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"yiwang {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def python(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in a fresh process set up for this site; its stdout."""
        done = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"python exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def wipe(self) -> None:
        """Lose everything: the database (left absent or empty, as on a new machine) and the media."""
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self.db_name}"')
        shutil.rmtree(self.media, ignore_errors=True)

    def drop(self) -> None:
        if self.vendor == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    @staticmethod
    def _admin(sql: str) -> None:
        import psycopg

        s = settings.DATABASES["default"]
        with psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"] or None,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)


_migrated: Site | None = None


def migrated_site(var: Path) -> Site:
    """A new site with the schema applied: a copy of one migrated once per test process (~6 s saved each)."""
    global _migrated
    if _migrated is None:
        template = Site(Path(tempfile.mkdtemp(prefix="yiwang-migrated-")))
        template.yiwang("migrate", "--noinput", "-v", "0")
        _migrated = template
        atexit.register(_forget_migrated)
    return Site(var, template=_migrated)


def _forget_migrated() -> None:
    if _migrated is not None:
        with contextlib.suppress(Exception):
            _migrated.drop()
        shutil.rmtree(_migrated.var, ignore_errors=True)


def _pg_url(name: str) -> str:
    s = settings.DATABASES["default"]
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    return f"postgres://{quote(s['USER'], safe='')}{password}@{s['HOST']}:{s['PORT']}/{name}"
