#!/usr/bin/env python
"""Incident intake benchmark: every way a problem is reported, beside application intake, in one run.

One command (``.venv/bin/python bench/incident_intake.py``):

1. builds the intake bench's database (bench/intake.py ``prepare``: migrate, ``build_world()``, a token
   for clerk_xfl), then, in one ``yiwang shell``, what the entry points need: tokens for gridder_xfl
   and operator_kg, an Open311 api_key, a camera in 幸福里第一网格, a signed-in session of the grid
   worker, and one SMS code per portal report (each signed-out report spends a code of its own);
2. serves yiwang once (``yiwang serve --workers 2 --no-collectstatic``, as bench/intake.py) and sends,
   target by target, the same load as bench/intake.py: a short warm-up, phase A (closed loop) for the
   peak rate and the CPU per case, phase B (open loop at 80 % of that peak) for p50/p99. Each phase is
   cut into ``--rounds`` slices and the targets take turns, so a burst of other work on the machine
   falls on all of them alike. The targets:

   - ``application``: POST /api/v1/cases, 老年证 at the hall (bench/intake.py's request): the baseline;
   - ``api incident``: POST /api/v1/cases, a grid worker's 乱停车 report with a point, bearer token;
   - ``open311``: POST /open311/v2/requests.json, form-encoded, with an api_key and lat/long;
   - ``portal``: POST /report/ signed out, with the CSRF cookie and field, a phone and its code (302);
   - ``grid page``: POST /grid/KG-DZ-XFL-G1/, the grid worker's phone page, session and CSRF (302);
   - ``camera``: POST /api/v1/cameras/CAM-BENCH/alerts, a new alert id every time;

3. prints one table: for each target its peak rate, CPU per case (the server's process tree over the
   cases answered) and its ratio to the application's from the same run (target <= 2x), and p50/p99 at
   80 % of its own peak (target p99 < 50 ms); then the machine's other load;
4. checks that the database holds one case per success of each target (by channel), runs the jobs the
   reports queued (duplicate flags, 自动派遣: cases.tasks.case_opened_task) in one process as
   `yiwang worker` would, and prints their CPU per incident and that each ran once; then ``yiwang
   verify``. Exit status 1 when a check fails; the targets are only printed.

The incidents are all reported at one point, so each one after the first is a likely duplicate of an
open report: the worker's duplicate search then has candidates to look at, as in a burst of reports
of one problem. Everything listens on 127.0.0.1; the server is stopped on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import intake  # noqa: E402
import loadgen  # noqa: E402
from common import ROOT, YIWANG, BenchError, elapsed, environment, log, run, run_benchmark, version  # noqa: E402
from intake import HOST, Meter, Server, fmt_ms, free_port, merge, settle, stop_all  # noqa: E402

TARGET_CPU_RATIO = 2.0  # an incident's CPU per case / the application's, at most
TARGET_P99_MS = 50.0  # p99 at 80 % of the target's own peak, below
OPEN_LOOP_SHARE = 0.8
LAT, LNG = "34.405", "108.705"  # inside 幸福里第一网格 (KG-DZ-XFL-G1) of the test world
GRID = "KG-DZ-XFL-G1"
CAMERA = "CAM-BENCH"
CSRF = "benchCsrfSecret0123456789abcdefg"  # 32 letters and digits: a csrftoken cookie Django accepts
TEXT = "学校门口车辆乱停，堵住了出入口"

# Run through `yiwang shell -c`: everything the entry points need, printed as one JSON line.
SETUP = r"""
import datetime as dt, json, os
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from yiwang.core import clock
from yiwang.grid.services import camera_create
from yiwang.open311.services import api_key_create
from yiwang.org.models import CodePurpose, PhoneCode, Unit
from yiwang.org.services import _code_hash, token_create

out = {"tokens": {u: token_create(username=u, name="bench") for u in ("gridder_xfl", "operator_kg")}}
out["api_key"] = api_key_create(name="bench")[1]
camera_create(code=os.environ["BENCH_CAMERA"], name="幸福里东门探头", lat=float(os.environ["BENCH_LAT"]),
              lng=float(os.environ["BENCH_LNG"]), owner_unit=Unit.objects.get(code="KG-CC"))
user = get_user_model().objects.get(username="gridder_xfl")
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.set_expiry(24 * 3600)
session.save()
out["session"] = session.session_key
out["session_cookie"] = settings.SESSION_COOKIE_NAME
out["csrf_cookie"] = settings.CSRF_COOKIE_NAME
now = clock.now()
codes = []
for i in range(int(os.environ["BENCH_CODES"])):
    phone, code = f"139{i:08d}", f"{(i * 7919) % 1000000:06d}"
    codes.append(PhoneCode(phone=phone, purpose=CodePurpose.REPORT, code_hash=_code_hash(phone, CodePurpose.REPORT, code),
                           created_at=now, expires_at=now + dt.timedelta(hours=2)))
PhoneCode.objects.bulk_create(codes, batch_size=2000)
print(json.dumps(out))
"""


class Target:
    """One entry point: its name, what a success answers, and its request (bytes, or one per send)."""

    def __init__(self, name: str, what: str, channel: str, request, ok_status: int = 201):
        self.name, self.what, self.channel, self.request, self.ok_status = name, what, channel, request, ok_status


def form(fields: dict) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def targets(port: int, setup: dict, clerk_token: str, per_target: int) -> list[Target]:
    def req(path: str, body: bytes, headers: dict) -> bytes:
        return loadgen.build_request(HOST, port, path, body, headers)

    def bearer(token: str) -> dict:
        return {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"}

    def js(data: dict) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()

    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    cookies = f"{setup['csrf_cookie']}={CSRF}"
    gridder = setup["tokens"]["gridder_xfl"]
    incident = {"matter_code": "INC_PARKING", "channel": "grid", "title": TEXT, "description": TEXT,
                "lat": float(LAT), "lng": float(LNG)}
    alerts = [req(f"/api/v1/cameras/{CAMERA}/alerts",
                  js({"alert_id": f"bench-{i}", "category": "INC_PARKING", "description": TEXT,
                      "occurred_at": "2026-12-01T08:30:00+08:00"}), bearer(setup["tokens"]["operator_kg"]))
              for i in range(per_target)]
    portal = [req("/report/", form({"csrfmiddlewaretoken": CSRF, "category": "INC_PARKING", "description": TEXT,
                                    "address": "幸福里东门", "lat": LAT, "lng": LNG, "phone": f"139{i:08d}",
                                    "code": f"{(i * 7919) % 1000000:06d}"}),
                  {**form_type, "Cookie": cookies})
              for i in range(per_target)]
    grid_page = req(f"/grid/{GRID}/", form({"csrfmiddlewaretoken": CSRF, "category": "INC_PARKING",
                                            "description": TEXT, "address": "幸福里东门", "lat": LAT, "lng": LNG}),
                    {**form_type, "Cookie": f"{cookies}; {setup['session_cookie']}={setup['session']}"})
    return [
        Target("application", "POST /api/v1/cases (老年证, hall)", "hall",
               req("/api/v1/cases", js(intake.BODY), bearer(clerk_token))),
        Target("api incident", "POST /api/v1/cases (乱停车, grid worker's token)", "grid_api",
               req("/api/v1/cases", js(incident), bearer(gridder))),
        Target("open311", "POST /open311/v2/requests.json", "open311",
               req("/open311/v2/requests.json",
                   form({"api_key": setup["api_key"], "service_code": "INC_PARKING", "lat": LAT, "long": LNG,
                         "description": TEXT}), form_type)),
        Target("portal", "POST /report/ signed out (phone + code, CSRF)", "online", loadgen.Requests(portal), 302),
        Target("grid page", f"POST /grid/{GRID}/ (grid worker's session, CSRF)", "grid", grid_page, 302),
        Target("camera", f"POST /api/v1/cameras/{CAMERA}/alerts", "camera", loadgen.Requests(alerts)),
    ]


# ---------------------------------------------------------------------------------------------- load


def phase(server: Server, ts: list[Target], args, rates: dict[str, float] | None = None) -> dict:
    """One phase for every target, in ``args.rounds`` slices each, taking turns (the order flips every
    round). Closed loop without ``rates``, else open loop at each target's rate. {name: (result, cpu)}."""
    settle()
    meters = {t.name: Meter(server) for t in ts}
    parts: dict[str, list[loadgen.PhaseResult]] = {t.name: [] for t in ts}
    piece = args.duration / args.rounds
    for r in range(args.rounds):
        for t in (ts if r % 2 == 0 else ts[::-1]):
            meters[t.name].start()
            if rates is None:
                part = asyncio.run(loadgen.closed_loop(HOST, server.port, t.request, connections=args.connections,
                                                       duration=piece, ok_status=t.ok_status))
            else:
                part = asyncio.run(loadgen.open_loop(HOST, server.port, t.request, connections=args.connections,
                                                     rate=rates[t.name], duration=piece, drain_timeout=5.0,
                                                     ok_status=t.ok_status))
            meters[t.name].pause()
            parts[t.name].append(part)
    out = {}
    for t in ts:
        result = merge(parts[t.name])
        out[t.name] = (result, meters[t.name].summary(result.completed))
        what = "closed loop" if rates is None else f"open loop at {rates[t.name]:.0f} req/s"
        cpu = out[t.name][1]["cpu_ms_per_request"]
        # The CPU per case is logged as it is measured: the worker's drain after the load may outlast the
        # watchdog on a busy machine, and the table is printed only after it.
        log(f"{t.name}: {what}: {result.ok_rate:.0f} req/s (p50 {fmt_ms(result.percentile(50))}, "
            f"p99 {fmt_ms(result.percentile(99))}, errors {result.errors} {dict(result.statuses)}, "
            f"CPU {'-' if cpu is None else f'{cpu:.2f}'} ms per case)")
    return out


def drain_jobs(env: dict) -> dict:
    """Run the jobs the reports queued, in one process as `yiwang worker` runs them; their CPU."""
    code = ("import json, time; from yiwang.cases.tasks import run_announcements; "
            "from django_tasks_db.models import DBTaskResult; from yiwang.cases.tasks import case_opened_task; "
            "c = time.process_time(); n = run_announcements(); c = time.process_time() - c; "
            "rows = DBTaskResult.objects.filter(task_path=case_opened_task.module_path); "
            "print(json.dumps({'ran': n, 'cpu_s': round(c, 3), 'jobs': rows.count(), "
            "'successful': rows.filter(status='SUCCESSFUL').count()}))")
    return json.loads(run([str(YIWANG), "shell", "-c", code], env, timeout=900).strip().splitlines()[-1])


def db_counts(env: dict) -> dict:
    code = ("import json; from django.db.models import Count; from yiwang.cases.models import Case; "
            "print(json.dumps({'by_channel': dict(Case.objects.values_list('channel').annotate(n=Count('id'))), "
            "'flagged': Case.objects.filter(likely_duplicate_of__isnull=False).count(), "
            "'dispatched': Case.objects.filter(kind='incident').exclude(state='reported').count()}))")
    return json.loads(run([str(YIWANG), "shell", "-c", code], env, timeout=120).strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- report


def report(results: dict) -> str:
    rows = results["targets"]
    base = rows["application"]["peak"]["cpu_ms_per_request"]
    head = ("target", "req/s", "CPU ms/case", "x application", "p50 / p99 at 80 % (ms)", "errors", "verdict")
    lines = []
    for name, r in rows.items():
        peak, steady = r["peak"], r["steady"]
        cpu = peak["cpu_ms_per_request"]
        ratio = cpu / base if cpu and base else None
        verdict = []
        if name != "application":
            verdict.append("CPU " + ("ok" if ratio is not None and ratio <= TARGET_CPU_RATIO else "MISSED"))
        p99 = steady["p99_ms"]
        verdict.append("p99 " + ("ok" if p99 is not None and p99 < TARGET_P99_MS else "MISSED"))
        lines.append((name, f"{peak['ok_rate']:.0f}", "-" if cpu is None else f"{cpu:.2f}",
                      "baseline" if name == "application" else ("-" if ratio is None else f"{ratio:.2f}x"),
                      f"{steady['p50_ms']} / {p99}", f"{peak['errors']} + {steady['errors']}", ", ".join(verdict)))
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) if i in (0, 6) else str(c).rjust(w) for i, (c, w) in enumerate(zip(x, widths,
                                                                                                        strict=True)))
           for x in [head, *lines]]
    out.insert(1, "-" * len(out[0]))
    other = max(r["peak"]["other_cores"] for r in rows.values())
    out.append(f"targets: CPU per case <= {TARGET_CPU_RATIO:g}x the application's (same run), p99 < {TARGET_P99_MS:g} ms "
               f"at 80 % of the target's own peak")
    out.append("machine: " + ", ".join(f"{n} {r['peak']['server_cores']:.2f}/{r['peak']['other_cores']:.2f}"
                                       for n, r in rows.items())
               + " (server / other processes' cores, phase A)")
    if other >= 0.2:
        out.append(f"WARNING: other processes used up to {other:.2f} cores: absolute figures are noisy; "
                   "compare the ratios, and repeat")
    jobs = results["jobs"]
    incidents = sum(results["db"]["by_channel"].get(c, 0) for c in ("grid", "open311", "online", "camera"))
    if incidents:
        out.append(f"deferred to the worker: {jobs['ran']} jobs (duplicate flag, 自动派遣) for {incidents} incidents, "
                   f"{1000 * jobs['cpu_s'] / max(1, jobs['ran']):.2f} CPU ms each, off the request path; "
                   f"{results['db']['flagged']} flagged as likely duplicates")
    rss = results["rss_kib_by_worker"]
    out.append("RSS per worker after load (MiB): " + " / ".join(f"{v / 1024:.0f}" for v in rss.values() if v))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=6.0, help="seconds of each measured phase, per target")
    ap.add_argument("--rounds", type=int, default=3, help="slices each phase is cut into (the targets take turns)")
    ap.add_argument("--connections", type=int, default=12, help="keep-alive connections (phase A concurrency)")
    ap.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds per target first")
    ap.add_argument("--workers", type=int, default=2, help="granian workers")
    ap.add_argument("--only", action="append", default=None,
                    help="measure only this target (repeatable); the application is always measured")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/incident_intake-*.json")
    args = ap.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--duration must be > 0, --connections >= 1, --warmup >= 0, --rounds >= 1")
    budget = int(300 + 6 * 2 * (args.duration + args.warmup) + 600)  # setup + the load + the worker's drain
    return run_benchmark("incident_intake", ap, args, lambda tmp: bench(args, tmp), budget=budget, cleanup=stop_all)


def bench(args, tmp: Path) -> tuple[dict, int]:
    env, clerk_token, _db, _floor_db = intake.prepare(tmp)
    # Enough distinct alerts and codes for a target at 1,500 req/s through warm-up and both phases.
    per_target = int(1500 * (args.warmup + 2 * args.duration)) + 1000
    log(f"setting up the entry points ({per_target} SMS codes)")
    setup_env = dict(env, BENCH_CODES=str(per_target), BENCH_CAMERA=CAMERA, BENCH_LAT=LAT, BENCH_LNG=LNG)
    setup = json.loads(run([str(YIWANG), "shell", "-c", SETUP], setup_env, timeout=300).strip().splitlines()[-1])

    port = free_port()
    server = Server("yiwang", [str(YIWANG), "serve", "--host", HOST, "--port", str(port), "--workers",
                               str(args.workers), "--no-collectstatic"], env, port, tmp / "yiwang-server.log")
    ts = targets(port, setup, clerk_token, per_target)
    if args.only:
        unknown = set(args.only) - {t.name for t in ts}
        if unknown:
            raise BenchError(f"--only: no target {', '.join(sorted(unknown))}; targets: {', '.join(t.name for t in ts)}")
        ts = [t for t in ts if t.name == "application" or t.name in args.only]
    settle()
    server.start()
    server.wait_ready(timeout=120)  # each worker loads the segmenter and the pinyin tables first
    log(f"yiwang: up on :{port}, workers {server.workers()}")
    first = {}
    warm = {}
    for t in ts:
        # The first request of each kind, alone: what a visitor meets after a restart.
        one = asyncio.run(loadgen.closed_loop(HOST, port, t.request, connections=1, duration=0.001, ok_status=t.ok_status))
        first[t.name] = one.percentile(100)
        if one.ok != 1:
            raise BenchError(f"{t.name}: the first request answered {dict(one.statuses)}, not {t.ok_status}:\n"
                             f"{server.log_tail()}")
        warm[t.name] = asyncio.run(loadgen.closed_loop(HOST, port, t.request, connections=args.connections,
                                                       duration=args.warmup, ok_status=t.ok_status))
    peaks = phase(server, ts, args)
    for name, (peak, _cpu) in peaks.items():
        if peak.ok_rate <= 0:
            raise BenchError(f"{name}: no successful answers in the closed loop: {peak.summary()}\n{server.log_tail()}")
    steadies = phase(server, ts, args, rates={name: OPEN_LOOP_SHARE * peak.ok_rate for name, (peak, _cpu) in peaks.items()})
    rss = {str(pid): Server.rss_kib(pid) for pid in server.workers()}
    server.stop()

    log("counting the cases and running the queued jobs as the worker would")
    counts = db_counts(env)
    jobs = drain_jobs(env)
    after = db_counts(env)
    oks = {t.name: 1 + warm[t.name].ok + peaks[t.name][0].ok + steadies[t.name][0].ok for t in ts}
    by_channel = counts["by_channel"]
    expected: dict[str, int] = {}
    for t in ts:
        channel = "grid" if t.channel == "grid_api" else t.channel
        expected[channel] = expected.get(channel, 0) + oks[t.name]
    incidents = sum(v for k, v in expected.items() if k != "hall")
    p = subprocess.run([str(YIWANG), "verify"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    verification = {
        "cases_by_channel": by_channel, "successes_by_channel": expected,
        "no_lost_writes": all(by_channel.get(k, 0) == v for k, v in expected.items()),
        "jobs_once": jobs["jobs"] == incidents and jobs["successful"] == incidents,
        "verify_ok": p.returncode == 0,
        "verify_output": (p.stdout.strip().splitlines() or [""])[0],
    }
    results = {
        "benchmark": "incident_intake",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"duration_s": args.duration, "rounds": args.rounds, "connections": args.connections,
                   "warmup_s": args.warmup, "workers": args.workers, "open_loop_share": OPEN_LOOP_SHARE},
        "environment": environment(granian=version("granian"), django_ninja=version("django-ninja")),
        "targets": {t.name: {"what": t.what, "first_request_ms": round(1000 * first[t.name], 1),
                             "warmup": warm[t.name].summary(),
                             "peak": {**peaks[t.name][0].summary(), **peaks[t.name][1]},
                             "steady": {**steadies[t.name][0].summary(), **steadies[t.name][1]}} for t in ts},
        "rss_kib_by_worker": rss,
        "db": after, "jobs": jobs, "verification": verification,
        "elapsed_s": round(elapsed(), 1),
    }
    print()
    print(f"incident intake: every entry point beside POST /api/v1/cases (application), {args.workers} granian "
          f"workers, SQLite WAL, {args.connections} connections, {args.duration:g} s per phase in {args.rounds} turns, "
          f"{os.cpu_count()} CPUs shared with the load generator, commit {results['environment']['commit']}")
    print(report(results))
    print("first request of each kind after the start (ms): "
          + ", ".join(f"{n} {1000 * v:.0f}" for n, v in first.items()))
    ok = verification["no_lost_writes"] and verification["jobs_once"] and verification["verify_ok"]
    print(f"checks: cases by channel = successes {verification['no_lost_writes']}, every job ran once "
          f"{verification['jobs_once']}, yiwang verify {verification['verify_ok']}")
    if not ok:
        print(json.dumps(verification, ensure_ascii=False))
    return results, 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
