"""What the benchmarks share: their error, a `yiwang` subcommand, a fresh database, and the frame of main().

``run_benchmark`` is that frame: a time budget (SIGALRM), Ctrl-C / SIGTERM / SIGHUP turned into an
interruption, a temp dir, bench/results/<name>-<timestamp>.json, and the exit status (BenchError → 2,
interrupted → 130), with the temp dir removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The SQLite library yiwang runs on (pysqlite3's, not the system's): the same for both sides.
from yiwang.core.backends.sqlite import sqlite3

ROOT = Path(__file__).resolve().parent.parent
# Benchmarks read staff pages as a signed-in staff member past the second factor: their users have
# no authenticator. Every process a benchmark starts, and its in-process Django, inherits this.
os.environ.setdefault("YIWANG_STAFF_2FA", "off")
RESULTS = ROOT / "bench" / "results"
YIWANG = Path(sys.executable).parent / "yiwang"

_started = time.monotonic()


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{elapsed():6.1f}s] {msg}", file=sys.stderr, flush=True)


def elapsed() -> float:
    """Seconds since the benchmark started (since this module was imported)."""
    return time.monotonic() - _started


def run(argv: list[str], env: dict, timeout: float = 60.0) -> str:
    """Run a command from the repository root; its stdout, or BenchError with everything it said."""
    p = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


# ---------------------------------------------------------------------------------------------- a fresh database


def bench_env(db: Path, tmp: Path, **extra: str) -> dict:
    """This environment, with yiwang pointed at ``db`` and at ``tmp`` for var/ (never the real var/)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")  # as `yiwang` itself: another may be benched
    # Staff pages are timed as a logged-in staff member would see them after the second factor
    # (YIWANG_STAFF_2FA=off): the benchmark's users have no authenticator.
    env.update(YIWANG_DATABASE_URL=f"sqlite:///{db}", YIWANG_VAR_DIR=str(tmp), YIWANG_DEBUG="0",
               YIWANG_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", YIWANG_STAFF_2FA="off", **extra)
    return env


def migrate(env: dict, timeout: float = 60.0) -> None:
    log("migrating a fresh database")
    run([str(YIWANG), "migrate", "--noinput", "-v", "0"], env, timeout=timeout)


# ---------------------------------------------------------------------------------------------- measuring


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def process_cpu_s(pid: int) -> float:
    """CPU seconds one process has used (utime + stime, /proc/<pid>/stat); 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used since boot (user + nice + system, /proc/stat)."""
    # irq/softirq time (e.g. loopback traffic) is left out: it is the bench's own but no process's.
    with contextlib.suppress(OSError, ValueError, IndexError):
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4]]
        return sum(f) / os.sysconf("SC_CLK_TCK")
    return 0.0


# ---------------------------------------------------------------------------------------------- results


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(**extra) -> dict:
    """The machine and the versions a result was measured with; ``extra``: the benchmark's own."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=5).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "django": version("Django"), **extra, "commit": commit}


def save_results(name: str, results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"results: {out.relative_to(ROOT)}")


# ---------------------------------------------------------------------------------------------- main


def run_benchmark(name: str, ap: argparse.ArgumentParser, args: argparse.Namespace,
                  body: Callable[[Path], tuple[dict, int]], *, budget: int,
                  cleanup: Callable[[], None] | None = None) -> int:
    """Run ``body(tmp)`` in a fresh temp dir within ``budget`` seconds; its exit status.

    ``body`` prints its report and returns (results, exit status); the results are then written to
    bench/results/<name>-<timestamp>.json unless ``args.no_json``. BenchError (including the budget
    running out) gives 2, Ctrl-C, SIGTERM, SIGHUP or a subprocess timeout 130. ``cleanup`` runs at
    the end whatever happened (e.g. to stop servers); the temp dir is removed unless ``args.keep``.
    """
    script = f"bench/{name}.py"
    flag = " (--budget)" if "budget" in vars(args) else ""

    def on_alarm(signum, frame):
        raise BenchError(f"the run took longer than its {budget} s budget{flag}")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.alarm(budget)
    if not YIWANG.exists():
        ap.error(f"{YIWANG} not found: run this with the project's venv, `.venv/bin/python {script}`")
    tmp = Path(tempfile.mkdtemp(prefix=f"yiwang-bench-{name}-"))
    try:
        results, status = body(tmp)
        if not args.no_json:
            save_results(name, results)
        log("done")
        return status
    except BenchError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, subprocess.TimeoutExpired) as exc:
        print(f"{script}: interrupted ({type(exc).__name__})", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
        if cleanup is not None:
            cleanup()
        if args.keep:
            print(f"temp dir kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def wsgi_call(app, env: dict) -> str:
    """One request through a WSGI app in this process, its body read and closed: the status line.
    The profiles (intake_profile.py, incident_profile.py) time this alone, without HTTP or granian."""
    status: list[str] = []
    result = app(env, lambda s, h, exc_info=None: status.append(s))
    for _chunk in result:
        pass
    if hasattr(result, "close"):
        result.close()
    return status[-1]
