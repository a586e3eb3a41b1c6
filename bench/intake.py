#!/usr/bin/env python
"""Intake benchmark: POST /api/v1/cases against the real server, and against a bare floor app.

One command (``.venv/bin/python bench/intake.py`` or ``make bench``):

1. builds a throw-away SQLite database in a temp dir (``yiwang migrate``, ``yiwang.testing.build_world()``,
   ``yiwang token create clerk_xfl``) and copies it for the floor;
2. serves yiwang with ``yiwang serve --workers 2 --no-collectstatic`` (granian, SQLite WAL), and the
   floor app (bench/floor_app.py: JSON parse + the same two INSERTs with sqlite3, writers queued on
   the same flock as yiwang's) with granian and exactly the flags ``yiwang serve`` used; both stay
   up, but only one is ever under load;
3. against each: a short warm-up, phase A (closed loop, ``--connections`` connections, ``--duration`` s)
   whose completed rate is the peak, then phase B (open loop at 80 % of that peak for ``--duration`` s,
   latency counted from each request's scheduled time) for p50/p99. Each phase is cut into ``--rounds``
   slices and the two servers take turns, so that a burst of other work on the machine falls on both;
4. prints the table: for each server the rate, the CPU seconds per request of its process tree and
   the cores it used; the two ratios (rate yiwang/floor, CPU per case floor/yiwang) and which server,
   if any, waits instead of computing; the server RSS per worker; writes
   bench/results/intake-<timestamp>.json, and with ``--log`` appends one line to bench/results.md;
5. checks that the yiwang database holds exactly as many cases as it answered 201, and that
   ``yiwang verify`` passes on it. Exit status 1 when a check fails; the targets are only printed.

Everything listens on 127.0.0.1; the servers are stopped on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    YIWANG,
    BenchError,
    bench_env,
    elapsed,
    environment,
    log,
    machine_busy_s,
    migrate,
    process_cpu_s,
    run,
    run_benchmark,
    version,
)

HOST = "127.0.0.1"
WORKERS = 2
TARGET_RATIO = 0.30  # floor CPU per case / yiwang CPU per case (and yiwang rate / floor rate), at least
TARGET_P99_MS = 50.0  # p99 at 80 % of peak, below
OPEN_LOOP_SHARE = 0.8
SETUP_TIMEOUT = 300.0  # seconds for each setup command (migrate, build_world, token)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A server "waits" when, with requests always queued (closed loop), this many cores or more of the
# machine are idle while the load generator, one Python thread, is not saturated (< LOADGEN_BUSY).
IDLE_WAIT_CORES = 0.25
LOADGEN_BUSY = 0.9
LOG_FILE = HERE / "results.md"

BODY = {
    "matter_code": "SENIOR_CARD",
    "region_code": "KG-DZ-XFL",
    "channel": "hall",
    "applicant_name": "王大爷",
    "applicant_phone": "13800000001",
    "form": {"birth_date": "1950-01-01"},
    "materials": [{"code": "id_card"}, {"code": "photo"}],
}

_servers: list[Server] = []


# ---------------------------------------------------------------------------------------------- servers


class Server:
    """A server subprocess in its own process group, so that stopping it stops its workers too."""

    def __init__(self, name: str, argv: list[str], env: dict, port: int, log_path: Path):
        self.name, self.argv, self.env, self.port, self.log_path = name, argv, env, port, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        _servers.append(self)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if asyncio.run(loadgen.probe(HOST, self.port, "/__bench_ready")) is not None:
                return
            time.sleep(0.1)
        raise BenchError(f"{self.name} server did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def cmdline(self) -> list[str]:
        return Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")

    def workers(self) -> list[int]:
        pid = self.proc.pid
        kids: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                kids += [int(k) for k in (task / "children").read_text().split()]
        return sorted(kids)

    @staticmethod
    def rss_kib(pid: int) -> int | None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    cpu_s = staticmethod(process_cpu_s)

    def worker_cpu(self) -> dict[int, float]:
        return {pid: self.cpu_s(pid) for pid in self.workers()}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            # Workers left behind by a main process that died first are still in our process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        if self in _servers:
            _servers.remove(self)


def stop_all() -> None:
    for server in list(_servers):
        server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- setup


def base_env(db: Path, tmp: Path) -> dict:
    # GRANIAN_* would change the servers behind the flags' back.
    env = bench_env(db, tmp, YIWANG_ALLOWED_HOSTS="127.0.0.1,localhost")
    return {k: v for k, v in env.items() if not k.startswith("GRANIAN_")}


def prepare(tmp: Path) -> tuple[dict, str, Path, Path]:
    db = tmp / "bench.sqlite3"
    env = base_env(db, tmp)
    (tmp / "static").mkdir()  # `yiwang serve --no-collectstatic` mounts STATIC_ROOT, which must exist
    # Generous: each took over 60 s on a 2-core machine at a load average of 9.
    migrate(env, timeout=SETUP_TIMEOUT)
    log("building the test world (yiwang.testing.build_world)")
    run([str(YIWANG), "shell", "-c", "from yiwang.testing import build_world; build_world()"], env,
        timeout=SETUP_TIMEOUT)
    token = run([str(YIWANG), "token", "create", "clerk_xfl", "--name", "bench"], env,
                timeout=SETUP_TIMEOUT).strip().splitlines()[-1]
    floor_db = tmp / "floor.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(floor_db) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    return env, token, db, floor_db


def sqlite_options(db: Path) -> dict:
    """The connection options yiwang itself uses for this database (init_command, timeout)."""
    from yiwang.settings import database_from_url

    return database_from_url(f"sqlite:///{db}")["OPTIONS"]


def row_template(db: Path) -> dict:
    """The first case yiwang wrote in this run and its first event, every column: the floor's template."""
    with sqlite3.connect(db, timeout=20) as conn:
        conn.row_factory = sqlite3.Row
        case = conn.execute("SELECT * FROM cases_case ORDER BY id LIMIT 1").fetchone()
        if case is None:
            raise BenchError("yiwang wrote no case: there is nothing to model the floor's rows on")
        event = conn.execute("SELECT * FROM cases_caseevent WHERE case_id = ? ORDER BY seq LIMIT 1",
                             (case["id"],)).fetchone()
    return {"case": dict(case), "event": dict(event)}


def count_rows(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db, timeout=20) as conn:
        cases = conn.execute("SELECT COUNT(*) FROM cases_case").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM cases_caseevent").fetchone()[0]
    return cases, events


# ---------------------------------------------------------------------------------------------- load


class Meter:
    """CPU used while a server was measured, over one or more slices: by the server's processes, by this
    process (the load generator), and by everything else on the machine."""

    def __init__(self, server: Server):
        self.server = server
        self.pids = [server.proc.pid, *server.workers()]
        self.wall = self.total = self.own = self.idle = 0.0
        self.srv = dict.fromkeys(self.pids, 0.0)

    def start(self) -> None:
        self._t, self._total, self._own = time.monotonic(), machine_busy_s(), time.process_time()
        self._idle = machine_idle_s()
        self._srv = {pid: Server.cpu_s(pid) for pid in self.pids}

    def pause(self) -> None:
        self.wall += time.monotonic() - self._t
        self.idle += machine_idle_s() - self._idle
        self.total += machine_busy_s() - self._total
        self.own += time.process_time() - self._own
        for pid, v in self._srv.items():
            self.srv[pid] += Server.cpu_s(pid) - v

    def summary(self, requests: int) -> dict:
        """CPU per request is the whole server tree's (granian's main process and its workers, user +
        sys from /proc/<pid>/stat), over the requests answered in the measured slices."""
        workers = {str(pid): round(v, 2) for pid, v in self.srv.items() if pid != self.server.proc.pid}
        server_total = sum(self.srv.values())
        wall = self.wall or 1e-9
        other = max(0.0, self.total - server_total - self.own)
        return {
            "cpu_s_by_worker": workers, "cpu_s_main": round(self.srv[self.server.proc.pid], 3),
            "server_cpu_s": round(server_total, 3), "wall_s": round(self.wall, 3),
            "cpu_ms_per_request": round(1000 * server_total / requests, 3) if requests else None,
            "server_cores": round(server_total / wall, 2), "loadgen_cores": round(self.own / wall, 2),
            "other_cores": round(other / wall, 2),
            "idle_cores": round(self.idle / wall, 2),
        }


def machine_idle_s() -> float:
    """CPU seconds the machine's cores have spent idle (idle + iowait) since boot, from /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        return (int(f[3]) + int(f[4])) / CLK_TCK
    return 0.0


def settle() -> None:
    """Write back the previous phase's dirty pages now, so that their I/O does not land in the next phase."""
    os.sync()
    time.sleep(0.2)


def merge(parts: list[loadgen.PhaseResult]) -> loadgen.PhaseResult:
    """One phase's slices as one result: counts summed, latencies joined, the slices' schedules laid end
    to end (so ``per_second`` counts seconds of measuring, not of the clock)."""
    first = parts[0]
    out = loadgen.PhaseResult(first.mode, first.connections, 0.0, target_rate=first.target_rate,
                              ok_status=first.ok_status)
    for part in parts:
        out.sent += part.sent
        out.completed += part.completed
        for status, n in part.statuses.items():
            out.statuses[status] = out.statuses.get(status, 0) + n
        out.conn_errors += part.conn_errors
        out.unanswered += part.unanswered
        out.late_sends += part.late_sends
        out.latencies += part.latencies
        out.dues += [out.duration + due - part.start for due in part.dues]
        out.duration += part.duration
        out.client_cpu += part.client_cpu
    return out


def warm_up(server: Server, request: bytes, args) -> loadgen.PhaseResult:
    settle()
    server.start()
    server.wait_ready()
    log(f"{server.name}: up on :{server.port}, workers {server.workers()}; warm-up {args.warmup:g} s")
    return asyncio.run(loadgen.closed_loop(HOST, server.port, request, connections=args.connections,
                                           duration=args.warmup))


def interleaved(targets: list[tuple[Server, bytes]], args, rates: dict[str, float] | None = None) -> dict:
    """One phase for every target, in ``args.rounds`` slices each, taking turns (the order flips every
    round), so that what the rest of the machine does during the phase falls on all of them alike.
    Closed loop without ``rates``, else open loop at each target's rate. {name: (result, cpu)}."""
    settle()
    meters = {server.name: Meter(server) for server, _request in targets}
    parts: dict[str, list[loadgen.PhaseResult]] = {server.name: [] for server, _request in targets}
    piece = args.duration / args.rounds
    for r in range(args.rounds):
        for server, request in (targets if r % 2 == 0 else targets[::-1]):
            meter = meters[server.name]
            meter.start()
            if rates is None:
                part = asyncio.run(loadgen.closed_loop(HOST, server.port, request, connections=args.connections,
                                                       duration=piece))
            else:
                part = asyncio.run(loadgen.open_loop(HOST, server.port, request, connections=args.connections,
                                                     rate=rates[server.name], duration=piece, drain_timeout=5.0))
            meter.pause()
            parts[server.name].append(part)
    out = {}
    for name, pieces in parts.items():
        result = merge(pieces)
        out[name] = (result, meters[name].summary(result.completed))
        what = "closed loop" if rates is None else f"open loop at {rates[name]:.0f} req/s"
        log(f"{name}: {what}, {args.connections} connections, {args.rounds} slices: {result.ok_rate:.0f} req/s "
            f"(p50 {fmt_ms(result.percentile(50))}, p99 {fmt_ms(result.percentile(99))}, errors {result.errors})")
    return out


def finish(server: Server, warm, peak, peak_cpu, steady, steady_cpu) -> dict:
    """Stop a target and gather its figures, its memory and what its log says went wrong."""
    rss = {pid: Server.rss_kib(pid) for pid in server.workers()}
    main_rss = Server.rss_kib(server.proc.pid)
    argv = server.cmdline()
    server.stop()
    exceptions: dict[str, int] = {}
    logged = 0
    for line in server.log_path.read_text(errors="replace").splitlines():
        if " ERROR " in line:
            logged += 1
        elif re.match(r"^[\w.]+(Error|Exception): ", line):
            exceptions[line[:200]] = exceptions.get(line[:200], 0) + 1
    return {
        "argv": argv,
        "warmup": warm.summary(),
        "peak": {**peak.summary(), **peak_cpu},
        "steady": {**steady.summary(), **steady_cpu},
        "ok_total": warm.ok + peak.ok + steady.ok,
        "unanswered_total": warm.unanswered + peak.unanswered + steady.unanswered
        + warm.conn_errors + peak.conn_errors + steady.conn_errors,
        "rss_kib_by_worker": {str(k): v for k, v in rss.items()},
        "rss_kib_main": main_rss,
        "server_log": {"error_lines": logged,
                       "exceptions": dict(sorted(exceptions.items(), key=lambda kv: -kv[1])[:10])},
    }


def floor_argv(yiwang_argv: list[str], port: int, static_dir: Path) -> list[str]:
    """granian exactly as `yiwang serve` ran it, serving floor_app:app instead of yiwang."""
    try:
        i = yiwang_argv.index("granian")
    except ValueError:
        raise BenchError(f"`yiwang serve` did not run granian: {yiwang_argv}") from None
    flags = yiwang_argv[i + 1 : -1]
    out = []
    it = iter(flags)
    for flag in it:
        if flag in ("--port", "--static-path-mount"):
            next(it)
            out += [flag, str(port) if flag == "--port" else str(static_dir)]
        else:
            out.append(flag)
    return [sys.executable, "-m", "granian", *out, "floor_app:app"]


# ---------------------------------------------------------------------------------------------- report


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms"


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def waiting(phase: dict) -> bool:
    """Cores left idle in a closed loop (requests always queued) while the client had CPU to spare."""
    return phase["idle_cores"] >= IDLE_WAIT_CORES and phase["loadgen_cores"] < LOADGEN_BUSY


def verdict(results: dict) -> list[str]:
    """The headline: the CPU-per-case ratio beside the rate ratio, and which server waits."""
    yp, fp = results["yiwang"]["peak"], results["floor"]["peak"]
    cpu, rate = results["ratio_cpu_per_case"], results["ratio_peak"]
    ok = lambda cond: "ok" if cond else "MISSED"  # noqa: E731
    lines = [f"HEADLINE  CPU per case floor/yiwang {cpu:.2f} ({ok(cpu >= TARGET_RATIO)}, target >= {TARGET_RATIO:.2f})"
             f"   rate yiwang/floor {rate:.2f} ({ok(rate >= TARGET_RATIO)})"]
    for name, p in (("yiwang", yp), ("floor", fp)):
        spare = (os.cpu_count() or 1) - p["server_cores"] - p["loadgen_cores"]
        state = (f"WAITS: {p['idle_cores']:.2f} of {os.cpu_count()} cores idle with requests queued"
                 if waiting(p) else "unknown: the load generator was saturated (client-bound)"
                 if p["loadgen_cores"] >= LOADGEN_BUSY
                 else f"cannot tell: {spare:.2f} cores not used by it or the client, but other processes used "
                 f"{p['other_cores']:.2f}" if spare >= IDLE_WAIT_CORES and p["other_cores"] >= 0.2
                 else "does not wait")
        lines.append(f"  {name:6s} {p['ok_rate']:6.0f} req/s, {p['cpu_ms_per_request'] / 1000:.6f} CPU s per request, "
                     f"{p['server_cores']:.2f} cores used (client {p['loadgen_cores']:.2f}, other "
                     f"{p['other_cores']:.2f}): {state}")
    waiters = [name for name, p in (("yiwang", yp), ("floor", fp)) if waiting(p)]
    if abs(rate - cpu) > 0.1 * max(rate, cpu):
        who = " and ".join(waiters) if waiters else "neither by the idle-core test (see the cores above)"
        lines.append(f"  the ratios disagree ({rate:.2f} vs {cpu:.2f}): the rate ratio also counts waiting; waits: {who}")
    else:
        lines.append(f"  the ratios agree ({rate:.2f} vs {cpu:.2f}): the rates follow the CPU per case"
                     + (f"; waits: {', '.join(waiters)}" if waiters else ""))
    return lines


def report(results: dict) -> str:
    y, f = results["yiwang"], results["floor"]
    yp, fp = y["peak"], f["peak"]
    ys, fs = y["steady"], f["steady"]
    ratio = results["ratio_peak"]
    cpu_ratio = results["ratio_cpu_per_case"]
    ok = lambda cond: "ok" if cond else "MISSED"  # noqa: E731
    rows = [
        ("", "yiwang", "floor", "ratio", "target"),
        ("server CPU per request (ms), phase A", f"{yp['cpu_ms_per_request']}", f"{fp['cpu_ms_per_request']}",
         f"{cpu_ratio:.2f}", f"floor/yiwang >= {TARGET_RATIO:.2f}  {ok(cpu_ratio >= TARGET_RATIO)}"),
        ("peak rate, closed loop (req/s)", f"{yp['ok_rate']:.0f}", f"{fp['ok_rate']:.0f}", f"{ratio:.2f}",
         f"yiwang/floor >= {TARGET_RATIO:.2f}  {ok(ratio >= TARGET_RATIO)}"),
        ("  p50 / p99 closed loop (ms)", f"{yp['p50_ms']} / {yp['p99_ms']}", f"{fp['p50_ms']} / {fp['p99_ms']}",
         "", ""),
        ("open loop at 80% (req/s)", f"{ys['target_rate']:.0f}", f"{fs['target_rate']:.0f}", "", ""),
        ("  p50 (ms)", f"{ys['p50_ms']}", f"{fs['p50_ms']}", "", ""),
        ("  p99 (ms)", f"{ys['p99_ms']}", f"{fs['p99_ms']}", "",
         f"yiwang p99 < {TARGET_P99_MS:.0f} ms  {ok(ys['p99_ms'] is not None and ys['p99_ms'] < TARGET_P99_MS)}"),
        ("  max (ms)", f"{ys['max_ms']}", f"{fs['max_ms']}", "", ""),
        ("  sent late, all conns busy (%)", f"{100 * ys['late_sends'] / max(1, ys['sent']):.0f}",
         f"{100 * fs['late_sends'] / max(1, fs['sent']):.0f}", "", ""),
        ("errors (non-201, lost conns)", f"{yp['errors']} + {ys['errors']}", f"{fp['errors']} + {fs['errors']}",
         "", "0"),
        ("CPU cores used: server / loadgen", f"{yp['server_cores']} / {yp['loadgen_cores']}",
         f"{fp['server_cores']} / {fp['loadgen_cores']}", "", ""),
        ("  idle cores, phase A", f"{yp['idle_cores']}", f"{fp['idle_cores']}", "",
         f"< {IDLE_WAIT_CORES} (else: waits)"),
        ("  other processes (cores)", f"{yp['other_cores']} / {ys['other_cores']}",
         f"{fp['other_cores']} / {fs['other_cores']}", "", "~0 (A / B)"),
        ("RSS per worker after load (MiB)", " / ".join(mib(v) for v in y["rss_kib_by_worker"].values()),
         " / ".join(mib(v) for v in f["rss_kib_by_worker"].values()), "", ""),
        ("RSS granian main (MiB)", mib(y["rss_kib_main"]), mib(f["rss_kib_main"]), "", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) if i < 4 else c for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines = [*verdict(results), "", *lines]
    v = results["verification"]
    busy = max(yp["other_cores"], ys["other_cores"], fp["other_cores"], fs["other_cores"])
    if busy >= 0.2:
        lines.append(f"WARNING: other processes used up to {busy} cores during the run: the figures are noisy.")
    lines.append("")
    lines.append(f"no lost writes: {v['db_cases']} cases and {v['db_events']} events in the yiwang database, "
                 f"{v['ok_201']} answers 201 -> {'ok' if v['no_lost_writes'] else 'MISMATCH'}")
    if not v["no_lost_writes"]:
        lines.append(f"  {v['ok_201'] - v['db_cases']} case(s) answered 201 are not in the database "
                     f"({v['unanswered']} request(s) unanswered or cut off)")
    lines.append(f"yiwang verify: {'ok' if v['verify_ok'] else 'FAILED'} ({v['verify_output']})")
    for name in ("yiwang", "floor"):
        sl = results[name]["server_log"]
        if sl["error_lines"] or sl["exceptions"]:
            lines.append(f"{name} server log: {sl['error_lines']} ERROR line(s); "
                         + "; ".join(f"{n}x {e}" for e, n in list(sl["exceptions"].items())[:3]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each phase (A and B), default 10")
    ap.add_argument("--connections", type=int, default=12, help="keep-alive connections, default 12")
    ap.add_argument("--warmup", type=float, default=1.5, help="seconds of warm-up per server, default 1.5")
    ap.add_argument("--rounds", type=int, default=5,
                    help="slices each phase is cut into, the servers taking turns; default 5")
    ap.add_argument("--idempotency-key", action="store_true",
                    help="send a fresh Idempotency-Key with every request (what keyed intake costs)")
    ap.add_argument("--workers", type=int, default=WORKERS,
                    help=f"granian workers of both servers, default {WORKERS}; threads: YIWANG_THREADS")
    ap.add_argument("--floor-lock", choices=("flock", "busy"), default="flock",
                    help="how the floor's writers queue: flock (default, as yiwang's) or busy (SQLite's busy "
                         "handler only, the floor before 2026-12-06)")
    ap.add_argument("--log", action="store_true",
                    help=f"append a line (commit, date, command, ratios) to {LOG_FILE.relative_to(ROOT)}")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (databases, server logs)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/intake-*.json")
    args = ap.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--duration must be > 0, --connections >= 1, --warmup >= 0, --rounds >= 1")
    # Hard bound on the whole run, whatever hangs: about 4 minutes with the defaults. Most of it is for
    # the setup: migrate and build_world take 20 s on a quiet machine but over 100 s on a busy one.
    budget = int(180 + 5 * args.duration + 4 * args.warmup)
    return run_benchmark("intake", ap, args, lambda tmp: bench(args, tmp), budget=budget, cleanup=stop_all)


def bench(args, tmp: Path) -> tuple[dict, int]:
    env, token, db, floor_db = prepare(tmp)
    body = json.dumps(BODY, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Authorization": f"Bearer {token}"}
    if args.idempotency_key:
        headers["Idempotency-Key"] = f"bench-{loadgen.SEQ}"  # a new key, hence a new case, every request

    yiwang_port = free_port()
    yiwang = Server("yiwang", [str(YIWANG), "serve", "--host", HOST, "--port", str(yiwang_port),
                               "--workers", str(args.workers), "--no-collectstatic"],
                    env, yiwang_port, tmp / "yiwang-server.log")
    y_request = loadgen.build_request(HOST, yiwang_port, "/api/v1/cases", body, headers)
    y_warm = warm_up(yiwang, y_request, args)

    # The floor starts once yiwang has written the rows it copies; both then stay up, idle in turn.
    floor_port = free_port()
    (tmp / "floor-static").mkdir()
    opts = sqlite_options(floor_db)
    template = tmp / "floor-template.json"
    template.write_text(json.dumps(row_template(db), ensure_ascii=False))
    floor_env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
                     FLOOR_DB=str(floor_db), FLOOR_INIT_COMMAND=opts.get("init_command", ""),
                     FLOOR_TIMEOUT=str(opts.get("timeout", 20)), FLOOR_TEMPLATE=str(template),
                     FLOOR_WRITER_LOCK=args.floor_lock)
    floor = Server("floor", floor_argv(yiwang.cmdline(), floor_port, tmp / "floor-static"), floor_env, floor_port,
                   tmp / "floor-server.log")
    f_request = loadgen.build_request(HOST, floor_port, "/api/v1/cases", body, headers)
    f_warm = warm_up(floor, f_request, args)

    targets = [(yiwang, y_request), (floor, f_request)]
    peaks = interleaved(targets, args)
    for name, (peak, _cpu) in peaks.items():
        if peak.ok_rate <= 0:
            server = yiwang if name == "yiwang" else floor
            raise BenchError(f"{name}: no 201 answers in the closed loop: {peak.summary()}\n{server.log_tail()}")
    steadies = interleaved(targets, args, rates={name: OPEN_LOOP_SHARE * peak.ok_rate
                                                 for name, (peak, _cpu) in peaks.items()})
    y = finish(yiwang, y_warm, *peaks["yiwang"], *steadies["yiwang"])
    f = finish(floor, f_warm, *peaks["floor"], *steadies["floor"])

    log("verifying the yiwang database")
    db_cases, db_events = count_rows(db)
    floor_cases, _ = count_rows(floor_db)
    p = subprocess.run([str(YIWANG), "verify"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    verify_out = (p.stdout.strip().splitlines() or [""])[0]
    if p.returncode != 0:
        verify_out += " | " + " ".join(p.stderr.strip().splitlines()[-5:])
    verification = {
        "db_cases": db_cases, "db_events": db_events, "ok_201": y["ok_total"],
        "unanswered": y["unanswered_total"],
        "no_lost_writes": db_cases == y["ok_total"] and db_events == db_cases,
        "floor_db_cases": floor_cases, "floor_ok_201": f["ok_total"],
        "verify_ok": p.returncode == 0, "verify_output": verify_out,
    }
    results = {
        "benchmark": "intake",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"settings": env["DJANGO_SETTINGS_MODULE"], "duration_s": args.duration,
                   "connections": args.connections, "warmup_s": args.warmup, "workers": args.workers,
                   "rounds": args.rounds, "idempotency_key": args.idempotency_key, "floor_lock": args.floor_lock,
                   "open_loop_share": OPEN_LOOP_SHARE, "body": BODY},
        "environment": environment(granian=version("granian"), django_ninja=version("django-ninja")),
        "targets": {"ratio_peak_min": TARGET_RATIO, "p99_ms_max_at_80pct": TARGET_P99_MS},
        "yiwang": y, "floor": f,
        "ratio_peak": y["peak"]["ok_rate"] / f["peak"]["ok_rate"] if f["peak"]["ok_rate"] else 0.0,
        "ratio_cpu_per_case": (f["peak"]["cpu_ms_per_request"] / y["peak"]["cpu_ms_per_request"]
                               if y["peak"]["cpu_ms_per_request"] and f["peak"]["cpu_ms_per_request"] else 0.0),
        "waits": [name for name in ("yiwang", "floor") if waiting((y if name == "yiwang" else f)["peak"])],
        "verification": verification,
        "elapsed_s": round(elapsed(), 1),
    }
    print()
    keyed = ", a fresh Idempotency-Key each" if args.idempotency_key else ""
    print(f"intake: POST /api/v1/cases{keyed}, {args.workers} granian workers, SQLite WAL, {args.connections} "
          f"connections, {args.duration:g} s per phase in {args.rounds} turns, {os.cpu_count()} CPUs shared with "
          f"the load generator, floor writers: {args.floor_lock}, commit {results['environment']['commit']}")
    print(report(results))
    status = 0 if verification["no_lost_writes"] and verification["verify_ok"] else 1
    if args.log:
        append_log(results, status)
    return results, status


def append_log(results: dict, status: int) -> None:
    """One row of bench/results.md: when, what code, what command, and the figures to compare."""
    y, f = results["yiwang"]["peak"], results["floor"]["peak"]
    ys = results["yiwang"]["steady"]
    commit = results["environment"]["commit"] or "?"
    # Another engineer's uncommitted change to what is measured makes the commit alone a wrong label.
    measured = ["src", "bench/intake.py", "bench/floor_app.py", "bench/loadgen.py", "bench/common.py"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *measured], cwd=ROOT, capture_output=True,
                           text=True, timeout=10).stdout.strip()
    if dirty:
        commit += "+dirty"
    command = " ".join(["bench/intake.py", *sys.argv[1:]])
    other = max(f["other_cores"], y["other_cores"])
    cells = [results["finished"], commit, f"`{command}`", f"{results['ratio_cpu_per_case']:.2f}",
             f"{results['ratio_peak']:.2f}", f"{y['ok_rate']:.0f} / {f['ok_rate']:.0f}",
             f"{y['cpu_ms_per_request']:.2f} / {f['cpu_ms_per_request']:.2f}",
             f"{y['server_cores']:.2f} / {f['server_cores']:.2f}", ", ".join(results["waits"]) or "-",
             f"{ys['p99_ms']}", f"{other:.2f}", "ok" if status == 0 else "FAILED"]
    if not LOG_FILE.exists():
        LOG_FILE.write_text(LOG_HEADER)
    with LOG_FILE.open("a", encoding="utf-8") as out:
        out.write("| " + " | ".join(cells) + " |\n")
    print(f"logged: {LOG_FILE.relative_to(ROOT)}")


LOG_HEADER = """# Benchmark results log

One row per `bench/intake.py --log` run, appended by the script (see bench/README.md, "The results
log"). `+dirty`: the working tree differed from the commit in src/ or the intake bench's files.
Ratios: CPU per case floor/yiwang, rate yiwang/floor (targets >= 0.30). Cores: server process tree,
phase A. "other": cores used by the rest of the machine (should be ~0).

| finished (UTC) | commit | command | CPU/case ratio | rate ratio | req/s yiwang / floor | CPU ms/req yiwang / floor | cores yiwang / floor | waits | yiwang p99 at 80 % (ms) | other | checks |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""


if __name__ == "__main__":
    sys.exit(main())
