"""Observing yiwang (docs/operations.md): /healthz, /readyz, /metrics and the JSON log lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re

import pytest
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from yiwang.cases.models import Case
from yiwang.core import clock, health
from yiwang.core.logging import JsonFormatter, PersonalDataFilter
from yiwang.messages.models import Message
from yiwang.messages.services import enqueue
from yiwang.testing import SENIOR_OK

ID_NUMBER = "11010119900307663X"
CASE = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
        "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK}


@pytest.fixture(autouse=True)
def _fresh_migrations_check():
    health.forget_migrations_check()
    yield
    health.forget_migrations_check()


@pytest.fixture
def ready(db):
    """A database with every migration applied, a worker that just beat and an empty outbox."""
    health.beat()


@pytest.fixture
def log_lines():
    """Every line the root logger writes during the test, as the JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [line for line in stream.getvalue().splitlines() if line]
    root.removeHandler(handler)


# --- /healthz --------------------------------------------------------------------------------------

def test_healthz_answers_without_touching_the_database():
    # No db fixture: pytest-django fails any query, as a lost database would.
    answer = Client().get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}
    assert "Set-Cookie" not in answer.headers


def test_healthz_only_answers_get():
    assert Client().post("/healthz").status_code == 405


# --- /readyz ---------------------------------------------------------------------------------------

def test_readyz_is_200_when_every_check_passes(client, ready):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations", "worker", "outbox"}


def test_readyz_names_a_lost_database(client, ready, monkeypatch):
    def lost(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", lost)
        patch.setattr(health, "close_old_connections", lambda: None)  # the test database must survive
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["database"]


def test_readyz_names_an_unapplied_migration(client, ready):
    MigrationRecorder.Migration.objects.filter(app="messaging").order_by("-id").first().delete()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["migrations"] and answer.json()["checks"]["migrations"]["pending"] == 1


def test_readyz_caches_the_migrations_check_for_a_few_seconds(client, ready, django_assert_max_num_queries):
    client.get("/readyz")
    with django_assert_max_num_queries(3):  # SELECT 1, the heartbeat, the outbox: not django_migrations
        assert client.get("/readyz").status_code == 200


def test_readyz_names_a_stale_worker_heartbeat(client, ready, settings):
    health.beat(clock.now() - dt.timedelta(seconds=settings.YIWANG_READY_HEARTBEAT_SECONDS + 5))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["worker"]
    assert answer.json()["checks"]["worker"]["heartbeat_age_seconds"] > settings.YIWANG_READY_HEARTBEAT_SECONDS


def test_readyz_names_a_worker_that_never_ran(client, db):
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["failed"] == ["worker"]
    assert answer.json()["checks"]["worker"]["heartbeat_age_seconds"] is None


def queue_sms(n: int, *, due_minutes_ago: float) -> None:
    for i in range(n):
        enqueue(channel="sms", to="13800000001", text=f"您的办件已受理 {ID_NUMBER}", dedupe_key=f"test:{i}:sms")
    Message.objects.update(next_attempt_at=clock.now() - dt.timedelta(minutes=due_minutes_ago))


def test_readyz_names_an_outbox_backlog_too_old(client, ready, settings):
    settings.YIWANG_READY_OUTBOX_AGE_SECONDS = 60
    queue_sms(1, due_minutes_ago=5)
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["failed"] == ["outbox"]
    outbox = answer.json()["checks"]["outbox"]
    assert outbox["due"] == 1 and outbox["oldest_age_seconds"] >= 300
    assert ID_NUMBER not in answer.content.decode() and "138" not in answer.content.decode()


def test_readyz_names_an_outbox_backlog_too_long(client, ready, settings):
    settings.YIWANG_READY_OUTBOX_MAX = 2
    queue_sms(3, due_minutes_ago=0)
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["failed"] == ["outbox"]


# --- /metrics --------------------------------------------------------------------------------------

def test_metrics_are_refused_without_the_token(client, db, settings):
    settings.YIWANG_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-secret").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_without_a_token_only_a_direct_loopback_caller_reads_metrics(client, db, settings):
    settings.YIWANG_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403
    # through a proxy on the same host: REMOTE_ADDR is the proxy's loopback, the caller anyone
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 403


def test_a_resident_s_api_token_does_not_open_metrics(api, settings):
    settings.YIWANG_METRICS_TOKEN = "scrape-secret"
    assert api("get", "/../../metrics", "clerk_xfl").status_code in (403, 404)


def scrape(client, settings) -> str:
    settings.YIWANG_METRICS_TOKEN = "scrape-secret"
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    return answer.content.decode()


def test_metrics_name_cases_outbox_worker_and_latency_by_route(client, api, settings):
    assert api("post", "/cases", "clerk_xfl", CASE).status_code == 201
    number = Case.objects.get().number
    assert api("get", f"/cases/{number}", "clerk_xfl").status_code == 200
    client.get("/healthz")
    health.beat(clock.now() - dt.timedelta(seconds=30))
    text = scrape(client, settings)
    for name in ("yiwang_cases_opened_total", "yiwang_cases_closed", "yiwang_cases_open", "yiwang_cases_overdue",
                 "yiwang_outbox_due_messages", "yiwang_outbox_oldest_due_age_seconds",
                 "yiwang_worker_heartbeat_age_seconds", "yiwang_migrations_pending",
                 "yiwang_http_request_duration_seconds_bucket"):
        assert f"\n{name}" in text, name
    assert 'yiwang_cases_opened_total{kind="application"} 1.0' in text
    assert 'yiwang_cases_open{kind="application"} 1.0' in text
    assert re.search(r'yiwang_http_request_duration_seconds_count\{method="GET",route="healthz",status="2xx"\} \d', text)
    assert re.search(r'yiwang_http_request_duration_seconds_count\{method="GET",route="api/v1/cases/<number>",', text)
    assert number not in text  # the route's name, never the path
    age = float(re.search(r"\nyiwang_worker_heartbeat_age_seconds (\S+)", text).group(1))
    assert 29 <= age < 60


def test_a_path_that_matches_no_route_is_one_label(client, db, settings):
    client.get(f"/no-such-page/{ID_NUMBER}")
    text = scrape(client, settings)
    assert 'route="unmatched"' in text and ID_NUMBER not in text


# --- logs ------------------------------------------------------------------------------------------

def test_a_request_s_log_lines_are_json_with_its_request_id(client, db, log_lines):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID="lb-0123456789abcdef")
    assert answer["X-Request-ID"] == "lb-0123456789abcdef"
    line = json.loads(log_lines()[-1])
    assert line["request_id"] == "lb-0123456789abcdef" and line["route"] == "healthz"
    assert line["status"] == 200 and line["level"] == "INFO" and line["logger"] == "yiwang.request"
    assert isinstance(line["duration_ms"], float) and "time" in line and "user_id" not in line


@pytest.mark.parametrize("offered", ["short", "x" * 200, "bad id\nforged: line", "<script>1</script>"])
def test_a_malformed_request_id_is_replaced(client, db, offered):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID=offered)
    assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-ID"])


def test_an_error_s_log_line_carries_the_request_id_the_user_id_and_no_id_number(api, world, log_lines,
                                                                                   monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError(f"查询失败 {ID_NUMBER} 13912345678 =1+1")

    monkeypatch.setattr("yiwang.cases.selectors.case_list", broken)
    from django.test import Client as Raw

    from yiwang.org.services import token_create

    token = token_create(username="clerk_xfl")
    answer = Raw(raise_request_exception=False).get(f"/api/v1/cases?q={ID_NUMBER}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 500
    lines = [json.loads(line) for line in log_lines()]
    assert all(line["request_id"] == answer["X-Request-ID"] for line in lines)
    error = next(line for line in lines if line["level"] == "ERROR")
    assert "ValueError" in error["exception"] and error["route"] == "api/v1/cases"
    access = next(line for line in lines if line["logger"] == "yiwang.request")
    assert access["status"] == 500 and access["level"] == "WARNING" and access["user_id"] == world.users["clerk_xfl"].pk
    written = "\n".join(log_lines())
    assert ID_NUMBER not in written and "13912345678" not in written and "王" not in written


def test_plain_logs_stay_available(settings):
    from yiwang import settings as project

    assert project.LOGGING["formatters"]["plain"]["format"]
    assert project.YIWANG_LOG_FORMAT in ("json", "plain")


def test_a_signed_in_page_s_access_line_carries_the_user_id_only(client, world, log_lines):
    clerk = world.users["clerk_xfl"]
    client.force_login(clerk)
    assert client.get("/work/").status_code == 200
    access = [json.loads(line) for line in log_lines() if '"yiwang.request"' in line][-1]
    assert access["user_id"] == clerk.pk and access["route"] == "web:queue"
    assert clerk.username not in "\n".join(log_lines())


def test_a_worker_job_s_lines_carry_its_job_id(db, log_lines):
    from types import SimpleNamespace

    from django_tasks_db.compat import task_finished, task_started

    from yiwang.core.logging import bind_job_ids, log_context

    bind_job_ids()
    from yiwang.cases.tasks import sweep_deadlines_task

    result = SimpleNamespace(id="0b7c6d0e-job", task=sweep_deadlines_task, status="RUNNING", backend="default")
    try:
        task_started.send(sender=None, task_result=result)
        logging.getLogger("yiwang.cases").warning("swept")
        task_finished.send(sender=None, task_result=result)
        logging.getLogger("yiwang.cases").warning("idle")
    finally:
        log_context.set(None)
    swept, idle = (json.loads(line) for line in log_lines()[-2:])
    assert swept["job_id"] == "0b7c6d0e-job" and swept["task"] == sweep_deadlines_task.name
    assert "job_id" not in idle


def test_granian_s_workers_latencies_are_summed_in_one_scrape(tmp_path):
    """yiwang serve's multiprocess mode (core/metrics.py): two worker processes observe, a third answers."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    observe = ("from yiwang.core.metrics import observe_request\n"
               "for _ in range(3): observe_request(route='healthz', method='GET', status=200, seconds=0.002)")
    for _worker in range(2):
        subprocess.run([sys.executable, "-c", observe], env=env, check=True, timeout=60)
    scrape = "from yiwang.core.metrics import exposition; import sys; sys.stdout.write(exposition().decode())"
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=60, capture_output=True,
                          text=True).stdout
    assert 'yiwang_http_request_duration_seconds_count{method="GET",route="healthz",status="2xx"} 6.0' in text
