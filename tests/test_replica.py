"""Reads that may be stale come from a real streaming replica, and from the primary once it stops.

PostgreSQL only. A primary and a hot standby (pg_basebackup -R) run from a temp dir on free loopback
ports, as the ``postgres`` OS user. yiwang is migrated on the primary. Then a child process, Django
with YIWANG_DATABASE_URL and YIWANG_REPLICA_URL, plays `scenario()` (this file run as a module):
it creates cases, waits for the standby to replay them, pauses replay (pg_wal_replay_pause), creates
one more case and looks at it through stale and fresh reads, resumes replay, stops the standby and
asks for the dashboard again. The test checks what it saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pg_cluster import Cluster, free_port, require_server, scratch_root

ROOT = Path(__file__).resolve().parent.parent
YIWANG = Path(sys.executable).with_name("yiwang")
RETRY_SECONDS = "1"  # YIWANG_REPLICA_RETRY_SECONDS in the child: keeps the stopped-replica step short


def _observe() -> dict:
    """Start a primary and its replica, run the child against them; what it saw. Always cleans up."""
    import psycopg

    root = scratch_root("yiwang-replica-")
    primary = Cluster(root, "primary", free_port())
    standby = Cluster(root, "standby", free_port())
    try:
        primary.initdb(wal_level="replica", max_wal_senders=4, max_connections=30, shared_buffers="32MB",
                       fsync="off")
        with (primary.dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        with psycopg.connect(f"host=127.0.0.1 port={primary.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE yiwang")
        standby.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                    "-D", str(standby.dir), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        standby.configure(port=standby.port)
        standby.start()

        # The child reads staff pages with a session and no authenticator (as conftest, 2FA off).
        env = {**os.environ, "YIWANG_DATABASE_URL": primary.url(), "YIWANG_VAR_DIR": str(root / "var"),
               "DJANGO_SETTINGS_MODULE": "yiwang.settings", "YIWANG_STAFF_2FA": "off"}
        env.pop("YIWANG_REPLICA_URL", None)
        migrated = subprocess.run([str(YIWANG), "migrate", "--noinput", "--skip-checks"], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr

        env.update(YIWANG_REPLICA_URL=standby.url(), YIWANG_REPLICA_RETRY_SECONDS=RETRY_SECONDS,
                   YIWANG_TEST_STOP_REPLICA=json.dumps(standby.stop_argv()))
        # As a module from ROOT (not as a path), so that its `from tests.pg_cluster import` resolves.
        child = subprocess.run([sys.executable, "-m", "tests.test_replica"], env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=120)
        assert child.returncode == 0, child.stdout + child.stderr
        return {**json.loads(child.stdout.strip().splitlines()[-1]), "stderr": child.stderr}
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_stale_reads_come_from_the_replica_and_from_the_primary_once_it_stops():
    # One test, not one per step: under pytest-xdist each would start its own pair of servers.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("PostgreSQL only: run with YIWANG_DATABASE_URL=postgres://… to start a primary and a replica")
    require_server("the replica test")
    observed = _observe()

    # Caught up: the figures come from the replica and agree with the primary.
    caught_up = observed["caught_up"]
    assert caught_up["stale_ok"] == "replica"
    assert (caught_up["dashboard_cases"], caught_up["primary_cases"]) == (3, 3)
    assert caught_up["open311_requests"] == 3

    # Replay paused, one more case on the primary: the dashboard, the list behind its figures and the
    # public Open311 list do not show it yet...
    paused = observed["paused"]
    assert paused["stale_ok"] == "replica"
    assert paused["replica_has_it"] is False
    assert paused["dashboard_cases"] == 3
    assert paused["dashboard_list_shows_it"] is False
    assert paused["open311_list_shows_it"] is False
    # ...while the case page and a lookup by number read the primary and do,
    assert paused["primary_cases"] == 4
    assert paused["case_page"] == [200, True]
    assert paused["open311_request_by_number"] == 200
    # and reads inside a transaction stay on the primary.
    assert paused["in_transaction"] == {"stale_ok": "default", "dashboard_cases": 4}

    # Replay resumed: the case appears everywhere.
    assert observed["resumed"] == {"dashboard_cases": 4, "dashboard_list_shows_it": True,
                                   "open311_list_shows_it": True}

    # Replica stopped under the live process: the dashboard answers, from the primary, without waiting
    # for a timeout; after the retry interval the replica is tried again and the primary still answers.
    stopped = observed["stopped"]
    assert stopped["dashboard"] == 200
    assert stopped["dashboard_seconds"] < 5
    assert stopped["stale_ok"] == "default"
    assert stopped["dashboard_cases"] == 4
    assert "not answering" in observed["stderr"]
    assert stopped["after_retry"] == {"stale_ok": "default", "open311_requests": 4}


# ------------------------------------------------------------------------------------------------
# The child: Django against the primary and the replica (run as `python -m tests.test_replica`).
# ------------------------------------------------------------------------------------------------


def scenario() -> dict:
    import django

    django.setup()
    from wsgiref.util import setup_testing_defaults

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connections, transaction
    from django.test import Client
    from django.test.utils import override_settings

    from yiwang.cases.models import Case
    from yiwang.cases.services import case_create
    from yiwang.core.db import stale_ok
    from yiwang.stats import selectors as stats
    from yiwang.testing import build_world

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        world = build_world()  # its users without PBKDF2's million rounds each (as conftest.py does)
    leader = world.viewer("leader_kg")
    # Pages go through Django's WSGI handler as a server calls it. The test client would not do: it
    # keeps connections across requests, so Django's per-request health check never runs again.
    handler = WSGIHandler()

    def session_of(username: str) -> str:
        client = Client()
        client.force_login(world.users[username])
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    def get(path: str, session: str = "", query: str = "") -> tuple[int, str]:
        environ: dict = {"PATH_INFO": path, "QUERY_STRING": query}
        setup_testing_defaults(environ)
        if session:
            environ["HTTP_COOKIE"] = f"{settings.SESSION_COOKIE_NAME}={session}"
        status: list[str] = []
        response = handler(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            body = b"".join(response).decode()
        finally:
            response.close()  # request_finished, as a server sends it
        return int(status[0].split()[0]), body

    leader_session, operator_session = session_of("leader_kg"), session_of("operator_kg")

    def report(description: str) -> Case:
        # 幸福里第一网格: routed to 空港新城's command centre, inside the leader's city.
        return case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", description=description,
                           lat=34.405, lng=108.705, channel="online").case

    def sql(alias: str, query: str, params: tuple = ()):
        with connections[alias].cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchone()[0]

    def wait_for(alias: str, query: str, params: tuple = (), timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not sql(alias, query, params):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{alias}: {query} still false after {timeout} s")
            time.sleep(0.05)

    def replayed() -> None:
        # The insert position: with asynchronous commit the write position can stop short of a commit.
        lsn = sql("default", "SELECT pg_current_wal_insert_lsn()::text")
        wait_for("replica", "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))

    def dashboard_cases() -> int:
        return stats.region_breakdown(viewer=leader, region_code=None)["total"]["cases"]

    def open311_numbers() -> list[str]:
        status, body = get("/open311/v2/requests.json")
        assert status == 200, body
        return [r["service_request_id"] for r in json.loads(body)]

    def dashboard_list_shows(case: Case) -> bool:
        status, body = get("/dashboard/cases/", leader_session, "region=KG")
        assert status == 200, body
        return case.number in body

    out: dict = {}
    for n in range(3):
        report(f"车堵门 {n}")
    replayed()
    out["caught_up"] = {"stale_ok": stale_ok(), "dashboard_cases": dashboard_cases(),
                        "primary_cases": Case.objects.count(), "open311_requests": len(open311_numbers())}

    sql("replica", "SELECT pg_wal_replay_pause()::text")
    wait_for("replica", "SELECT pg_get_wal_replay_pause_state() = 'paused'")
    new = report("新的乱停车")
    page_status, page = get(f"/work/cases/{new.number}/", operator_session)
    with transaction.atomic():
        in_transaction = {"stale_ok": stale_ok(), "dashboard_cases": dashboard_cases()}
    out["paused"] = {
        "stale_ok": stale_ok(), "dashboard_cases": dashboard_cases(), "primary_cases": Case.objects.count(),
        "dashboard_list_shows_it": dashboard_list_shows(new), "open311_list_shows_it": new.number in open311_numbers(),
        "replica_has_it": Case.objects.using("replica").filter(pk=new.pk).exists(),
        "case_page": [page_status, new.number in page],
        "open311_request_by_number": get(f"/open311/v2/requests/{new.number}.json")[0],
        "in_transaction": in_transaction,
    }

    sql("replica", "SELECT pg_wal_replay_resume()::text")
    replayed()
    out["resumed"] = {"dashboard_cases": dashboard_cases(), "dashboard_list_shows_it": dashboard_list_shows(new),
                      "open311_list_shows_it": new.number in open311_numbers()}

    # The replica dies under a live process whose connection to it is open.
    subprocess.run(json.loads(os.environ["YIWANG_TEST_STOP_REPLICA"]), check=True, capture_output=True, timeout=30)
    started = time.monotonic()
    status, _body = get("/dashboard/", leader_session)  # a new request: Django's health check finds it dead
    out["stopped"] = {"dashboard": status, "dashboard_seconds": round(time.monotonic() - started, 2),
                      "stale_ok": stale_ok(), "dashboard_cases": dashboard_cases()}
    time.sleep(float(os.environ["YIWANG_REPLICA_RETRY_SECONDS"]) + 0.2)
    # After the retry interval the replica is tried again, still refuses, and the primary answers.
    out["stopped"]["after_retry"] = {"stale_ok": stale_ok(), "open311_requests": len(open311_numbers())}
    return out


if __name__ == "__main__":
    print(json.dumps(scenario()))
