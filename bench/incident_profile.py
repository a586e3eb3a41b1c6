#!/usr/bin/env python
"""Where an incident's CPU goes, entry point by entry point, in-process (no HTTP, no granian).

``.venv/bin/python bench/incident_profile.py`` builds bench/incident_intake.py's database and entry
points, then calls yiwang's WSGI application directly with each target's request (the very bytes the
load bench sends, turned into a WSGI environ as bench/intake_profile.py does), one at a time, and
prints the CPU per request of each and its ratio to the application's. ``--profile NAME`` adds
cProfile's top functions for that target; ``--queries`` prints the SQL of one request of each;
``--jobs`` also times the queued jobs (duplicate check, 自动派遣) the reports left for the worker, per job.

For a change of a few per cent, count instructions instead: ``--only NAME --no-baseline`` under
``valgrind --tool=cachegrind --cache-sim=no``, with two values of ``--requests``, as bench/README.md
("Profiling") says for the application.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import incident_intake  # noqa: E402
import intake  # noqa: E402
from common import YIWANG, log, run, wsgi_call  # noqa: E402
from intake_profile import environ_for  # noqa: E402


def split(request: bytes) -> tuple[str, bytes, dict]:
    """(path, body, headers) of a request built by loadgen.build_request."""
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers.pop("Host", None)
    headers.pop("Content-Length", None)
    return path, body, headers


def drive(app, target, n: int) -> list[float]:
    """CPU seconds of each of ``n`` calls; a call that does not answer the target's success stops the run."""
    cpu: list[float] = []
    for _ in range(n):
        request = target.request.next() if hasattr(target.request, "next") else target.request
        path, body, headers = split(request)
        env = environ_for(body, headers)
        path, _, query = path.partition("?")
        env.update(PATH_INFO=path, QUERY_STRING=query)
        c0 = time.process_time()
        status = wsgi_call(app, env)
        cpu.append(time.process_time() - c0)
        if not status.startswith(str(target.ok_status)):
            raise SystemExit(f"{target.name}: answered {status}, not {target.ok_status}")
    return cpu


def interleaved(app, targets, warmup: int, n: int) -> dict[str, list[float]]:
    """CPU seconds of each target's ``n`` calls, made one per target in turn after ``warmup`` rounds."""
    for _ in range(warmup):
        for t in targets:
            drive(app, t, 1)
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    for i in range(n):
        for t in targets if i % 2 == 0 else targets[::-1]:
            cpu[t.name] += drive(app, t, 1)
    return cpu


def print_queries(app, target) -> None:
    """The SQL statements of one more request of ``target``, numbered, with the transaction markers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        drive(app, target, 1)
    print(f"--- {target.name}: {len(captured.captured_queries)} queries")
    for i, q in enumerate(captured.captured_queries, 1):
        print(f"{i:3} {q['sql'][:220]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=300, help="measured requests per target, default 300")
    ap.add_argument("--warmup", type=int, default=30, help="unmeasured requests per target first, default 30")
    ap.add_argument("--only", action="append", help="this target only (repeatable)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the application (with --only)")
    ap.add_argument("--profile", action="append", default=[], help="cProfile this target's requests (repeatable)")
    ap.add_argument("--top", type=int, default=30, help="functions --profile lists, default 30")
    ap.add_argument("--jobs", action="store_true", help="then run and time the jobs the reports queued")
    ap.add_argument("--queries", action="store_true", help="print the SQL of one request of each target")
    ap.add_argument("--interleave", action="store_true",
                    help="one request of each target in turn (the order flipped every round), not target by "
                         "target: on a busy machine a burst of other work then falls on all of them alike")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-incident-profile-"))
    try:
        env, clerk_token, _db, _floor_db = intake.prepare(tmp)
        per_target = 2 * (args.requests + args.warmup) + 10
        setup_env = dict(env, BENCH_CODES=str(per_target), BENCH_CAMERA=incident_intake.CAMERA,
                         BENCH_LAT=incident_intake.LAT, BENCH_LNG=incident_intake.LNG)
        setup = json.loads(run([str(YIWANG), "shell", "-c", incident_intake.SETUP], setup_env,
                               timeout=300).strip().splitlines()[-1])
        os.environ.update(env)
        import django

        django.setup()
        from django.core.wsgi import get_wsgi_application

        from yiwang.warmup import warm_up

        app = get_wsgi_application()
        log(f"warm-up: {warm_up(close_connections=False)}")
        targets = incident_intake.targets(8000, setup, clerk_token, per_target)
        if args.only:
            targets = [t for t in targets if t.name in args.only or (t.name == "application" and not args.no_baseline)]
        results = {}
        if args.interleave:
            cpu = interleaved(app, targets, args.warmup, args.requests)
            # Trimmed mean (a tenth off each end): a request preempted by another process counts less.
            results = {name: statistics.mean(sorted(v)[len(v) // 10:len(v) - len(v) // 10]) for name, v in cpu.items()}
            for name, value in results.items():
                log(f"{name}: {1000 * value:.3f} CPU ms per request (interleaved, trimmed mean)")
        for t in targets:
            if not args.interleave:
                drive(app, t, args.warmup)
                cpu = drive(app, t, args.requests)
                results[t.name] = statistics.mean(cpu)
                log(f"{t.name}: {1000 * results[t.name]:.3f} CPU ms per request")
            if args.queries:
                print_queries(app, t)
            if t.name in args.profile:
                prof = cProfile.Profile()
                prof.enable()
                drive(app, t, args.requests)
                prof.disable()
                for key in ("tottime", "cumulative"):
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
                    print(f"--- {t.name}, by {key}\n{out.getvalue()}")
        base = results.get("application")
        how = "taking turns, trimmed mean" if args.interleave else "target by target, mean"
        print(f"\nper request, in-process, {args.requests} requests each after {args.warmup} unmeasured ({how})")
        for name, cpu in results.items():
            ratio = f"{cpu / base:.2f}x" if base and name != "application" else "baseline" if base else "-"
            print(f"  {name:13} {1000 * cpu:7.3f} CPU ms   {ratio}")
        if args.jobs:
            from yiwang.cases.tasks import run_announcements

            c0 = time.process_time()
            n = run_announcements()
            c = time.process_time() - c0
            print(f"  queued jobs (duplicate check, 自动派遣), in the worker: {n} jobs, "
                  f"{1000 * c / max(1, n):.3f} CPU ms each")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
