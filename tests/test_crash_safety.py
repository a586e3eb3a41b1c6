"""Crash safety: the real server (`yiwang serve`, granian, 2 workers) is killed with SIGKILL mid-load.

Every case answered 201 must be in the database afterwards with an intact hash chain; a case whose
request was cut off may or may not exist, but never half (a case without its submit event, an event
without its case, a chain that does not end at the case's last hash). The server then starts again
on the same database and takes new cases. The database is the run's vendor (tests/scratch_site.py).

On SQLite, WAL with synchronous=NORMAL keeps every commit through a process crash (the OS holds
the written pages); only a power loss may drop the last commits, which this test cannot show.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.scratch_site import ROOT, SEED_WORLD, YIWANG, Site, migrated_site

pytestmark = pytest.mark.crash

HOST = "127.0.0.1"
CLIENTS = 6  # more than the server's 2 workers × 2 threads: requests are queued and in flight at the kill
LOAD_SECONDS = 1.5  # of load before the kill (longer if fewer than MIN_ACKNOWLEDGED came back by then)
MIN_ACKNOWLEDGED = 10
BODY = json.dumps({
    "matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "channel": "hall", "applicant_name": "王大爷",
    "applicant_phone": "13800000001", "form": {"birth_date": "1950-01-01"},
    "materials": [{"code": "id_card"}, {"code": "photo"}],
}, ensure_ascii=False).encode()

SETUP = SEED_WORLD + """
from yiwang.org.services import token_create
print(token_create(username="clerk_xfl", name="crash test"))
"""

CHECK = """
import json
from yiwang.cases.models import Case, CaseEvent
from yiwang.records.verification import verify

report = verify()
cases = Case.objects.all()
print(json.dumps({
    "numbers": [c.number for c in cases.only("id", "created_at")],
    "without_submit_event": cases.exclude(pk__in=CaseEvent.objects.filter(seq=1).values("case_id")).count(),
    "events_without_case": CaseEvent.objects.exclude(case_id__in=cases.values("id")).count(),
    "verified_cases": report.cases, "problems": report.problems,
}))
"""


class Server:
    """`yiwang serve` in its own process group, so that one signal reaches the workers too."""

    def __init__(self, site: Site, log: Path):
        self.site, self.log = site, log
        self.port = _free_port()
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(YIWANG), "serve", "--host", HOST, "--port", str(self.port), "--workers", "2",
                 "--no-collectstatic"],
                env=site.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.log_tail()}"
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                try:
                    conn.request("GET", "/api/v1/me")
                    if conn.getresponse().status == 401:
                        return
                finally:
                    conn.close()
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and workers) and wait until none is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("server workers outlived SIGKILL of their process group")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self.kill()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Load:
    """CLIENTS threads posting cases over keep-alive connections until the server goes away."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.acknowledged: list[str] = []  # numbers answered with 201
        self.other_statuses: list[int] = []
        self.cut_off = 0  # requests that got no answer after the kill
        self.errors_before_kill: list[str] = []
        self.killing = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=15)
        assert not any(t.is_alive() for t in self.threads), "a load thread hung after the kill"

    def _client(self) -> None:
        conn = None
        deadline = time.monotonic() + 30
        while not self.killing.is_set() and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                conn.request("POST", "/api/v1/cases", BODY, self.headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    if self.killing.is_set():
                        self.cut_off += 1
                    else:
                        self.errors_before_kill.append(repr(exc))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            with self.lock:
                if response.status == 201:
                    self.acknowledged.append(json.loads(data)["number"])
                else:
                    self.other_statuses.append(response.status)
        if conn is not None:
            conn.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def check(site: Site) -> dict:
    return json.loads(site.python(CHECK))


@pytest.fixture
def site(tmp_path):
    site = migrated_site(tmp_path / "site")
    site.token = site.python(SETUP).strip().splitlines()[-1]
    yield site
    site.drop()


def test_a_server_killed_mid_load_keeps_every_acknowledged_case_whole(site, tmp_path):
    server = Server(site, tmp_path / "server.log")
    try:
        server.wait_ready()
        load = Load(server.port, site.token)
        started = time.monotonic()
        load.start()
        while time.monotonic() - started < LOAD_SECONDS or len(load.acknowledged) < MIN_ACKNOWLEDGED:
            assert time.monotonic() - started < 15, f"only {len(load.acknowledged)} cases in 15 s:\n{server.log_tail()}"
            time.sleep(0.02)
        load.killing.set()
        server.kill()
        load.join()
    finally:
        server.stop()

    print(f"{len(load.acknowledged)} cases acknowledged in {time.monotonic() - started:.1f} s, "
          f"{load.cut_off} requests cut off by SIGKILL")
    assert not load.errors_before_kill, load.errors_before_kill
    assert not load.other_statuses, load.other_statuses
    after = check(site)
    assert after["problems"] == []
    assert after["without_submit_event"] == 0 and after["events_without_case"] == 0
    in_database = set(after["numbers"])
    assert set(load.acknowledged) <= in_database, "a case answered 201 is missing after the crash"
    # A case nobody heard back about may have committed just before the kill; no more of them
    # than there were requests cut off.
    assert len(in_database) - len(load.acknowledged) <= load.cut_off
    print(f"after the crash: {len(in_database)} cases, every chain intact")

    again = Server(site, tmp_path / "server-again.log")
    try:
        again.wait_ready()
        conn = http.client.HTTPConnection(HOST, again.port, timeout=10)
        conn.request("POST", "/api/v1/cases", BODY, {"Content-Type": "application/json",
                                                     "Authorization": f"Bearer {site.token}"})
        response = conn.getresponse()
        created = json.loads(response.read())
        conn.close()
        assert response.status == 201, created
    finally:
        again.stop()
    final = check(site)
    assert final["problems"] == []
    assert set(final["numbers"]) == in_database | {created["number"]}
