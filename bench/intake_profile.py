#!/usr/bin/env python
"""Where one POST /api/v1/cases spends its time: the intake request in-process, without HTTP or granian.

``.venv/bin/python bench/intake_profile.py`` builds the same database as bench/intake.py (a temp dir,
``yiwang migrate``, ``build_world()``, a token for clerk_xfl), then calls yiwang's WSGI application
and bench/floor_app.py directly with the bench's request, one request at a time, and prints:

- CPU and wall time per request of each (the ratio of the two is the bench's "server CPU" ratio
  without granian and the load generator);
- a table of components (ms per request): every middleware on its own, the routing and ninja's
  parsing, authentication, the handler's parts (case_create: matter, checks, hierarchy, routing,
  hashing, compiling the INSERTs, the transaction, the tally, the on_commit receivers), the
  response's rendering. Times are inclusive; "self" is what is left after the listed parts inside;
- with ``--profile``, cProfile's top functions (by own time, and by cumulative time).

``--db PATH`` starts from a copy of an existing prepared database (saves the ~30-70 s of migrate and
build_world on a busy machine; ``--save-db PATH`` keeps one). ``--token`` goes with ``--db``.
"""

from __future__ import annotations

import argparse
import cProfile
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
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import bench_env, log  # noqa: E402

BODY = {
    "matter_code": "SENIOR_CARD",
    "region_code": "KG-DZ-XFL",
    "channel": "hall",
    "applicant_name": "王大爷",
    "applicant_phone": "13800000001",
    "form": {"birth_date": "1950-01-01"},
    "materials": [{"code": "id_card"}, {"code": "photo"}],
}

_incl: dict[str, int] = defaultdict(int)  # name -> ns, inclusive
_calls: dict[str, int] = defaultdict(int)
_stack: list[str] = []
_child: dict[str, int] = defaultdict(int)  # name -> ns spent in listed children
_parent: dict[str, str] = {}


def timed(name: str, fn):
    """``fn`` wrapped to add its CPU time (this thread's) to ``name`` (and to its enclosing timed parent's children)."""

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


def patch(obj, attr: str, name: str | None = None) -> None:
    setattr(obj, attr, timed(name or attr, getattr(obj, attr)))


def environ_for(body: bytes, headers: dict[str, str]) -> dict:
    env = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/cases", "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
        "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:8000",
    }
    for k, v in headers.items():
        key = k.upper().replace("-", "_")
        env[key if key == "CONTENT_TYPE" else "HTTP_" + key] = v
    return env


def drive(app, body: bytes, headers: dict[str, str], n: int, expect: str) -> tuple[list[float], list[float]]:
    """Call ``app`` n times; (cpu seconds, wall seconds) of each call, the response read to the end."""
    cpu, wall = [], []
    status = []

    def start_response(s, h, exc_info=None):
        status.append(s)

    for _ in range(n):
        env = environ_for(body, headers)
        env["wsgi.input"] = io.BytesIO(body)
        c0, w0 = time.process_time(), time.perf_counter()
        result = app(env, start_response)
        for _chunk in result:
            pass
        if hasattr(result, "close"):
            result.close()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        if not status[-1].startswith(expect):
            raise SystemExit(f"unexpected answer {status[-1]}")
    return cpu, wall


def drive_service(token: str):
    """A drop-in for drive() that calls case_create as the endpoint does, without HTTP, Django or ninja."""
    from yiwang.cases import services
    from yiwang.org.selectors import user_for_token, viewer_for

    viewer = None

    def run(app, body, headers, n, expect):
        nonlocal viewer
        viewer = viewer or viewer_for(user_for_token(token))
        cpu, wall = [], []
        for _ in range(n):
            data = json.loads(body)
            c0, w0 = time.process_time(), time.perf_counter()
            services.case_create(viewer=viewer, idempotency_key=None, **data)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        return cpu, wall

    return run


def instrument(mw_names: list[str]) -> None:
    """Wrap the middleware classes and the intake path's functions in timers (before the app loads)."""
    from django.utils.module_loading import import_string

    for path in mw_names:
        cls = import_string(path)
        cls.__call__ = timed("mw " + path.rsplit(".", 1)[-1], cls.__call__)

    from django.core.handlers import base
    from ninja import operation

    import yiwang.api as yapi
    from yiwang.cases import api as capi
    from yiwang.cases import rollups, routing, search, services
    from yiwang.core import idempotency

    patch(base.BaseHandler, "_get_response", "django _get_response (resolve + view)")
    patch(operation.Operation, "run", "ninja Operation.run")
    patch(operation.Operation, "_run_authentication", "ninja auth")
    patch(operation.Operation, "_get_values", "ninja parse + validate input")
    patch(operation.Operation, "_result_to_response", "ninja render response")
    patch(yapi.TokenAuth, "authenticate", "TokenAuth.authenticate")
    patch(capi, "case_summary", "case_summary")
    patch(services, "case_create", "case_create")
    patch(services, "matter_info", "matter_info")
    patch(services, "_check_submission", "_check_submission")
    patch(services, "hierarchy", "hierarchy()")
    patch(routing, "route", "routing.route")
    patch(routing, "explain", "routing.explain")
    patch(services, "workflow", "workflow()")
    patch(services, "_insert_opened", "_insert_opened")
    patch(services, "event_hash", "event_hash")
    patch(search, "index_text", "search.index_text")
    patch(services, "compile_insert", "compile_insert")
    patch(rollups, "record", "rollups.record")
    if hasattr(rollups, "track"):
        patch(rollups, "track", "rollups.track")
    from django.db import transaction

    patch(transaction.Atomic, "__enter__", "atomic enter (BEGIN)")
    patch(transaction.Atomic, "__exit__", "atomic exit (COMMIT)")
    patch(services.case_opened, "send", "case_opened.send (on_commit)")
    patch(idempotency, "request_key", "idempotency.request_key")
    from django.db.models import Model

    patch(Model, "__init__", "Model.__init__")
    from yiwang.core import inserts

    patch(inserts.CompiledInsert, "execute", "INSERT execute")
    from django.db.backends.base import base as dbbase

    patch(dbbase.BaseDatabaseWrapper, "close_if_unusable_or_obsolete", "db close_if_unusable (signals)")


def table(n: int) -> str:
    rows = []
    names = sorted(_incl, key=lambda k: -_incl[k])
    for name in names:
        incl = _incl[name] / n / 1e6
        own = (_incl[name] - _child.get(name, 0)) / n / 1e6
        rows.append((name, f"{_calls[name] / n:.1f}", f"{incl:.3f}", f"{own:.3f}", _parent.get(name, "")))
    head = ("component", "calls", "incl ms", "self ms", "inside")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    out = ["  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
           for r in [head, *rows]]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="measured requests per app (default 2000)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--db", help="start from a copy of this prepared database (with --token)")
    ap.add_argument("--token", help="the bearer token that goes with --db")
    ap.add_argument("--save-db", help="keep a copy of the prepared database here (and print the token)")
    ap.add_argument("--profile", action="store_true", help="also run cProfile over the yiwang requests")
    ap.add_argument("--pyinstrument", action="store_true",
                    help="also print pyinstrument's call tree (pip install --target DIR pyinstrument; PYTHONPATH=DIR)")
    ap.add_argument("--no-components", action="store_true", help="skip the component timers (pure CPU figures)")
    ap.add_argument("--idempotency-key", action="store_true", help="send a fresh Idempotency-Key with each request")
    ap.add_argument("--floor-only", action="store_true", help="measure the floor only (after yiwang's warm-up)")
    ap.add_argument("--yiwang-only", action="store_true", help="measure yiwang only (no floor, no profile)")
    ap.add_argument("--service-only", action="store_true",
                    help="call cases.services.case_create directly instead of the WSGI app (the framework's share)")
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-intake-profile-"))
    try:
        db = tmp / "bench.sqlite3"
        if args.db:
            if not args.token:
                ap.error("--db needs --token")
            with sqlite3.connect(args.db) as src, sqlite3.connect(db) as dst:
                src.backup(dst)
            token = args.token
            env = bench_env(db, tmp)
        else:
            import intake

            env, token, db, _floor = intake.prepare(tmp)
        if args.save_db:
            with sqlite3.connect(db) as src, sqlite3.connect(args.save_db) as dst:
                src.backup(dst)
            print(f"prepared database saved to {args.save_db}; token {token}")
        floor_db = tmp / "floor.sqlite3"
        with sqlite3.connect(db) as src, sqlite3.connect(floor_db) as dst:
            src.backup(dst)
        os.environ.update(env)
        os.environ.pop("YIWANG_ALLOWED_HOSTS", None)
        os.environ["YIWANG_ALLOWED_HOSTS"] = "127.0.0.1,localhost"

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
        keyed = args.idempotency_key
        if keyed:
            import uuid

            base_drive = drive

            def drive_keyed(app_, body_, headers_, n, expect):
                cpu, wall = [], []
                for _ in range(n):
                    c, w = base_drive(app_, body_, {**headers_, "Idempotency-Key": uuid.uuid4().hex}, 1, expect)
                    cpu += c
                    wall += w
                return cpu, wall

            run_y = drive_keyed
        else:
            run_y = drive
        if args.service_only:
            run_y = drive_service(token)
        log(f"yiwang: {args.warmup} warm-up requests")
        run_y(app, body, headers, args.warmup, "201")
        _incl.clear(), _calls.clear(), _child.clear(), _parent.clear()
        gc.collect()
        y_requests = 0 if args.floor_only else args.requests
        log(f"yiwang: {y_requests} requests")
        y_cpu, y_wall = run_y(app, body, headers, y_requests, "201")
        components = table(max(1, y_requests))
        if args.yiwang_only:
            # For counting instructions: `valgrind --tool=cachegrind --cache-sim=no` over two runs that
            # differ only in --requests gives the instructions per request, free of the machine's load.
            print(f"yiwang CPU {statistics.mean(y_cpu) * 1000 if y_cpu else 0:.3f} ms mean over {args.requests}")
            return 0

        # The floor in the same process: its module reads its configuration at import.
        from yiwang.settings import database_from_url

        opts = database_from_url(f"sqlite:///{floor_db}")["OPTIONS"]
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            case = conn.execute("SELECT * FROM cases_case ORDER BY id LIMIT 1").fetchone()
            event = conn.execute("SELECT * FROM cases_caseevent WHERE case_id = ? ORDER BY seq LIMIT 1",
                                 (case["id"],)).fetchone()
        (tmp / "template.json").write_text(json.dumps({"case": dict(case), "event": dict(event)}, ensure_ascii=False))
        os.environ.update(FLOOR_DB=str(floor_db), FLOOR_INIT_COMMAND=opts.get("init_command", ""),
                          FLOOR_TIMEOUT=str(opts.get("timeout", 20)), FLOOR_TEMPLATE=str(tmp / "template.json"))
        import floor_app

        drive(floor_app.app, body, headers, args.warmup, "201")
        gc.collect()
        f_cpu, f_wall = drive(floor_app.app, body, headers, args.requests, "201")
        if args.floor_only:
            print(f"floor CPU {statistics.mean(f_cpu) * 1000 if f_cpu else 0:.3f} ms mean over {args.requests}")
            return 0

        def ms(xs):
            return f"{statistics.mean(xs) * 1000:.3f} mean / {statistics.median(xs) * 1000:.3f} p50"

        print()
        print(f"per request, {args.requests} requests each, in-process (no HTTP, no granian)"
              + (", components timed (adds ~0.1 ms)" if not args.no_components else ""))
        print(f"  yiwang CPU  {ms(y_cpu)} ms   wall {ms(y_wall)} ms")
        print(f"  floor  CPU  {ms(f_cpu)} ms   wall {ms(f_wall)} ms")
        print(f"  ratio (CPU mean) {statistics.mean(y_cpu) / statistics.mean(f_cpu):.1f}x")
        if not args.no_components:
            print()
            print(components)

        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            run_y(app, body, headers, min(args.requests, 1000), "201")
            prof.disable()
            for key in ("tottime", "cumulative"):
                s = io.StringIO()
                pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(args.top)
                print(s.getvalue())
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            run_y(app, body, headers, min(args.requests, 1000), "201")
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PYINSTRUMENT_ALL"))))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
