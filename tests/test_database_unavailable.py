"""A database that cannot answer now — a dropped PostgreSQL connection, a server that is down, SQLite's
write lock held past the timeout — is a 503 with Retry-After (core.middleware.ErrorResponseMiddleware):
the API's JSON error (code "unavailable"), Open311's list of errors, a short page. Never an HTML 500,
and its transaction was rolled back, so the client may send it again.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import time

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.test import Client

from yiwang.cases.models import Case
from yiwang.core import db
from yiwang.core.backends.sqlite.base import lock_path
from yiwang.core.errors import Unavailable
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK

ON_POSTGRESQL = pytest.mark.skipif("connection.vendor != 'postgresql'")
ON_SQLITE = pytest.mark.skipif("connection.vendor != 'sqlite'")
CASE = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
        "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK}


def django_error(cause: Exception, kind: type = OperationalError) -> Exception:
    """The error as Django raises it: its own class, the driver's error as the cause."""
    error = kind(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(("error", "expected"), [
    (django_error(sqlite3.OperationalError("database is locked")), True),
    (django_error(sqlite3.OperationalError("unable to open database file")), True),
    (django_error(sqlite3.OperationalError("no such table: cases_case")), False),
    (django_error(psycopg.OperationalError("connection failed: Connection refused")), True),
    (django_error(psycopg.errors.AdminShutdown("terminating connection due to administrator command")), True),
    (django_error(psycopg.errors.TooManyConnections("sorry, too many clients already")), True),
    (django_error(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")), False),
    (django_error(psycopg.InterfaceError("the connection is closed"), kind=InterfaceError), True),
    (ValueError("database is locked"), False),
], ids=["sqlite locked", "sqlite cannot open", "sqlite no such table", "pg refused", "pg terminated",
        "pg too many clients", "pg statement timeout", "pg closed", "not a database error"])
def test_unavailable_tells_a_database_that_cannot_answer_from_a_wrong_query(error, expected):
    assert db.unavailable(error) is expected


def assert_unavailable_json(response):
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == str(Unavailable.retry_after)
    body = response.json()
    assert body["code"] == "unavailable" and body["detail"]


def assert_unavailable_page(response):
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == str(Unavailable.retry_after)
    assert "请稍后重试" in response.content.decode()


@pytest.fixture
def clients(world):
    """A token for the API, a logged-in browser for pages; the test client lets a 500 through as a 500."""
    token = token_create(username="clerk_xfl")
    browser = Client(raise_request_exception=False)
    browser.force_login(world.users["clerk_xfl"])
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")
    return api, browser


def test_a_lost_database_answers_503_json_with_retry_after(clients, monkeypatch):
    """Wherever the error is raised (here: the first query of the handler's selector), on SQLite too."""
    api, browser = clients

    def lost(*args, **kwargs):
        raise django_error(sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr("yiwang.cases.selectors.case_list", lost)
    monkeypatch.setattr("yiwang.web.workbench.paginate", lost)
    assert_unavailable_json(api.get("/api/v1/cases"))
    assert_unavailable_page(browser.get("/work/"))


def test_a_wrong_query_is_still_a_500(clients, monkeypatch):
    api, _browser = clients

    def wrong(*args, **kwargs):
        raise django_error(sqlite3.OperationalError("no such column: cases_case.nothing"))

    monkeypatch.setattr("yiwang.cases.selectors.case_list", wrong)
    answer = api.get("/api/v1/cases")
    assert answer.status_code == 500  # a bug is not "try again later": no 503, no Retry-After
    assert not answer.has_header("Retry-After") and b"no such column" not in answer.content


@ON_SQLITE
@pytest.mark.django_db(transaction=True)
def test_sqlite_s_write_lock_held_past_the_timeout_is_a_503_and_writes_nothing(clients, monkeypatch):
    """Another process holds the writer lock (core.backends.sqlite) longer than ``timeout``: "database is
    locked", raised by the handler's transaction — or, with an Idempotency-Key, by the one around it."""
    api, _browser = clients
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.1)
    holder = os.open(lock_path(connection.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert_unavailable_json(api.post("/api/v1/cases", CASE, content_type="application/json"))
        assert_unavailable_json(api.post("/api/v1/cases", CASE, content_type="application/json",
                                         HTTP_IDEMPOTENCY_KEY="k-locked"))
    finally:
        os.close(holder)
    assert not Case.objects.exists()
    assert api.post("/api/v1/cases", CASE, content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="k-locked").status_code == 201  # the retry goes through


def terminate_backend(pid: int) -> None:
    """pg_terminate_backend from a second connection, as an administrator or a failover would."""
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                         password=settings["PASSWORD"], dbname=settings["NAME"], autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _try in range(100):
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.02)


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_a_dropped_postgresql_connection_is_a_503_json_with_retry_after(clients):
    api, browser = clients
    assert api.get("/api/v1/cases").status_code == 200
    terminate_backend(connection.connection.info.backend_pid)
    assert_unavailable_json(api.get("/api/v1/cases"))
    assert_unavailable_json(api.post("/api/v1/cases", CASE, content_type="application/json",
                                     HTTP_IDEMPOTENCY_KEY="k-dropped"))
    assert_unavailable_page(browser.get("/work/"))
    response = Client(raise_request_exception=False).get("/open311/v2/services.json")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()[0]["code"] == 503
    # After the request, Django closes a connection that saw an error (close_old_connections on
    # request_finished, which the test client leaves out); the next request connects afresh.
    close_old_connections()
    assert api.post("/api/v1/cases", CASE, content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="k-dropped").status_code == 201


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_server_that_does_not_answer_is_a_503(clients, monkeypatch):
    api, _browser = clients
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(port))
    assert_unavailable_json(api.get("/api/v1/cases"))
    monkeypatch.undo()
    connection.close()


# --- a bug, to a program: the documented JSON error, not Django's HTML page ------------------------


def test_a_bug_answers_an_api_client_json_500_without_a_traceback(world, monkeypatch, caplog):
    from yiwang.cases import selectors

    def broken(**kwargs):
        raise RuntimeError("secret internals: /srv/yiwang/settings.py")

    monkeypatch.setattr(selectors, "case_list", broken)
    client = Client(raise_request_exception=False)
    token = token_create(username="clerk_xfl")
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 500 and response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "internal_error" and "secret internals" not in response.content.decode()
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_is_a_503_before_the_view_too_when_staff_need_a_second_factor(clients, settings):
    """The second-factor middleware reads the session and the staff record before any view runs: a
    database that cannot answer there is the same 503, and the next test's connection is not left broken."""
    settings.YIWANG_STAFF_2FA = "required"
    _api, browser = clients
    terminate_backend(connection.connection.info.backend_pid)
    assert_unavailable_page(browser.get("/work/"))
    close_old_connections()
    assert browser.get("/work/").status_code in (200, 302)


# --- outside any view: a middleware's query (core.middleware.server_error, Django's handler500) ----


class QueriesBeforeTheView:
    """A middleware that reads the database before any view runs, as the session's and OTP's do:
    ``FAILURE`` is what that read raises."""

    FAILURE: Exception | None = None

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if QueriesBeforeTheView.FAILURE is not None:
            raise QueriesBeforeTheView.FAILURE
        return self.get_response(request)


@pytest.fixture
def failing_middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:5], f"{__name__}.QueriesBeforeTheView", *settings.MIDDLEWARE[5:]]

    def fail_with(error: Exception) -> None:
        QueriesBeforeTheView.FAILURE = error

    yield fail_with
    QueriesBeforeTheView.FAILURE = None


def test_a_lost_database_in_a_middleware_is_the_same_503_as_in_a_view(clients, failing_middleware):
    api, browser = clients
    failing_middleware(django_error(sqlite3.OperationalError("database is locked")))
    assert_unavailable_json(api.get("/api/v1/cases"))
    assert_unavailable_page(browser.get("/work/"))
    response = Client(raise_request_exception=False).get("/open311/v2/services.json")
    assert response.status_code == 503 and response["Retry-After"] == str(Unavailable.retry_after)
    assert response.json()[0]["code"] == 503


def test_a_bug_in_a_middleware_is_a_500_json_to_a_program_and_the_500_page_to_a_person(clients, failing_middleware):
    api, browser = clients
    failing_middleware(RuntimeError("secret internals: /srv/yiwang/settings.py"))
    answer = api.get("/api/v1/cases")
    assert answer.status_code == 500 and answer["Content-Type"].startswith("application/json")
    assert answer.json()["code"] == "internal_error" and not answer.has_header("Retry-After")
    page = browser.get("/work/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    assert "secret internals" not in page.content.decode() and not page.has_header("Retry-After")
    # A wrong query is a bug there too: no "try again later".
    failing_middleware(django_error(sqlite3.OperationalError("no such table: django_session")))
    assert browser.get("/work/").status_code == 500
