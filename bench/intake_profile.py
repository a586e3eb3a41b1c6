#!/usr/bin/env python
"""Where one POST /api/v1/cases spends its CPU: the intake request in-process, without HTTP or granian.

``.venv/bin/python bench/intake_profile.py`` builds the same database as bench/intake.py (a temp dir,
``yiwang migrate``, ``build_world()``, a token for clerk_xfl), then calls yiwang's WSGI application
and bench/floor_app.py directly with the bench's request, one request at a time, and prints:

- CPU and wall time per request of each, and their ratio (what bench/intake.py calls "server CPU per
  request", without granian's share and without the load generator beside it);
- a table of components: every middleware, URL resolving and the view, ninja's authentication,
  input parsing and rendering, and the handler's parts (case_create: matter, checks, routing, the
  event's hash, the search tokens, compiling the INSERTs, BEGIN, the executes, the tallies, COMMIT,
  the on_commit receivers), in ms of this thread's CPU per request. "incl" counts what a part
  calls, "self" only what is not another listed part. The timers add ~0.1 ms to the total;
- ``--profile``: cProfile's top functions; ``--pyinstrument``: pyinstrument's call tree (not a
  dependency: ``pip install --target DIR pyinstrument`` and ``PYTHONPATH=DIR``).

CPU time still depends on what else runs on the machine (caches, the other hyperthread). For A/B
comparisons of code that must not depend on it, count instructions: ``--yiwang-only`` (or
``--floor-only``) under ``valgrind --tool=cachegrind --cache-sim=no``, twice with different
``--requests``; the difference of the two "I refs" divided by the difference of the requests is the
instructions per request, repeatable to ~1 %. Set YIWANG_CONFIG_RECHECK_SECONDS=3600 for that: under
valgrind a request is ~50x slower, and the 2-second rechecks of the configuration caches would
otherwise count as part of every request.

``--db PATH --token T`` starts from a copy of a database prepared earlier (``--save-db PATH`` keeps
one and prints its token): migrate and build_world take 20-100 s depending on the machine's load.
``--service-only`` calls cases.services.case_create directly instead of the WSGI application: the
difference to the full request is what Django, the middleware and ninja cost.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import io
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import bench_env, log, wsgi_call  # noqa: E402
from intake import BODY  # noqa: E402

Driver = Callable[[object, bytes, dict, int], tuple[list[float], list[float]]]

# The component timers: inclusive CPU ns per name, calls, CPU ns spent in listed parts inside it, and
# the part a name was last called from.
_incl: dict[str, int] = defaultdict(int)
_calls: dict[str, int] = defaultdict(int)
_child: dict[str, int] = defaultdict(int)
_parent: dict[str, str] = {}
_stack: list[str] = []


def timed(name: str, fn):
    """``fn`` wrapped to add this thread's CPU time to ``name`` (and to its enclosing timed part)."""

    def wrapper(*args, **kwargs):
        _stack.append(name)
        t = time.thread_time_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            d = time.thread_time_ns() - t
            _stack.pop()
            _incl[name] += d
            _calls[name] += 1
            if _stack:
                _child[_stack[-1]] += d
                _parent[name] = _stack[-1]

    wrapper.__wrapped__ = fn
    return wrapper


def patch(obj, attr: str, name: str) -> None:
    setattr(obj, attr, timed(name, getattr(obj, attr)))


def instrument(middleware: list[str]) -> None:
    """Wrap the middleware classes and the intake path's functions in timers, before the app loads."""
    from django.core.handlers import base
    from django.db import transaction
    from django.db.models import Model
    from django.utils.module_loading import import_string
    from ninja import operation

    from yiwang import api
    from yiwang.cases import api as cases_api
    from yiwang.cases import rollups, routing, search, services
    from yiwang.cases.services import intake, timeline
    from yiwang.core import inserts

    for path in middleware:
        cls = import_string(path)
        cls.__call__ = timed("mw " + path.rsplit(".", 1)[-1], cls.__call__)
    patch(base.BaseHandler, "_get_response", "django _get_response (resolve + view)")
    patch(operation.Operation, "run", "ninja Operation.run")
    patch(operation.Operation, "_run_authentication", "ninja auth")
    patch(operation.Operation, "_get_values", "ninja parse + validate input")
    patch(operation.Operation, "_result_to_response", "ninja render response")
    patch(api.TokenAuth, "authenticate", "TokenAuth.authenticate")
    patch(cases_api, "case_summary", "case_summary")
    patch(services, "case_create", "case_create")  # the package's name is the one the endpoint calls
    patch(intake, "matter_info", "matter_info")
    patch(intake, "_check_submission", "_check_submission")
    patch(intake, "materials_from_caller", "materials_from_caller")
    patch(routing, "route", "routing.route")
    patch(intake, "insert_opened", "insert_opened")
    patch(timeline, "event_hash", "event_hash")
    patch(timeline, "seal", "seal")
    patch(search, "index_text", "search.index_text")
    patch(timeline, "compile_insert", "compile_insert")
    for name in ("contributions", "changes", "execute", "track", "record"):
        if hasattr(rollups, name):
            patch(rollups, name, f"rollups.{name}")
    patch(transaction.Atomic, "__enter__", "atomic enter (BEGIN)")
    patch(transaction.Atomic, "__exit__", "atomic exit (COMMIT)")
    patch(Model, "__init__", "Model.__init__")
    patch(inserts.CompiledInsert, "execute", "INSERT execute")


def table(n: int) -> str:
    head = ("component", "calls", "incl ms", "self ms", "inside")
    rows = [(name, f"{_calls[name] / n:.1f}", f"{_incl[name] / n / 1e6:.3f}",
             f"{(_incl[name] - _child.get(name, 0)) / n / 1e6:.3f}", _parent.get(name, ""))
            for name in sorted(_incl, key=lambda k: -_incl[k])]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in [head, *rows])


# ---------------------------------------------------------------------------------------------- drivers


@functools.cache
def _server_environ() -> dict[str, str]:
    return dict(os.environ)  # once, as granian does: it is the same for every request


def environ_for(body: bytes, headers: dict[str, str]) -> dict:
    # Led by os.environ, as granian (and gunicorn, uWSGI) build it: the server's environment is in
    # every request's META, and whatever walks META pays for it.
    env = {
        **_server_environ(),
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/cases", "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
        "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:8000", "wsgi.input": io.BytesIO(body),
    }
    for k, v in headers.items():
        key = k.upper().replace("-", "_")
        env[key if key == "CONTENT_TYPE" else "HTTP_" + key] = v
    return env


def wsgi_driver(keyed: bool) -> Driver:
    """Call a WSGI app n times; (CPU s, wall s) of each call, with its answer read to the end."""

    def drive(app, body: bytes, headers: dict, n: int) -> tuple[list[float], list[float]]:
        cpu, wall = [], []
        for _ in range(n):
            env = environ_for(body, {**headers, "Idempotency-Key": uuid.uuid4().hex} if keyed else headers)
            c0, w0 = time.process_time(), time.perf_counter()
            status = wsgi_call(app, env)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            if not status.startswith("201"):
                raise SystemExit(f"unexpected answer {status}")
        return cpu, wall

    return drive


def service_driver(token: str) -> Driver:
    """case_create called as the endpoint calls it, without HTTP, Django's handler, middleware or ninja."""
    from yiwang.cases import services
    from yiwang.org.selectors import user_for_token, viewer_for

    viewer = viewer_for(user_for_token(token))

    def drive(app, body: bytes, headers: dict, n: int) -> tuple[list[float], list[float]]:
        cpu, wall = [], []
        for _ in range(n):
            c0, w0 = time.process_time(), time.perf_counter()
            services.case_create(viewer=viewer, idempotency_key=None, **json.loads(body))
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        return cpu, wall

    return drive


def floor_app(db: Path, floor_db: Path, tmp: Path):
    """bench/floor_app.py on a copy of the database, its rows modelled on yiwang's first case."""
    from yiwang.settings import database_from_url

    opts = database_from_url(f"sqlite:///{floor_db}")["OPTIONS"]
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        case = conn.execute("SELECT * FROM cases_case ORDER BY id LIMIT 1").fetchone()
        if case is None:
            raise SystemExit("yiwang wrote no case to model the floor's rows on")
        event = conn.execute("SELECT * FROM cases_caseevent WHERE case_id = ? ORDER BY seq LIMIT 1",
                             (case["id"],)).fetchone()
    template = tmp / "template.json"
    template.write_text(json.dumps({"case": dict(case), "event": dict(event)}, ensure_ascii=False))
    # floor_app reads its configuration when it is imported.
    os.environ.update(FLOOR_DB=str(floor_db), FLOOR_INIT_COMMAND=opts.get("init_command", ""),
                      FLOOR_TIMEOUT=str(opts.get("timeout", 20)), FLOOR_TEMPLATE=str(template))
    import floor_app as floor

    return floor.app


# ---------------------------------------------------------------------------------------------- main


def prepare(args, tmp: Path) -> tuple[Path, str, dict]:
    db = tmp / "bench.sqlite3"
    if args.db:
        with sqlite3.connect(args.db) as src, sqlite3.connect(db) as dst:
            src.backup(dst)
        token, env = args.token, bench_env(db, tmp)
    else:
        import intake

        env, token, db, _floor_db = intake.prepare(tmp)
    if args.save_db:
        with sqlite3.connect(db) as src, sqlite3.connect(args.save_db) as dst:
            src.backup(dst)
        print(f"prepared database saved to {args.save_db}; token {token}")
    return db, token, env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="measured requests per app, default 2000")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured requests first, default 200")
    ap.add_argument("--db", help="start from a copy of this prepared database (with --token)")
    ap.add_argument("--token", help="the bearer token that goes with --db")
    ap.add_argument("--save-db", help="keep a copy of the prepared database here (and print its token)")
    ap.add_argument("--no-components", action="store_true", help="no component timers: the plain CPU figures")
    ap.add_argument("--idempotency-key", action="store_true", help="a fresh Idempotency-Key on every request")
    ap.add_argument("--service-only", action="store_true", help="call case_create instead of the WSGI app")
    ap.add_argument("--yiwang-only", action="store_true", help="measure yiwang only (the floor is skipped)")
    ap.add_argument("--floor-only", action="store_true", help="measure the floor only (after yiwang's warm-up)")
    ap.add_argument("--profile", action="store_true", help="cProfile over yiwang's requests")
    ap.add_argument("--pyinstrument", action="store_true", help="pyinstrument's call tree of yiwang's requests")
    ap.add_argument("--queries", action="store_true", help="print the SQL statements of one request")
    ap.add_argument("--profile-save", help="with --profile: also write cProfile's stats to this file (pstats)")
    ap.add_argument("--top", type=int, default=35, help="functions --profile lists, default 35")
    args = ap.parse_args()
    if args.db and not args.token:
        ap.error("--db needs --token")

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-intake-profile-"))
    try:
        db, token, env = prepare(args, tmp)
        floor_db = tmp / "floor.sqlite3"
        with sqlite3.connect(db) as src, sqlite3.connect(floor_db) as dst:
            src.backup(dst)
        os.environ.update(env)
        (tmp / "static").mkdir(exist_ok=True)

        import django

        django.setup()
        from django.conf import settings

        if not args.no_components:
            instrument(list(settings.MIDDLEWARE))
        from django.core.wsgi import get_wsgi_application

        app = get_wsgi_application()
        body = json.dumps(BODY, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Authorization": f"Bearer {token}"}
        drive_y = service_driver(token) if args.service_only else wsgi_driver(args.idempotency_key)

        log(f"yiwang: {args.warmup} warm-up requests")
        drive_y(app, body, headers, args.warmup)
        for timers in (_incl, _calls, _child, _parent):
            timers.clear()
        gc.collect()
        y_requests = 0 if args.floor_only else args.requests
        log(f"yiwang: {y_requests} requests")
        y_cpu, y_wall = drive_y(app, body, headers, y_requests)
        components = table(max(1, y_requests))

        f_cpu = f_wall = []
        if not args.yiwang_only:
            floor = floor_app(db, floor_db, tmp)
            drive_f = wsgi_driver(False)
            drive_f(floor, body, headers, args.warmup)
            gc.collect()
            f_cpu, f_wall = drive_f(floor, body, headers, args.requests)

        def ms(xs: list[float]) -> str:
            return f"{statistics.mean(xs) * 1000:.3f} mean / {statistics.median(xs) * 1000:.3f} p50" if xs else "-"

        print()
        what = "case_create only" if args.service_only else "in-process, no HTTP, no granian"
        print(f"per request, {args.requests} requests each ({what}"
              + ("; components timed, +~0.1 ms" if not args.no_components else "") + ")")
        print(f"  yiwang CPU  {ms(y_cpu)} ms   wall {ms(y_wall)} ms")
        print(f"  floor  CPU  {ms(f_cpu)} ms   wall {ms(f_wall)} ms")
        if y_cpu and f_cpu:
            print(f"  ratio (CPU mean) {statistics.mean(y_cpu) / statistics.mean(f_cpu):.1f}x")
        if y_cpu and not args.no_components:
            print()
            print(components)

        if args.queries:
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                drive_y(app, body, headers, 1)
            print(f"\nSQL statements in one request: {len(ctx.captured_queries)}")
            for q in ctx.captured_queries:
                print(f"  {q['sql'][:300]}")
        if args.profile:
            # This thread's CPU, not the wall clock: a COMMIT waiting for the disk or a busy machine's
            # other processes would otherwise count as the function's own time.
            prof = cProfile.Profile(time.thread_time)
            prof.enable()
            drive_y(app, body, headers, min(args.requests, 1000))
            prof.disable()
            if args.profile_save:
                prof.dump_stats(args.profile_save)
            for key in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
                print(out.getvalue())
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            drive_y(app, body, headers, min(args.requests, 1000))
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PYINSTRUMENT_ALL"))))
        return 0
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
