"""Killing the worker mid-send loses no message and sends none twice (docs/messages.md, "After a crash").

A real `yiwang messages deliver --loop` process (the loop `yiwang worker` runs) delivers from the test's
database and hangs inside a send; it is killed with SIGKILL there, and a new worker takes over once the
dead one's lease has run out. Then every message is counted where it arrived: the lines of the file
channel, the messages the loopback SMTP server took.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from yiwang.messages import services
from yiwang.messages.models import Message

YIWANG = Path(sys.executable).parent / "yiwang"
LEASE = 1.0  # seconds: short, so the new worker need not wait long for the dead one's lease


def database_url() -> str:
    s = connection.settings_dict  # the test database, committed to (transactional tests)
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    password = f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else ""
    return f"postgres://{quote(s['USER'], safe='')}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def worker_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env.update(DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_DATABASE_URL=database_url(),
               YIWANG_VAR_DIR=str(tmp_path / "var"), YIWANG_LOG_LEVEL="ERROR", PYTHONUNBUFFERED="1",
               YIWANG_MESSAGE_LEASE_SECONDS=str(LEASE), **extra)
    return env


def kill_when(worker: subprocess.Popen, hanging, what: str) -> None:
    """SIGKILL the worker's process group once ``hanging()`` says it is stuck mid-send."""
    deadline = time.monotonic() + 60
    while not hanging():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            out, err = worker.communicate()
            pytest.fail(f"the worker never hung {what} (exit {worker.returncode}):\n{out}\n{err}")
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)


def new_worker(env: dict) -> None:
    time.sleep(LEASE + 0.2)  # the dead worker's lease runs out
    done = subprocess.run([str(YIWANG), "messages", "deliver"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def statuses() -> list[str]:
    return list(Message.objects.order_by("pk").values_list("status", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["before", "after"])
def test_an_sms_worker_killed_mid_send(tmp_path, where):
    """Killed before the provider got the message, or after it took it but before the worker heard:
    either way the file channel ends with each message exactly once (it drops a repeated id, as a
    provider with client-side ids does)."""
    texts = [f"您的验证码是 10000{n}" for n in range(5)]
    texts[2] += f" [stuck-{where}]"
    ids = [services.enqueue(channel="sms", to=f"1380000000{n}", text=text, dedupe_key=f"login:{n}").idempotency_id
           for n, text in enumerate(texts)]
    sms_file, marker = tmp_path / "sms.jsonl", tmp_path / "stuck"
    env = worker_env(tmp_path, YIWANG_SMS_BACKEND="yiwang.messages.tests.blocking.StuckFileSms",
                     YIWANG_SMS_FILE=str(sms_file), YIWANG_TEST_STUCK=str(marker))
    worker = subprocess.Popen([str(YIWANG), "messages", "deliver", "--loop", "--interval", "0.1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    kill_when(worker, marker.exists, f"{where} writing")
    assert statuses() == ["sent", "sent", "sending", "pending", "pending"]

    new_worker(env)
    assert statuses() == ["sent"] * 5
    written = [json.loads(line)["id"] for line in sms_file.read_text(encoding="utf-8").splitlines()]
    assert Counter(written) == Counter(ids)  # none lost, none twice
    assert Message.objects.get(idempotency_id=ids[2]).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_an_email_worker_killed_mid_send(tmp_path, smtp_server):
    """Killed after the SMTP server took the message but before it answered: the worker that takes
    over cannot know whether it went out, so it leaves it "unknown" and sends it no second time."""
    rows = [services.enqueue(channel="email", to=f"user{n}@example.cn", subject="办结通知",
                             text=f"第 {n} 件已办结" + (" [hold]" if n == 1 else ""), dedupe_key=f"mail:{n}")
            for n in range(4)]
    env = worker_env(tmp_path, YIWANG_EMAIL_HOST="127.0.0.1", YIWANG_EMAIL_PORT=str(smtp_server.port))
    worker = subprocess.Popen([str(YIWANG), "messages", "deliver", "--loop", "--interval", "0.1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    kill_when(worker, smtp_server.handler.holding.is_set, "after DATA")
    smtp_server.handler.release.set()
    assert statuses() == ["sent", "sending", "pending", "pending"]

    new_worker(env)
    received = Counter(m["To"] for m in smtp_server.handler.received)
    assert received == Counter(r.to for r in rows)  # each exactly once: the held one too, not resent
    assert statuses() == ["sent", "unknown", "sent", "sent"]

    # Someone checked the mailbox: it arrived.
    done = subprocess.run([str(YIWANG), "messages", "confirm", str(rows[1].pk)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert statuses() == ["sent"] * 4
