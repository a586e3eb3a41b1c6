"""A synchronous primary killed after acknowledged writes: every acknowledged case is on the promoted
standby, and yiwang reaches it through its multi-host YIWANG_DATABASE_URL.

The URL parsing tests run everywhere. The failover test is PostgreSQL only: it starts a primary with
``synchronous_standby_names = '*'`` and a ``pg_basebackup -R`` standby on free loopback ports in a temp
dir (tests/pg_cluster.py), loads the run's migrated test database into the primary with pg_dump
(``yiwang migrate`` alone takes ~18 s) and runs a child, Django on
``postgres://…@127.0.0.1:P1,127.0.0.1:P2/yiwang?target_session_attrs=read-write``, which plays
`scenario()` (this file run as a module): applications through POST /api/v1/cases, each 201 noted,
then SIGKILL of the primary's whole process tree, one more application (503: nothing accepts writes),
``pg_ctl promote`` of the standby, one more (201, from the standby). The test then reads the numbers
on the promoted server. bench/failover.py measures the same under load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_cluster import Cluster, free_port, pg_bin, require_server, scratch_root
from yiwang.settings import MULTI_HOST_CONNECT_TIMEOUT, database_from_url

ROOT = Path(__file__).resolve().parent.parent
ACKNOWLEDGED = 25  # applications answered 201 before the primary dies
APPLICATION = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "channel": "hall",
               "applicant_name": "王大爷", "applicant_phone": "13800000001", "form": {"birth_date": "1950-01-01"},
               "materials": [{"code": "id_card"}, {"code": "photo"}]}


# ------------------------------------------------------------------------------------------------
# The URL: several hosts, libpq parameters, refusals.
# ------------------------------------------------------------------------------------------------


def test_a_multi_host_url_gives_libpq_its_host_and_port_lists():
    db = database_from_url("postgres://postgres@127.0.0.1:5433,127.0.0.1:5434/yiwang?target_session_attrs=read-write")
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("127.0.0.1,127.0.0.1", "5433,5434", "yiwang", "postgres")
    assert db["OPTIONS"] == {"target_session_attrs": "read-write", "connect_timeout": MULTI_HOST_CONNECT_TIMEOUT}
    # A broken connection is checked and dropped, not reused after a failover.
    assert db["CONN_HEALTH_CHECKS"] is True


def test_a_single_host_url_reads_as_before():
    db = database_from_url("postgresql://clerk:p%40ss@db.example:6000/cases")
    assert (db["HOST"], db["PORT"], db["USER"], db["PASSWORD"], db["NAME"]) == (
        "db.example", "6000", "clerk", "p@ss", "cases")
    assert db["OPTIONS"] == {}
    assert "DISABLE_SERVER_SIDE_CURSORS" not in db
    default = database_from_url("postgres:///")
    assert (default["HOST"], default["PORT"], default["NAME"]) == ("127.0.0.1", "5432", "yiwang")


def test_hosts_without_a_port_get_5432_and_ipv6_hosts_keep_their_colons():
    db = database_from_url("postgres://u@a,[::1]:6432,b:7000/x?connect_timeout=2&sslmode=require")
    assert (db["HOST"], db["PORT"]) == ("a,::1,b", "5432,6432,7000")
    assert db["OPTIONS"] == {"connect_timeout": 2, "sslmode": "require"}


def test_behind_pgbouncer_server_side_cursors_can_be_turned_off():
    db = database_from_url("postgres://u@127.0.0.1:6432/yiwang?disable_server_side_cursors=true")
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert db["OPTIONS"] == {}


@pytest.mark.parametrize("url, message", [
    ("postgres://u@h:54x2/db", "not a number"),
    ("postgres://u@h/db?target_session_attrs=writable", "target_session_attrs"),
    ("postgres://u@h/db?connect_timeout=soon", "whole number"),
    ("postgres://u@h/db?options=-c%20statement_timeout%3D0", "unknown parameter 'options'"),
    ("postgres://u@h/db?disable_server_side_cursors=yes", "true or false"),
    ("mysql://u@h/db", "unknown scheme"),
])
def test_a_url_that_cannot_work_is_refused_at_start_with_what_is_wrong(url, message):
    with pytest.raises(ValueError, match=message):
        database_from_url(url)


def test_a_replica_url_keeps_its_short_connect_timeout_unless_it_names_one():
    from yiwang.settings import replica_from_url

    assert replica_from_url("postgres://u@r:5432/y")["OPTIONS"] == {"connect_timeout": 2}
    assert replica_from_url("postgres://u@r:5432/y?connect_timeout=7")["OPTIONS"] == {"connect_timeout": 7}


def test_backup_tools_reach_the_server_that_takes_writes(monkeypatch):
    # pg_dump imports the snapshot the primary exported: with a host list it must not stop at a standby.
    from django.db import connection

    from yiwang.core.backup import _pg_env

    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"target_session_attrs": "read-write"})
    assert _pg_env()["PGTARGETSESSIONATTRS"] == "read-write"
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {})
    monkeypatch.delenv("PGTARGETSESSIONATTRS", raising=False)
    assert "PGTARGETSESSIONATTRS" not in _pg_env()


# ------------------------------------------------------------------------------------------------
# The failover itself.
# ------------------------------------------------------------------------------------------------


def _dump_test_database(out: Path) -> None:
    """The run's migrated (and otherwise empty) test database as SQL: the schema, and the rows the
    migrations wrote."""
    from django.db import connection

    s = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": s["PASSWORD"] or ""}
    done = subprocess.run([str(pg_bin() / "pg_dump"), "--no-owner", "--no-privileges", "-h", s["HOST"],
                           "-p", str(s["PORT"]), "-U", s["USER"], "-d", s["NAME"], "-f", str(out)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _observe(dump: Path, root: Path) -> dict:
    import psycopg

    primary = Cluster(root, "primary", free_port())
    standby = Cluster(root, "standby", free_port())
    try:
        # fsync off: the primary's process tree dies, not the machine; the WAL is in the page cache.
        primary.initdb(wal_level="replica", max_wal_senders=4, max_connections=30, shared_buffers="32MB",
                       fsync="off", synchronous_commit="on")
        with (primary.dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        with psycopg.connect(f"host=127.0.0.1 port={primary.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE yiwang")
        primary.run("psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(primary.port),
                    "-U", "postgres", "-d", "yiwang", "-f", str(dump))
        # Promoted, the standby is alone: with the primary's '*' it would wait forever for a standby.
        standby.standby_of(primary, synchronous_standby_names="")
        standby.start()
        primary.make_synchronous()

        url = (f"postgres://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/yiwang"
               "?target_session_attrs=read-write")
        env = {**os.environ, "YIWANG_DATABASE_URL": url, "YIWANG_VAR_DIR": str(root / "var"),
               "DJANGO_SETTINGS_MODULE": "yiwang.settings", "YIWANG_STAFF_2FA": "off", "YIWANG_LOG_LEVEL": "CRITICAL",
               "YIWANG_TEST_CLUSTERS": json.dumps({"root": str(root), "primary": primary.port,
                                                   "standby": standby.port})}
        env.pop("YIWANG_REPLICA_URL", None)
        child = subprocess.run([sys.executable, "-m", "tests.test_failover"], env=env, cwd=ROOT, capture_output=True,
                               text=True, timeout=90)
        assert child.returncode == 0, child.stdout + child.stderr
        observed = json.loads(child.stdout.strip().splitlines()[-1])
        # What the promoted server holds, read apart from the child.
        with psycopg.connect(f"host=127.0.0.1 port={standby.port} user=postgres dbname=yiwang") as conn:
            observed["on_promoted"] = [row[0] for row in conn.execute("SELECT id FROM cases_case")]
            observed["promoted_in_recovery"] = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        return observed
    finally:
        standby.stop()
        primary.stop()


@pytest.mark.django_db  # pytest-django creates (and migrates) the test database only for tests that mark it
def test_every_acknowledged_case_is_on_the_promoted_standby_and_yiwang_reaches_it():
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("PostgreSQL only: the primary is loaded from the run's migrated test database "
                    "(run with YIWANG_DATABASE_URL=postgres://…)")
    require_server("the failover test")
    root = scratch_root("yiwang-failover-")
    try:
        dump = root / "schema.sql"
        _dump_test_database(dump)
        observed = _observe(dump, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    acknowledged = observed["acknowledged"]
    assert len(acknowledged) == ACKNOWLEDGED
    assert observed["before"] == {"port": observed["ports"]["primary"], "in_recovery": False}
    # With nothing accepting writes, the application is a 503 to retry, not a 500.
    assert observed["while_down"]["status"] == 503, observed["while_down"]
    assert observed["while_down"]["retry_after"]
    # After promotion the next request reconnects through the URL's second host and is acknowledged.
    assert observed["after"]["status"] == 201, observed["after"]
    assert observed["after"]["server"] == {"port": observed["ports"]["standby"], "in_recovery": False}
    assert observed["promoted_in_recovery"] is False
    # Nothing acknowledged was lost, and the one answered after the failover is there too.
    from yiwang.cases.models import Case

    def case_id(number: str) -> int:
        return Case.parse_number(number)[1]

    lost = {number for number in acknowledged if case_id(number) not in observed["on_promoted"]}
    assert not lost, f"acknowledged but not on the promoted server: {sorted(lost)}"
    assert case_id(observed["after"]["number"]) in observed["on_promoted"]


# ------------------------------------------------------------------------------------------------
# The child: Django on the multi-host URL (run as `python -m tests.test_failover`).
# ------------------------------------------------------------------------------------------------


def scenario() -> dict:
    import django

    django.setup()
    from wsgiref.util import setup_testing_defaults

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import override_settings

    from yiwang.org.services import token_create
    from yiwang.testing import build_world

    clusters = json.loads(os.environ["YIWANG_TEST_CLUSTERS"])
    root = Path(clusters["root"])
    primary = Cluster(root, "primary", clusters["primary"])
    standby = Cluster(root, "standby", clusters["standby"])

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        build_world()  # its users without PBKDF2's million rounds each (as conftest.py does)
    token = token_create(username="clerk_xfl")
    connection.close()
    # Requests go through Django's WSGI handler as a server calls it: the per-request health check
    # and the closing of a broken connection are what is tested (the test client keeps connections).
    handler = WSGIHandler()
    body = json.dumps(APPLICATION, ensure_ascii=False).encode()

    def apply() -> dict:
        import io

        environ: dict = {"PATH_INFO": "/api/v1/cases", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json",
                         "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
                         "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "application/json"}
        setup_testing_defaults(environ)
        start: list = []
        response = handler(environ, lambda line, headers, exc_info=None: start.append((line, dict(headers))))
        try:
            text = b"".join(response).decode()
        finally:
            response.close()  # request_finished: a connection that failed is closed here
        status = int(start[0][0].split()[0])
        answer = {"status": status, "retry_after": start[0][1].get("Retry-After")}
        if status == 201:
            answer["number"] = json.loads(text)["number"]
        return answer

    def server() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SELECT inet_server_port(), pg_is_in_recovery()")
            port, in_recovery = cursor.fetchone()
        return {"port": port, "in_recovery": in_recovery}

    acknowledged = []
    for _ in range(ACKNOWLEDGED):
        answer = apply()
        assert answer["status"] == 201, answer
        acknowledged.append(answer["number"])
    out: dict = {"acknowledged": acknowledged, "before": server(), "ports": clusters}
    primary.kill()  # the whole tree at once, with this process's connections open on it
    out["while_down"] = apply()
    standby.promote()
    out["after"] = apply()
    out["after"]["server"] = server()
    return out


if __name__ == "__main__":
    print(json.dumps(scenario()))
