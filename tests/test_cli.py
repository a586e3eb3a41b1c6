"""The `yiwang` CLI: cases end to end, tokens, stats, verify — and clear errors with non-zero exits."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from yiwang.cases.models import Case


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_an_application_runs_from_the_cli(world):
    out = run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
              "--form", '{"birth_date": "1950-01-01"}', "--materials", "id_card,photo", "--applicant-name", "王大爷")
    number = out.split()[0]
    assert "幸福里社区便民服务站" in out
    run("case", "act", number, "accept", "--as", "clerk_xfl")
    run("case", "act", number, "decide", "--as", "handler_xfl", "--decision", "approved")
    assert "closed" in run("case", "act", number, "close", "--as", "handler_xfl",
                           "--delivery", '{"method": "post", "tracking": "SF1234567890"}')
    shown = run("case", "show", number, "--as", "clerk_xfl")
    assert "受理" in shown and "办结" in shown
    assert number in run("case", "list", "--as", "clerk_xfl")


def test_a_cli_refusal_is_a_message_and_nothing_written(world):
    with pytest.raises(CommandError, match="birth_date"):
        run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
            "--materials", "id_card,photo")
    assert Case.objects.count() == 0


def test_the_cli_refuses_bad_json(world):
    with pytest.raises(CommandError, match="not valid JSON"):
        run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--form", "{oops")


def test_the_cli_refuses_an_unknown_user(world):
    with pytest.raises(CommandError, match="no active user"):
        run("case", "list", "--as", "nobody")


def test_a_token_is_printed_and_works(world, client):
    token = run("token", "create", "clerk_xfl").strip()
    assert token.startswith("yw_")
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["username"] == "clerk_xfl"


def test_a_token_for_an_unknown_user_is_refused(world):
    with pytest.raises(CommandError):
        run("token", "create", "ghost")


def test_stats_prints_json(world):
    run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
        "--form", '{"birth_date": "1950-01-01"}', "--materials", "id_card,photo")
    data = json.loads(run("stats", "--json"))
    assert data["cases"] == 1 and data["by_state"] == {"submitted": 1}
    assert "按时办结率" in run("stats")


def test_stats_refuses_an_unknown_region(world):
    with pytest.raises(CommandError):
        run("stats", "--region", "NOWHERE")


def test_verify_passes_on_an_intact_database(world):
    run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
        "--form", '{"birth_date": "1950-01-01"}', "--materials", "id_card,photo")
    assert "intact" in run("verify")


def test_the_worker_sweep_marks_overdue_cases(world):
    import datetime as dt

    from django.utils import timezone

    from yiwang.core import clock

    with clock.frozen_at(timezone.make_aware(dt.datetime(2019, 9, 27, 10))):
        out = run("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
                  "--form", '{"birth_date": "1950-01-01"}', "--materials", "id_card,photo")
        number = out.split()[0]
        run("case", "act", number, "accept", "--as", "clerk_xfl")
    with clock.frozen_at(timezone.make_aware(dt.datetime(2019, 10, 11, 9))):
        assert "1 marked overdue" in run("worker", "--once")
        assert "0 marked overdue" in run("worker", "--once")
    case = Case.objects.get()
    assert case.warning_level == 2
    assert case.events.filter(action="mark_overdue").count() == 1


def test_the_console_script_counts_working_days(tmp_path):
    env = {**os.environ, "YIWANG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    bindir = Path(sys.executable).parent
    subprocess.run([bindir / "yiwang", "migrate", "-v", "0"], env=env, check=True)
    done = subprocess.run([bindir / "yiwang", "calendar", "add-workdays", "2019-09-27", "5"], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout == "2019-10-10\n"
    bad = subprocess.run([bindir / "yiwang", "calendar", "add-workdays", "yesterday", "5"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "not a date" in bad.stderr


def test_verify_rollups_only(world):
    assert "every tally equals" in run("verify", "--rollups-only")
