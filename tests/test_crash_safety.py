"""Crash safety: a process dies mid-load and nothing answered 2xx is lost, nothing is half-written.

The load is the real server (`yiwang serve`, granian, 2 workers) taking new cases and workflow actions
on existing ones (claim, accept, request_supplement, resubmit, each with the `version` it saw) from
several client threads at once. Two crashes:

- the app: its whole process group is SIGKILLed (the run's database vendor, tests/scratch_site.py);
- PostgreSQL only: the database server of a throw-away cluster (tests/pg_cluster.py) is stopped with
  `pg_ctl stop -m immediate` (every backend dies at once, no checkpoint) and started again, so it
  recovers from its WAL while the app keeps running and answers 503 meanwhile.

Each crash must cut off requests in flight (sent, not yet answered), among them an action, or it
proved nothing: the test fails if none was (a kill that cut off no action is tried again, 3 in all).
Afterwards every case answered 201 and every action answered 200 is in the database with its event
where the answer put it; an event nobody heard back about belongs to a request that was cut off;
every hash chain is intact; and no case is half-updated: its state, holder, version and event count
are those its timeline ends with.

On SQLite, WAL with synchronous=NORMAL keeps every commit through a process crash (the OS holds
the written pages); only a power loss may drop the last commits, which this test cannot show. The
throw-away cluster runs with fsync=off for the same reason: an immediate shutdown kills the server's
processes, not the machine, so the WAL it wrote is still there; synchronous_commit is on (the default).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import pg_cluster
from tests.scratch_site import ROOT, SEED_WORLD, YIWANG, Site, migrated_site, vendor

pytestmark = pytest.mark.crash

HOST = "127.0.0.1"
# 7 clients against the server's 2 workers × 2 threads: requests are always queued or running, so a
# kill at any moment finds some in flight.
CREATORS = 3
ACTORS = 4
CASES_PER_ACTOR = 4  # each actor owns its cases: its `version` is only stale if its own request was cut off
LOAD_SECONDS = 1.5  # of load before the kill (longer until MIN_ANSWERED creations and actions came back)
MIN_ANSWERED = 5
KILL_ATTEMPTS = 3  # a kill that cut off no request is tried again, this many times in all
DOWN_SECONDS = 1.0  # the database stays down this long under load before it is started again
CASE = {
    "matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "channel": "hall", "applicant_name": "王大爷",
    "applicant_phone": "13800000001", "form": {"birth_date": "1950-01-01"},
    "materials": [{"code": "id_card"}, {"code": "photo"}],
}

SETUP = SEED_WORLD + """
from yiwang.org.services import token_create
print(token_create(username="clerk_xfl", name="crash test"))
"""

# Every case with its whole timeline, which the test judges, and what `yiwang verify` (every hash chain
# recomputed, indicators and tallies against the rows) found wrong.
CHECK = """
import io
import json
from django.core.management import CommandError, call_command
from yiwang.cases.models import Case, CaseEvent

problems = io.StringIO()
try:
    call_command("verify", stdout=io.StringIO(), stderr=problems)
except CommandError as exc:
    print(exc, file=problems)
timelines = {}
for case_id, *event in CaseEvent.objects.order_by("case_id", "seq").values_list(
        "case_id", "seq", "action", "to_state", "to_unit_id"):
    timelines.setdefault(case_id, []).append(event)
cases = {
    c.number: {"state": c.state, "holder": c.holder_unit_id, "version": c.version, "event_count": c.event_count,
               "events": timelines.pop(c.pk, [])}
    for c in Case.objects.only("id", "created_at", "state", "holder_unit_id", "version", "event_count")
}
print(json.dumps({"cases": cases, "events_without_case": len(timelines), "problems": problems.getvalue()}))
"""


# The applications workflow as a loop the actors can run forever: claim once, accept, then
# request_supplement / resubmit turn and turn about (docs/api.md, cases/workflows.py).
NEXT_ACTION = {"accepted": "request_supplement", "supplement": "resubmit"}


@dataclass
class Tracked:
    """What the client knows of one case it acts on; only its actor thread touches it during a load."""

    number: str
    version: int
    state: str
    acknowledged: dict[int, str] = field(default_factory=dict)  # event seq → action answered 200
    unknown: dict[int, str] = field(default_factory=dict)  # event seq → action whose answer never came
    uncertain: bool = False  # the last action's outcome is unknown: read the case before acting again

    def next_action(self) -> str:
        if self.state == "submitted":
            return "claim" if self.version == 1 else "accept"
        return NEXT_ACTION[self.state]

    def saw(self, answer: dict) -> None:
        self.version, self.state, self.uncertain = answer["version"], answer["state"], False


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


class Client:
    """One keep-alive connection, as one user of the API."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """The status and JSON answer; OSError or HTTPException when none came (the connection is dropped)."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
            self.conn.request(method, path, json.dumps(body, ensure_ascii=False).encode() if body else None,
                              self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        return response.status, json.loads(data) if data else {}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    """CREATORS threads posting cases and ACTORS threads taking actions on their own ``tracked`` cases,
    until ``stopping`` is set. ``kill_at`` (set by the test just before it kills something) sorts the
    requests that got no 2xx: failed before it (a bug), in flight at it (sent before, failed after:
    the kill cut them off), or sent after it (the server or database was already gone)."""

    def __init__(self, port: int, token: str, tracked: list[Tracked]):
        self.port, self.token = port, token
        self.created: list[str] = []  # numbers answered 201
        self.actions = 0  # actions answered 200
        self.unknown_creations = 0  # posted, and no 201 came back
        self.cut_off = Counter()  # (kind, what it got) of each request sent before kill_at that failed after it
        self.failed_after_kill = Counter()  # what the requests sent after kill_at got instead of 2xx
        self.restarted_at: float | None = None  # set by the test once the database is back
        self.recovered_at: float | None = None  # the first 2xx to a request sent after restarted_at
        self.after_restart = Counter()  # 2xx answers to requests sent after restarted_at, by kind
        self.answers, self.answer_seconds = Counter(), Counter()  # 2xx answers and their time, by kind
        self.errors_before_kill: list[str] = []
        self.unexpected: list[str] = []  # 4xx: a refusal the load does not expect
        self.kill_at: float | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        owned = [tracked[i::ACTORS] for i in range(ACTORS)]
        self.threads = [threading.Thread(target=self._creator, daemon=True) for _ in range(CREATORS)]
        self.threads += [threading.Thread(target=self._actor, args=(cases,), daemon=True) for cases in owned]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=20)
        assert not any(t.is_alive() for t in self.threads), "a load thread hung"

    @property
    def in_flight(self) -> int:
        """Requests in flight at the kill: sent before it, and no answer or a failure after it."""
        return sum(self.cut_off.values())

    @property
    def updates_in_flight(self) -> int:
        """Actions on existing cases among them: updates the kill interrupted."""
        return sum(n for (kind, _), n in self.cut_off.items() if kind == "act")

    def latencies(self) -> str:
        return ", ".join(f"{kind} {1000 * self.answer_seconds[kind] / n:.0f} ms"
                         for kind, n in sorted(self.answers.items()))

    def cut_off_report(self) -> str:
        return ", ".join(f"{n} {kind} {failure}" for (kind, failure), n in sorted(self.cut_off.items()))

    def answered(self) -> int:
        return min(len(self.created), self.actions)

    def _send(self, client: Client, kind: str, method: str, path: str, body: dict | None = None) -> dict | None:
        """The JSON of a 2xx answer; None when the request failed (its outcome is unknown)."""
        sent_at = time.monotonic()
        try:
            status, answer = client.send(method, path, body)
            failure = f"{status} {answer.get('code', '')}" if status >= 500 else None
        except (OSError, http.client.HTTPException) as exc:
            failure = type(exc).__name__
        with self.lock:
            if failure is None and status < 300:
                self.answers[kind] += 1
                self.answer_seconds[kind] += time.monotonic() - sent_at
                if self.restarted_at is not None and sent_at > self.restarted_at:
                    self.recovered_at = self.recovered_at or time.monotonic()
                    self.after_restart[kind] += 1
                return answer
            if failure is None:
                self.unexpected.append(f"{method} {path}: {status} {answer}")
                self.stopping.set()
            elif self.kill_at is None:
                self.errors_before_kill.append(f"{method} {path}: {failure}")
                self.stopping.set()
            elif sent_at < self.kill_at:
                self.cut_off[kind, failure] += 1
            else:
                self.failed_after_kill[failure] += 1
        time.sleep(0.05)  # the server or database is gone: do not spin on it
        return None

    def _creator(self) -> None:
        client = Client(self.port, self.token)
        while not self.stopping.is_set():
            answer = self._send(client, "create", "POST", "/api/v1/cases", CASE)
            with self.lock:
                if answer is None:
                    self.unknown_creations += 1
                else:
                    self.created.append(answer["number"])
        client.close()

    def _actor(self, cases: list[Tracked]) -> None:
        client = Client(self.port, self.token)
        turn = 0
        while not self.stopping.is_set():
            case = cases[turn % len(cases)]
            turn += 1
            path = f"/api/v1/cases/{case.number}"
            if case.uncertain:  # did the action whose answer never came land? The case says.
                if (answer := self._send(client, "read", "GET", path)) is not None:
                    case.saw(answer)
                continue
            action, seq = case.next_action(), case.version + 1
            body = {"version": case.version, "comment": f"崩溃测试 {action} {seq}"}
            answer = self._send(client, "act", "POST", f"{path}/actions/{action}", body)
            if answer is None:
                case.unknown[seq], case.uncertain = action, True
                continue
            case.acknowledged[seq] = action
            case.saw(answer)
            with self.lock:
                self.actions += 1
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def seed_cases(port: int, token: str, count: int) -> list[Tracked]:
    """``count`` new cases for the actors, created through the API before the load starts."""
    client = Client(port, token)
    tracked = []
    for _ in range(count):
        status, answer = client.send("POST", "/api/v1/cases", CASE)
        assert status == 201, answer
        tracked.append(Tracked(answer["number"], answer["version"], answer["state"]))
    client.close()
    return tracked


def check(site: Site, load: Load | None, tracked: list[Tracked], known: set[str]) -> set[str]:
    """Assert the database is whole after ``load`` went through a crash (``known``: the cases there before
    it), then bring ``tracked`` up to date with it: the next load acts from there. The numbers of the
    cases in the database."""
    after = json.loads(site.python(CHECK))
    assert after["problems"] == "", f"yiwang verify:\n{after['problems']}"
    assert after["events_without_case"] == 0
    cases = after["cases"]
    for number, case in cases.items():
        # Never half: the case row is exactly where its timeline ends.
        seqs = [e[0] for e in case["events"]]
        assert seqs == list(range(1, len(seqs) + 1)) and case["events"][0][1] == "submit", (number, case)
        assert case["event_count"] == len(seqs) == case["version"], (number, case)  # one version per event
        last = case["events"][-1]
        assert (case["state"], case["holder"]) == (last[2], last[3]), (number, case)

    in_database = set(cases)
    created = set(load.created) if load else set()
    assert known | created <= in_database, f"cases answered 201 are missing: {sorted((known | created) - in_database)}"
    # A case nobody heard back about may have committed just before the crash; no more of them than
    # there were creations without an answer.
    assert len(in_database - known - created) <= (load.unknown_creations if load else 0)

    for t in tracked:
        events = {e[0]: e[1] for e in cases[t.number]["events"]}
        lost = {seq: action for seq, action in t.acknowledged.items() if events.get(seq) != action}
        assert not lost, f"{t.number}: actions answered 200 are not on the timeline: {lost}, timeline {events}"
        unexplained = {seq: action for seq, action in events.items()
                       if seq > 1 and action != t.acknowledged.get(seq, t.unknown.get(seq))}
        assert not unexplained, f"{t.number}: events no request accounts for: {unexplained}"
        t.version, t.state, t.uncertain = cases[t.number]["version"], cases[t.number]["state"], False
    return in_database


def run_load_until_answered(load: Load, server_log: Server) -> float:
    """Start ``load`` and return once it has run LOAD_SECONDS with MIN_ANSWERED creations and actions."""
    started = time.monotonic()
    load.start()
    while time.monotonic() - started < LOAD_SECONDS or load.answered() < MIN_ANSWERED:
        assert not load.errors_before_kill and not load.unexpected, \
            f"{load.errors_before_kill} {load.unexpected}\n{server_log.log_tail()}"
        assert time.monotonic() - started < 20, \
            f"{len(load.created)} cases, {load.actions} actions in 20 s:\n{server_log.log_tail()}"
        time.sleep(0.02)
    return started


def assert_clean(load: Load) -> None:
    assert not load.errors_before_kill, load.errors_before_kill
    assert not load.unexpected, load.unexpected


@pytest.fixture
def site(tmp_path):
    site = migrated_site(tmp_path / "site")
    site.token = site.python(SETUP).strip().splitlines()[-1]
    yield site
    site.drop()


def test_a_server_killed_mid_load_keeps_every_acknowledged_case_and_action_whole(site, tmp_path):
    server = Server(site, tmp_path / "server.log")
    try:
        server.wait_ready()
        tracked = seed_cases(server.port, site.token, ACTORS * CASES_PER_ACTOR)
        known = {t.number for t in tracked}
        for attempt in range(1, KILL_ATTEMPTS + 1):
            if attempt > 1:
                server = Server(site, tmp_path / f"server-{attempt}.log")
                server.wait_ready()
            load = Load(server.port, site.token, tracked)
            started = run_load_until_answered(load, server)
            load.kill_at = time.monotonic()
            load.stopping.set()
            server.kill()
            load.join()
            assert_clean(load)
            print(f"attempt {attempt}: {len(load.created)} cases and {load.actions} actions answered in "
                  f"{load.kill_at - started:.1f} s, {load.in_flight} requests in flight cut off by SIGKILL "
                  f"({load.cut_off_report()}); mean answer {load.latencies()}")
            known = check(site, load, tracked, known)
            if load.updates_in_flight:
                break
    finally:
        server.stop()
    # A kill that cut nothing off proves nothing; one that cut off only creations proves nothing of updates.
    assert load.in_flight, f"no request was in flight at any of {KILL_ATTEMPTS} kills: they proved nothing"
    assert load.updates_in_flight, f"no action was in flight at any of {KILL_ATTEMPTS} kills"

    # The server starts again on the same database and takes new cases and actions, also on a case
    # whose last action was cut off (its version read back from the database).
    again = Server(site, tmp_path / "server-again.log")
    try:
        again.wait_ready()
        client = Client(again.port, site.token)
        status, created = client.send("POST", "/api/v1/cases", CASE)
        assert status == 201, created
        case = next((t for t in tracked if t.unknown), tracked[0])
        action, seq = case.next_action(), case.version + 1
        status, acted = client.send("POST", f"/api/v1/cases/{case.number}/actions/{action}",
                                    {"version": case.version, "comment": "重启之后"})
        assert status == 200, acted
        case.acknowledged[seq] = action
        client.close()
    finally:
        again.stop()
    check(site, None, tracked, known | {created["number"]})


# ------------------------------------------------------------------------------------------------
# PostgreSQL: the database server dies under the load and comes back.
# ------------------------------------------------------------------------------------------------


class ClusterSite(Site):
    """A site whose database is ``url`` on a throw-away cluster: nothing to create or drop on the run's
    server (Site's constructor would make a scratch database there)."""

    def __init__(self, var: Path, url: str):  # Site.__init__ is skipped on purpose
        self.var, self.vendor, self.url = var, "postgresql", url
        (var / "static").mkdir(parents=True, exist_ok=True)

    def drop(self) -> None:
        """The cluster goes with its directory."""


def copy_schema(template: Site, site: ClusterSite) -> None:
    """Give ``site`` the migrated schema of ``template`` (a scratch database on the run's server), then
    drop ``template``: a dump and restore is much quicker than migrating again. When this pg_dump cannot
    read the run's server (a newer major version than the cluster's binaries), migrate it is."""
    try:
        dump = subprocess.run([str(pg_cluster.pg_bin() / "pg_dump"), "--no-owner", "--no-privileges", "-d",
                               template.url], capture_output=True, timeout=120)
    finally:
        template.drop()
    if dump.returncode:
        site.yiwang("migrate", "--noinput", "-v", "0")
        return
    restored = subprocess.run([str(pg_cluster.pg_bin() / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", site.url],
                              input=dump.stdout, capture_output=True, timeout=120)
    assert restored.returncode == 0, restored.stderr.decode(errors="replace")


@pytest.fixture
def cluster_site(tmp_path):
    if vendor() != "postgresql":
        pytest.skip("PostgreSQL only: run with YIWANG_DATABASE_URL=postgres://… to kill a database server")
    pg_cluster.require_server("the database crash test")
    import psycopg

    root = pg_cluster.scratch_root("yiwang-crash-")
    cluster = pg_cluster.Cluster(root, "db", pg_cluster.free_port())
    try:
        cluster.initdb(max_connections=30, shared_buffers="32MB", fsync="off")
        cluster.start()
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE yiwang")
        site = ClusterSite(tmp_path / "site", cluster.url())
        copy_schema(migrated_site(tmp_path / "template"), site)
        site.token = site.python(SETUP).strip().splitlines()[-1]
        site.cluster = cluster
        yield site
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_database_killed_mid_load_recovers_with_every_acknowledged_case_and_action_whole(cluster_site, tmp_path):
    site, cluster = cluster_site, cluster_site.cluster
    server = Server(site, tmp_path / "server.log")
    try:
        server.wait_ready()
        tracked = seed_cases(server.port, site.token, ACTORS * CASES_PER_ACTOR)
        known = {t.number for t in tracked}
        for attempt in range(1, KILL_ATTEMPTS + 1):
            load = Load(server.port, site.token, tracked)
            started = run_load_until_answered(load, server)
            load.kill_at = time.monotonic()
            subprocess.run(cluster.stop_argv(), check=True, capture_output=True, timeout=30)
            down_at = time.monotonic()
            time.sleep(DOWN_SECONDS)  # the load goes on against the app, which has no database
            cluster.start()
            load.restarted_at = time.monotonic()
            deadline = load.restarted_at + 30
            while min(load.after_restart["create"], load.after_restart["act"]) < MIN_ANSWERED:
                assert not load.unexpected, load.unexpected
                assert time.monotonic() < deadline, \
                    f"no answer 30 s after the database came back:\n{server.log_tail()}"
                time.sleep(0.05)
            load.join()
            assert_clean(load)
            print(f"attempt {attempt}: database stopped after {load.kill_at - started:.1f} s "
                  f"(pg_ctl took {down_at - load.kill_at:.2f} s), {load.in_flight} requests in flight cut off "
                  f"({load.cut_off_report()}), "
                  f"while down {dict(load.failed_after_kill)}, first answer "
                  f"{load.recovered_at - load.restarted_at:.2f} s after the restart; "
                  f"{len(load.created)} cases and {load.actions} actions answered in all; "
                  f"mean answer {load.latencies()}")
            # While the database is down the app answers 503 (ErrorResponseMiddleware), never drops a
            # connection or answers 500.
            failures = set(load.failed_after_kill) | {failure for _, failure in load.cut_off}
            assert failures <= {"503 unavailable"}, f"{load.cut_off_report()}; {load.failed_after_kill}\n" \
                f"{server.log_tail(80)}"
            # The restart was a crash recovery (WAL replayed), not a clean start after a checkpoint.
            assert "automatic recovery in progress" in cluster.log.read_text(errors="replace")
            known = check(site, load, tracked, known)
            if load.updates_in_flight:
                break
    finally:
        server.stop()
    assert load.in_flight, f"no request was in flight at any of {KILL_ATTEMPTS} database kills: they proved nothing"
    assert load.updates_in_flight, f"no action was in flight at any of {KILL_ATTEMPTS} database kills"
