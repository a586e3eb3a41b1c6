"""No log line and no error e-mail carries a full ID number or mobile number."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from yiwang.core.logging import PersonalDataFilter

ID_NUMBER = "61040219500101123X"
MOBILE = "13800000001"


def _loggers():
    names = ["yiwang", "yiwang.sweep", "django", "django.request", "django.server", "_granian", "granian.access"]
    return [logging.getLogger()] + [logging.getLogger(n) for n in names]


def test_every_configured_handler_masks():
    assert all("personal_data" in h.get("filters", []) for h in settings.LOGGING["handlers"].values())
    handlers = {h for logger in _loggers() for h in logger.handlers if type(h).__module__ != "_pytest.logging"}
    assert handlers and all(any(isinstance(f, PersonalDataFilter) for f in h.filters) for h in handlers)


def test_a_record_is_masked_in_its_message_arguments_and_traceback(caplog):
    log = logging.getLogger("yiwang.test")
    with caplog.at_level(logging.INFO, logger="yiwang.test"):
        log.info("form %s from %s", {"id_number": ID_NUMBER, "phone": MOBILE}, MOBILE)
        try:
            raise ValueError(f"duplicate key (id_number)=({ID_NUMBER})")
        except ValueError:
            log.exception("import failed for %s", ID_NUMBER)
    assert "6104************3X" in caplog.text and "138****0001" in caplog.text
    assert ID_NUMBER not in caplog.text and MOBILE not in caplog.text


def test_the_filter_keeps_other_arguments_as_they_were():
    record = logging.LogRecord("yiwang", logging.INFO, __file__, 1, "%d cases, %r", (3, ["a"]), None)
    PersonalDataFilter().filter(record)
    assert record.getMessage() == "3 cases, ['a']"


@pytest.fixture
def failing_reveal(monkeypatch):
    def boom(**kwargs):
        raise RuntimeError(f"lookup failed for {ID_NUMBER}")

    monkeypatch.setattr("yiwang.web.workbench.case_services.case_reveal_id", boom)


def test_a_500_logs_and_mails_no_id_number(world, caplog, settings, failing_reveal):
    from yiwang.cases.services import case_create
    from yiwang.testing import SENIOR_OK

    settings.ADMINS = [("ops", "ops@example.com")]
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    client = Client(raise_request_exception=False)
    client.force_login(world.users["clerk_xfl"])
    response = client.post(f"/work/cases/{case.number}/reveal-id/",
                           {"field": "applicant", "reason": f"核对 {ID_NUMBER}", "note": f"{ID_NUMBER} {MOBILE}"})
    assert response.status_code == 500
    assert "Internal Server Error" in caplog.text and ID_NUMBER not in caplog.text
    (message,) = mail.outbox
    assert "lookup failed for 6104************3X" in message.body
    assert ID_NUMBER not in message.body and ID_NUMBER not in message.subject and MOBILE not in message.body


def test_the_yiwang_command_writes_masked_log_lines():
    """A real process configured by settings.LOGGING (as `yiwang serve`'s granian workers are)."""
    code = ("import logging; logging.getLogger('yiwang.intake').error('bad form %s', "
            f"{{'id_number': '{ID_NUMBER}', 'phone': '{MOBILE}'}}); "
            f"logging.getLogger('granian.access').warning('POST /api/v1/cases?id={ID_NUMBER} 422')")
    yiwang = Path(sys.executable).with_name("yiwang")
    for log_format in ("plain", "json"):
        done = subprocess.run([str(yiwang), "shell", "-c", code], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "YIWANG_LOG_LEVEL": "INFO", "YIWANG_LOG_FORMAT": log_format})
        assert done.returncode == 0, done.stderr
        if log_format == "plain":
            assert ("ERROR yiwang.intake: bad form {'id_number': '6104************3X', 'phone': '138****0001'}"
                    in done.stderr)
        else:
            lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
            assert {"level": "ERROR", "logger": "yiwang.intake",
                    "message": "bad form {'id_number': '6104************3X', 'phone': '138****0001'}"}.items() <= lines[0].items()
        assert "id=6104************3X 422" in done.stderr
        assert ID_NUMBER not in done.stderr + done.stdout and MOBILE not in done.stderr + done.stdout
