#!/usr/bin/env python
"""Import rate: how many cases per second `yiwang import FILE` loads, and the CPU each side spends per case.

One command (``.venv/bin/python bench/import_rate.py``):

1. a scratch database: PostgreSQL ``yiwang_h4bench`` on 127.0.0.1:5432 (``--db postgres``, dropped and
   created afresh; ``$YIWANG_BENCH_IMPORT_DB`` names another) or a SQLite file in a temp dir
   (``--db sqlite``); ``yiwang migrate`` and the demo base as bench/scale.py makes it
   (``yiwang demo --no-apps --cases 0``);
2. ``--cases`` N cases (default 200,000) from bench/scale.py's generator, written to a file first (and
   cut into ``--jobs`` files of whole lines when J > 1): generating is NOT part of the timed import;
3. timed: ``yiwang import FILE -q`` (J of them at once on PostgreSQL, each its own transaction, as
   bench/scale.py's ``--import-jobs``), then ``yiwang verify`` (not timed) unless ``--no-verify``;
4. prints cases/s (cases over the wall time from the first start to the last exit), the importer's
   CPU per case (its rusage), the PostgreSQL backends' CPU per case (``/proc/<pid>/stat`` of the
   backends serving the bench database and their parallel workers (an index build's), sampled every
   0.2 s while the import runs; a process that lives under 0.2 s is missed), and the cores the
   rest of the machine used meanwhile (bench/common.machine_busy_s minus the bench's own processes).

``--compare SRC`` repeats steps 1 and 3 with ``PYTHONPATH=SRC`` (the ``src`` of another checkout, e.g. a
``git worktree`` of an older commit) against a second scratch database (``<name>_cmp``), with the same
file, alternating ``--rounds`` times, so both figures come from the same run on the same machine.
``--import-args`` times this checkout's importer with those arguments too (``this+args``).
Results go to bench/results/import_rate-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    YIWANG,
    BenchError,
    bench_env,
    environment,
    log,
    machine_busy_s,
    process_cpu_s,
    run,
    run_benchmark,
)

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_NAME = os.environ.get("YIWANG_BENCH_IMPORT_DB", "yiwang_h4bench")
SCALE = Path(__file__).resolve().parent / "scale.py"


class Target:
    """One scratch database and the code that imports into it (this checkout's, or ``--compare``'s)."""

    def __init__(self, args, tmp: Path, label: str, src: str | None, dbname: str):
        self.label, self.src, self.kind, self.dbname = label, src, args.db, dbname
        self.tmp = tmp / label
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = bench_env(self.tmp / "db.sqlite3", self.tmp)
        self.env = {k: v for k, v in self.env.items() if not k.startswith("GRANIAN_")}
        if self.kind == "postgres":
            self.env["YIWANG_DATABASE_URL"] = f"{PG_SERVER}/{dbname}"
        # This checkout's code, not whichever the venv's editable install points at.
        self.env["PYTHONPATH"] = src or str(ROOT / "src")
        self.extra: list[str] = []

    def _pg(self, dbname: str):
        import psycopg

        return psycopg.connect(f"{PG_SERVER}/{dbname}", autocommit=True)

    def fresh(self) -> None:
        """An empty database with the demo base, as bench/scale.py makes it."""
        if self.kind == "postgres":
            with self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        else:
            for p in self.tmp.glob("db.sqlite3*"):
                p.unlink()
        log(f"{self.label}: migrating and loading the demo base (yiwang demo --no-apps --cases 0)")
        run([str(YIWANG), "migrate", "--noinput", "-v", "0"], self.env, timeout=900)
        run([str(YIWANG), "demo", "--no-apps", "--cases", "0"], self.env, timeout=600)

    def drop(self) -> None:
        if self.kind == "postgres":
            with contextlib.suppress(Exception), self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def backend_pids(self, conn) -> list[int]:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type IN ('client backend', 'parallel worker') "
            "AND pid <> pg_backend_pid()", [self.dbname]).fetchall()]


def generate(target: Target, n: int, path: Path, seed: str) -> None:
    """bench/scale.py's generator (its --_generate child, on the demo base) into ``path``; not timed."""
    log(f"generating {n:,} cases into {path} (bench/scale.py's generator; not part of the timed import)")
    now = time.time() - 600
    with open(path, "wb") as out:
        subprocess.run([sys.executable, str(SCALE), "--_generate", str(n), "--now", str(now), "--seed-text", seed,
                        "--first-rank", "0"], env=target.env, cwd=ROOT, stdout=out, check=True, timeout=3600)


def split(path: Path, jobs: int) -> list[Path]:
    if jobs == 1:
        return [path]
    lines = path.read_bytes().splitlines(keepends=True)
    parts = []
    for k in range(jobs):
        part = path.with_suffix(f".{k}.jsonl")
        part.write_bytes(b"".join(lines[len(lines) * k // jobs: len(lines) * (k + 1) // jobs]))
        parts.append(part)
    return parts


def timed_import(target: Target, files: list[Path], extra: list[str]) -> dict:
    """Every file through its own `yiwang import FILE -q` at once; rate and CPU per case of each side."""
    conn = target._pg("postgres") if target.kind == "postgres" else None
    seen: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(Exception):
                for pid in target.backend_pids(conn):
                    seen[pid] = max(seen.get(pid, 0.0), process_cpu_s(pid))

    watcher = threading.Thread(target=watch, daemon=True) if conn else None
    if watcher:
        watcher.start()
    busy0 = machine_busy_s()
    t0 = time.monotonic()
    procs = []
    for k, f in enumerate(files):
        log_path = target.tmp / f"import-{k}.log"
        out = open(log_path, "wb")  # noqa: SIM115 - closed after the wait
        procs.append((subprocess.Popen([str(YIWANG), "import", str(f), "-q", *extra], env=target.env, cwd=ROOT,
                                       stdout=out, stderr=subprocess.STDOUT), out, log_path))
    importer_s = 0.0
    failed = []
    cases = events = 0
    for proc, out, log_path in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        importer_s += usage.ru_utime + usage.ru_stime
        out.close()
        said = log_path.read_text(errors="replace")
        m = re.search(r"imported ([\d,]+) cases, ([\d,]+) events", said)
        if os.waitstatus_to_exitcode(status) != 0 or not m:
            failed.append(said[-3000:])
            continue
        cases += int(m.group(1).replace(",", ""))
        events += int(m.group(2).replace(",", ""))
    wall = time.monotonic() - t0
    busy = machine_busy_s() - busy0
    done.set()
    if watcher:
        watcher.join(timeout=5)
        conn.close()
    if failed:
        raise BenchError(f"{target.label}: the import failed:\n" + "\n".join(failed))
    backend_s = sum(seen.values()) if conn else None
    others = max(busy - importer_s - (backend_s or 0.0), 0.0)
    result = {
        "label": target.label, "cases": cases, "events": events, "jobs": len(files), "wall_s": round(wall, 2),
        "cases_per_s": round(cases / wall), "importer_us_per_case": round(1e6 * importer_s / cases, 1),
        "postgres_us_per_case": None if backend_s is None else round(1e6 * backend_s / cases, 1),
        "other_cores": round(others / wall, 2),
    }
    log(f"{target.label}: {cases:,} cases ({events:,} events) in {wall:.1f} s with {len(files)} import(s): "
        f"{result['cases_per_s']:,} cases/s; CPU per case: importer {result['importer_us_per_case']} us, "
        f"PostgreSQL backends {result['postgres_us_per_case']} us; the rest of the machine used "
        f"{result['other_cores']} cores meanwhile")
    return result


def verify(target: Target) -> str:
    log(f"{target.label}: yiwang verify")
    out = run([str(YIWANG), "verify"], target.env, timeout=3600)
    return out.strip().splitlines()[-1] if out.strip() else ""


def bench(args, tmp: Path) -> tuple[dict, int]:
    targets = [Target(args, tmp, "this", None, PG_NAME)]
    if args.import_args:
        with_args = Target(args, tmp, "this+args", None, PG_NAME + "_args")
        with_args.extra = args.import_args
        targets = [with_args, *targets] if args.compare else [with_args]
    if args.compare:
        targets.append(Target(args, tmp, "compare", args.compare, PG_NAME + "_cmp"))
    data = Path(args.data) if args.data else tmp / "cases.jsonl"
    runs: list[dict] = []
    for r in range(args.rounds):
        for target in targets if r % 2 == 0 else targets[::-1]:
            target.fresh()
            if not data.exists():
                generate(target, args.cases, data, f"{args.seed}")
            jobs = args.args_jobs if target.extra and args.args_jobs else args.jobs
            files = split(data, jobs if args.db == "postgres" else 1)
            result = timed_import(target, files, target.extra)
            result["round"] = r + 1
            if args.verify:
                result["verify"] = verify(target)
                log(f"{target.label}: {result['verify']}")
            runs.append(result)
    print(f"{'run':>10} {'round':>5} {'cases/s':>9} {'importer us':>12} {'postgres us':>12} {'other cores':>12}")
    for res in runs:
        print(f"{res['label']:>10} {res['round']:>5} {res['cases_per_s']:>9,} {res['importer_us_per_case']:>12} "
              f"{res['postgres_us_per_case']!s:>12} {res['other_cores']:>12}")
    if args.compare:
        def best(label):
            return max(x["cases_per_s"] for x in runs if x["label"] == label)
        for label in sorted({x["label"] for x in runs} - {"compare"}):
            print(f"{label} / compare, best round each: {best(label) / best('compare'):.2f}")
    return {"benchmark": "import_rate", "environment": environment(db=args.db, cases=args.cases, jobs=args.jobs,
                                                                   compare=args.compare), "runs": runs}, 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--cases", type=int, default=200_000, help="cases generated and imported, default 200,000")
    ap.add_argument("--jobs", type=int, default=1,
                    help="PostgreSQL: imports at once, each a slice of the file in its own transaction; default 1")
    ap.add_argument("--args-jobs", type=int, default=0,
                    help="--jobs for this+args (default: --jobs); 1 for --rebuild-indexes, which locks the tables")
    ap.add_argument("--compare", metavar="SRC", help="also time the importer of SRC (PYTHONPATH) in the same run")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the timed imports (fresh databases), default 1")
    ap.add_argument("--import-args", default="",
                    help="more arguments for this checkout's `yiwang import`, e.g. '--rebuild-indexes'; with --compare, "
                         "this checkout is timed both with them (this+args) and without (this)")
    ap.add_argument("--no-verify", dest="verify", action="store_false", help="skip `yiwang verify` after each import")
    ap.add_argument("--data", metavar="FILE", help="the generated cases: reused when FILE exists (its own count), "
                    "else generated into it and kept")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the generated file) and the databases")
    ap.add_argument("--no-json", action="store_true")
    ap.add_argument("--budget", type=int, default=7200, help="stop the run after this many seconds")
    args = ap.parse_args(argv)
    args.import_args = args.import_args.split()
    if args.cases < 100 or args.jobs < 1 or args.rounds < 1:
        ap.error("--cases must be at least 100, --jobs and --rounds at least 1")
    if args.compare and not Path(args.compare).is_dir():
        ap.error(f"--compare {args.compare}: not a directory")

    def cleanup():
        if args.db == "postgres" and not args.keep:
            for name in (PG_NAME, PG_NAME + "_cmp", PG_NAME + "_args"):
                with contextlib.suppress(Exception):
                    import psycopg

                    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return run_benchmark("import_rate", ap, args, lambda tmp: bench(args, tmp), budget=args.budget, cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
