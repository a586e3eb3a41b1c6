#!/usr/bin/env python
"""Failover benchmark: intake while the PostgreSQL primary dies, directly and through pgbouncer.

One command (``.venv/bin/python bench/failover.py``):

1. ``scripts/ensure-failover-tools`` (pgbouncer; apt-get when missing). Then a template cluster in a
   temp dir on a free loopback port (tests/pg_cluster.py, as the ``postgres`` OS user when root):
   ``yiwang migrate``, ``yiwang.testing.build_world()``, a token for clerk_xfl; stopped cleanly.
2. For each mode, ``direct`` then ``pgbouncer``: a primary copied from the template with
   ``synchronous_standby_names = '*'`` and a ``pg_basebackup -R`` standby (synchronous once it
   streams), and in the pgbouncer mode one pgbouncer in transaction mode beside each server. yiwang
   (``yiwang serve``, granian, 2 workers) runs on the multi-host URL
   ``postgres://postgres@A,B/yiwang?target_session_attrs=read-write`` (A, B: the servers, or their
   pgbouncers, then with ``disable_server_side_cursors=true``).
3. Load, all of it ``POST /api/v1/cases`` (an application, as bench/intake.py), each 201's case number
   kept: a closed loop (``--connections``) for ``--duration`` s, the peak before (in the pgbouncer
   mode a second yiwang on the same servers without pgbouncer takes turns with it, ``--rounds``
   slices each: the ratio); an open loop at ``--rate`` req/s (default half the peak) during which
   the primary's whole process tree (and its pgbouncer: the host died) gets SIGKILL after
   ``--before`` s; a stand-in for an HA manager probes the primary every
   ``--probe`` s and after ``--probes`` refused probes runs ``pg_ctl promote`` on the standby (and
   ``RECONNECT`` on its pgbouncer, see reconnect_pool); the
   open loop goes on until ``--after`` s after the first 201 past the outage; then the closed loop
   again, the peak after (on the promoted server, now without a standby).
4. Reports per mode: seconds without service (first failed answer → first 201 after it), the
   requests that failed, the acknowledged cases lost (201 answered, number not on the promoted
   server; target 0), the peaks before and after; and the pgbouncer/direct ratio of the peaks
   before. Exit 1 when an acknowledged case was lost.

Everything listens on 127.0.0.1 only; servers, pgbouncers and clusters are stopped and the temp dir
removed on exit, on Ctrl-C and on errors (``--keep`` keeps the dir).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.pg_cluster
from tests.pg_cluster import Cluster, as_server_user, kill_tree, missing, scratch_root  # noqa: E402

from common import ROOT, YIWANG, BenchError, elapsed, environment, log, machine_busy_s, run, run_benchmark  # noqa: E402
from intake import BODY, Server, free_port, stop_all  # noqa: E402

HOST = "127.0.0.1"
WORKERS = 2
# Both servers: what a small production pair would set, sized for a shared 2-core machine. fsync stays
# on: the figures include the standby's flush that every commit waits for.
PG_SETTINGS = {"wal_level": "replica", "max_wal_senders": 4, "max_connections": 60, "shared_buffers": "64MB",
               "synchronous_commit": "on", "timezone": "UTC"}
NUMBER = re.compile(rb'"number"\s*:\s*"([^"]+)"')
_clusters: list[Cluster] = []
_bouncers: list[subprocess.Popen] = []


# ---------------------------------------------------------------------------------------------- the servers


def start_pair(template: Path, root: Path, mode: str) -> tuple[Cluster, Cluster]:
    """A primary copied from the template and its synchronous standby, both running and streaming."""
    primary = Cluster(root, f"{mode}-primary", free_port())
    standby = Cluster(root, f"{mode}-standby", free_port())
    subprocess.run(["cp", "-a", str(template), str(primary.dir)], check=True, timeout=120)
    primary.configure(port=primary.port)
    _clusters.append(primary)
    primary.start()
    # Promoted, the standby is alone: with the primary's '*' every commit would wait for a standby forever.
    standby.standby_of(primary, synchronous_standby_names="")
    _clusters.append(standby)
    standby.start()
    primary.make_synchronous()
    log(f"{mode}: primary :{primary.port}, synchronous standby :{standby.port}")
    return primary, standby


def start_bouncer(root: Path, name: str, server: Cluster) -> tuple[int, subprocess.Popen]:
    """pgbouncer in transaction mode in front of ``server``, as the postgres OS user (it refuses root)."""
    port = free_port()
    users = root / "pgbouncer-users.txt"
    users.write_text('"postgres" ""\n')
    ini = root / f"{name}.ini"
    ini.write_text(f"""[databases]
yiwang = host={HOST} port={server.port} dbname=yiwang user=postgres
[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {root / f"{name}.log"}
""")
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    proc = subprocess.Popen([*as_server_user(), binary, str(ini)], cwd=root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _bouncers.append(proc)
    deadline = time.monotonic() + 15
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (root / f"{name}.log").read_text()[-1500:] if (root / f"{name}.log").exists() else ""
            raise BenchError(f"pgbouncer {name} did not start on :{port}:\n{tail}")
        time.sleep(0.05)
    return port, proc


def reconnect_pool(server: Cluster, bouncer_port: int) -> None:
    """Make the pgbouncer in front of a just-promoted server drop its pool: pgbouncer hands every new
    client the parameters its first server connection reported, in_hot_standby = on from the standby
    days included, and libpq's target_session_attrs=read-write check would refuse it for good."""
    # psql: the admin console speaks only the simple query protocol.
    server.run("psql", "-X", "-q", "-h", HOST, "-p", str(bouncer_port), "-U", "postgres", "-d", "pgbouncer",
               "-c", "RECONNECT yiwang")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def cleanup() -> None:
    stop_all()
    for proc in _bouncers:
        if proc.poll() is None:
            kill_tree(proc.pid)
    for cluster in _clusters:
        cluster.stop()


# ---------------------------------------------------------------------------------------------- the load


@dataclass
class Answer:
    due: float  # when it was due (open loop) or sent (closed loop), monotonic
    done: float
    status: int  # 0: no answer (connection refused, reset or timed out)
    number: str | None = None


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)

    def acknowledged(self) -> list[str]:
        return [a.number for a in self.answers if a.status == 201 and a.number]


async def _exchange(port: int, request: bytes, state: dict) -> tuple[int, bytes]:
    """One request on this task's keep-alive connection (reopened when needed); (status, body)."""
    if state.get("writer") is None:
        state["reader"], state["writer"] = await asyncio.open_connection(HOST, port)
    reader, writer = state["reader"], state["writer"]
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    body = await reader.readexactly(length)
    if re.search(rb"(?i)connection:\s*close", head):
        writer.close()
        state["writer"] = None
    return status, body


async def _client(port: int, request: bytes, load: Load, next_due, timeout: float) -> None:
    state: dict = {}
    while (due := await next_due()) is not None:
        try:
            status, body = await asyncio.wait_for(_exchange(port, request, state), timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, AttributeError):
            if state.get("writer") is not None:
                state["writer"].close()
            state["writer"] = None
            load.answers.append(Answer(due, time.monotonic(), 0))
            await asyncio.sleep(0.05)  # a refused connection fails at once: do not spin
            continue
        match = NUMBER.search(body) if status == 201 else None
        load.answers.append(Answer(due, time.monotonic(), status, match.group(1).decode() if match else None))


async def closed_loop(port: int, request: bytes, connections: int, duration: float) -> Load:
    load, end = Load(), time.monotonic() + duration

    async def next_due():
        now = time.monotonic()
        return now if now < end else None

    await asyncio.gather(*(_client(port, request, load, next_due, 30) for _ in range(connections)))
    return load


async def failover_loop(port: int, request: bytes, args, open_rate: float, primary: Cluster, standby: Cluster,
                        bouncer: subprocess.Popen | None, standby_bouncer: int | None) -> tuple[Load, dict]:
    """The open loop at ``open_rate`` with the primary killed after ``args.before`` s and the standby
    promoted by the stand-in manager; runs until ``args.after`` s past the first 201 after the outage."""
    load, events = Load(), {}
    start = time.monotonic()
    seq = 0
    stop_at = [start + args.before + args.max_outage + args.after]

    async def next_due():
        nonlocal seq
        due = start + seq / open_rate
        seq += 1
        if due >= stop_at[0]:
            return None
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        return due

    async def manager():
        await asyncio.sleep(args.before)
        events["killed"] = time.monotonic()
        primary.kill()
        if bouncer is not None:
            kill_tree(bouncer.pid)
        log(f"primary :{primary.port} killed (SIGKILL, whole process tree{' and its pgbouncer' if bouncer else ''})")
        refused = 0
        while refused < args.probes:
            await asyncio.sleep(args.probe)
            refused = 0 if await asyncio.to_thread(port_open, primary.port) else refused + 1
        events["detected"] = time.monotonic()
        await asyncio.to_thread(standby.promote)
        if standby_bouncer is not None:
            await asyncio.to_thread(reconnect_pool, standby, standby_bouncer)
        events["promoted"] = time.monotonic()
        log(f"standby :{standby.port} promoted, {events['promoted'] - events['killed']:.1f} s after the kill")
        # Until the first 201 after the first failure, then args.after s more (or give up at --max-outage).
        while time.monotonic() < events["killed"] + args.max_outage:
            failed = next((a.done for a in load.answers if a.status != 201), None)
            if failed is not None and any(a.status == 201 and a.done > failed for a in load.answers):
                stop_at[0] = min(stop_at[0], time.monotonic() + args.after)
                return
            await asyncio.sleep(0.1)

    clients = [_client(port, request, load, next_due, 15) for _ in range(args.connections)]
    await asyncio.gather(manager(), *clients)
    return load, events


def outage(load: Load, events: dict) -> dict:
    answers = sorted(load.answers, key=lambda a: a.done)
    failed = [a for a in answers if a.status != 201]
    out = {"requests": len(answers), "acknowledged": sum(a.status == 201 for a in answers), "failed": len(failed),
           "failed_by_status": {str(s): sum(a.status == s for a in failed) for s in sorted({a.status for a in failed})},
           "promote_after_kill_s": round(events["promoted"] - events["killed"], 2),
           "detect_after_kill_s": round(events["detected"] - events["killed"], 2)}
    if failed:
        first = failed[0]
        back = next((a for a in answers if a.status == 201 and a.done > first.done), None)
        out["first_failure_after_kill_s"] = round(first.done - events["killed"], 2)
        out["without_service_s"] = round(back.done - first.done, 2) if back else None
        out["last_failure_after_first_s"] = round(failed[-1].done - first.done, 2)
        out["back_after_promote_s"] = round(back.done - events["promoted"], 2) if back else None
    else:
        out["without_service_s"] = 0.0
    before = [a for a in answers if a.status == 201 and a.done < events["killed"]]
    after = [a for a in answers if a.status == 201 and back and a.done > back.done] if failed else []
    span = lambda xs: (max(a.done for a in xs) - min(a.done for a in xs)) if len(xs) > 1 else 0  # noqa: E731
    out["open_loop_rate_before"] = round(len(before) / span(before), 1) if span(before) else None
    out["open_loop_rate_after"] = round(len(after) / span(after), 1) if span(after) else None
    return out


# ---------------------------------------------------------------------------------------------- one mode


def start_yiwang(name: str, url: str, tmp: Path, token: str) -> tuple[Server, bytes]:
    """`yiwang serve` (granian, WORKERS workers) on ``url``, and the application request it will take."""
    port = free_port()
    server = Server(name, [str(YIWANG), "serve", "--host", HOST, "--port", str(port), "--workers", str(WORKERS),
                           "--no-collectstatic"], serve_env(tmp, url), port, tmp / f"{name}.log")
    server.start()
    server.wait_ready(timeout=180)
    body = json.dumps(BODY, ensure_ascii=False).encode()
    request = (f"POST /api/v1/cases HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
               f"Accept: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    log(f"{name}: yiwang on :{port} with {url}")
    return server, request


def peaks(targets: dict[str, tuple[Server, bytes]], args) -> tuple[dict[str, Load], float]:
    """The closed-loop peak of each target in ``args.rounds`` slices, taking turns (the order flips every
    round) so that the rest of the machine's work falls on all alike; and the machine's busy cores."""
    loads = {name: Load() for name in targets}
    busy0, t0 = machine_busy_s(), time.monotonic()
    order = list(targets)
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            server, request = targets[name]
            part = asyncio.run(closed_loop(server.port, request, args.connections, args.duration / args.rounds))
            loads[name].answers += part.answers
    return loads, (machine_busy_s() - busy0) / (time.monotonic() - t0)


def rate(load: Load, seconds: float) -> float:
    return round(len(load.acknowledged()) / seconds, 1)


def run_mode(mode: str, template: Path, root: Path, tmp: Path, token: str, args) -> dict:
    primary, standby = start_pair(template, root, mode)
    direct_url = (f"postgres://postgres@{HOST}:{primary.port},{HOST}:{standby.port}/yiwang"
                  "?target_session_attrs=read-write")
    bouncer = standby_bouncer = None
    targets = {}
    if mode == "pgbouncer":
        first_port, bouncer = start_bouncer(root, "pgbouncer-primary", primary)
        second_port, _ = start_bouncer(root, "pgbouncer-standby", standby)
        standby_bouncer = second_port
        url = (f"postgres://postgres@{HOST}:{first_port},{HOST}:{second_port}/yiwang"
               "?target_session_attrs=read-write&disable_server_side_cursors=true")
        targets["pgbouncer"] = start_yiwang("yiwang-pgbouncer", url, tmp, token)
        # The same servers without pgbouncer, measured in turns with it: the ratio of the two.
        targets["direct"] = start_yiwang("yiwang-beside-pgbouncer", direct_url, tmp, token)
    else:
        url = direct_url
        targets["direct"] = start_yiwang("yiwang-direct", url, tmp, token)
    server, request = targets[mode]
    loads: list[Load] = [asyncio.run(closed_loop(t[0].port, t[1], args.connections, args.warmup))
                         for t in targets.values()]
    before, busy_before = peaks(targets, args)
    for name, load in before.items():
        log(f"{mode}: peak before, {name}: {rate(load, args.duration):.0f} req/s")
    if mode == "pgbouncer":
        targets["direct"][0].stop()
    loads += before.values()
    open_rate = args.rate or max(5.0, round(args.rate_share * rate(before[mode], args.duration)))
    run_load, events = asyncio.run(failover_loop(server.port, request, args, open_rate, primary, standby, bouncer,
                                                   standby_bouncer))
    figures = outage(run_load, events)
    log(f"{mode}: {figures['without_service_s']} s without service, {figures['failed']} requests failed")
    after, _busy = peaks({mode: targets[mode]}, args)
    log(f"{mode}: peak after {rate(after[mode], args.duration):.0f} req/s")
    loads += [run_load, after[mode]]
    server.stop()
    errors = [line for name in targets for line in targets[name][0].log_tail(2000).splitlines()
              if "Internal Server Error" in line]  # django.request's line for a 500 (a 503 says so too)

    import psycopg

    acknowledged = [n for load in loads for n in load.acknowledged()]
    with psycopg.connect(f"host={HOST} port={standby.port} user=postgres dbname=yiwang") as conn:
        present = {row[0] for row in conn.execute("SELECT id FROM cases_case")}
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    # A number is "YW" + the local date (8 digits) + the id (Case.format_number).
    lost = sorted(n for n in set(acknowledged) if int(n[10:]) not in present)
    figures.update(
        mode=mode, url=url, peak_before=rate(before[mode], args.duration), peak_after=rate(after[mode], args.duration),
        open_loop_rate=open_rate, peak_before_errors=sum(a.status != 201 for a in before[mode].answers),
        machine_cores_busy_during_peak_before=round(busy_before, 2),
        acknowledged_total=len(acknowledged), acknowledged_lost=len(lost), lost_numbers=lost[:20],
        cases_on_promoted=len(present), promoted_in_recovery=in_recovery, server_log_errors=len(errors))
    if mode == "pgbouncer":
        figures["peak_before_direct_beside"] = rate(before["direct"], args.duration)
        figures["ratio_pgbouncer_direct"] = (round(figures["peak_before"] / figures["peak_before_direct_beside"], 2)
                                             if figures["peak_before_direct_beside"] else None)
    for cluster in (primary, standby):
        cluster.stop()
    return figures


def serve_env(tmp: Path, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANIAN_")}
    env.update(DJANGO_SETTINGS_MODULE="yiwang.settings", YIWANG_DATABASE_URL=url, YIWANG_VAR_DIR=str(tmp),
               YIWANG_DEBUG="0", YIWANG_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", YIWANG_STAFF_2FA="off",
               YIWANG_ALLOWED_HOSTS="127.0.0.1,localhost")
    env.pop("YIWANG_REPLICA_URL", None)
    return env


def prepare_template(root: Path, tmp: Path) -> tuple[Path, str]:
    """A stopped cluster with yiwang migrated, the test world built and a token: copied for each mode."""
    import psycopg

    template = Cluster(root, "template", free_port())
    template.initdb(**PG_SETTINGS)
    with (template.dir / "pg_hba.conf").open("a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\n")
    _clusters.append(template)
    template.start()
    with psycopg.connect(f"host={HOST} port={template.port} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE yiwang")
    env = serve_env(tmp, template.url())
    log("migrating the template cluster")
    run([str(YIWANG), "migrate", "--noinput", "-v", "0"], env, timeout=600)
    log("building the test world (yiwang.testing.build_world)")
    run([str(YIWANG), "shell", "-c", "from yiwang.testing import build_world; build_world()"], env, timeout=600)
    token = run([str(YIWANG), "token", "create", "clerk_xfl", "--name", "bench"], env).strip().splitlines()[-1]
    template.run("pg_ctl", "-D", str(template.dir), "-m", "fast", "-w", "stop")
    return template.dir, token


# ---------------------------------------------------------------------------------------------- report


def report(results: dict) -> str:
    modes = results["modes"]
    rows = [("", *[m["mode"] for m in modes])]

    def row(label: str, key: str, fmt=str) -> None:
        rows.append((label, *[fmt(m.get(key)) if m.get(key) is not None else "-" for m in modes]))

    row("peak before, closed loop (req/s)", "peak_before")
    row("peak after, promoted server alone (req/s)", "peak_after")
    row("open loop, offered (req/s)", "open_loop_rate")
    row("  acknowledged before the kill (req/s)", "open_loop_rate_before")
    row("  acknowledged after the outage (req/s)", "open_loop_rate_after")
    row("kill -> promoted (s)", "promote_after_kill_s")
    row("kill -> first failed answer (s)", "first_failure_after_kill_s")
    row("seconds without service", "without_service_s")
    row("  first 201 after promote (s)", "back_after_promote_s")
    row("  last failure after first (s)", "last_failure_after_first_s")
    row("requests failed (open loop)", "failed")
    row("  by status (0: no answer)", "failed_by_status", lambda d: ", ".join(f"{k}: {v}" for k, v in d.items()))
    row("acknowledged cases (all phases)", "acknowledged_total")
    row("acknowledged cases LOST", "acknowledged_lost")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    for m in modes:
        if m.get("ratio_pgbouncer_direct") is not None:
            lines.append(f"intake peak through pgbouncer / direct: {m['ratio_pgbouncer_direct']:.2f} "
                         f"({m['peak_before']} / {m['peak_before_direct_beside']} req/s, in turns on the same servers "
                         "before the failover)")
    busy = max(m["machine_cores_busy_during_peak_before"] for m in modes)
    lines.append(f"machine: {os.cpu_count()} cores; all processes together used up to {busy} cores in a peak phase "
                 f"(the bench's own load generator, yiwang, PostgreSQL and whatever else runs)")
    for m in modes:
        if m["acknowledged_lost"]:
            lines.append(f"{m['mode']}: LOST {m['acknowledged_lost']} acknowledged case(s): {m['lost_numbers']}")
        if m["server_log_errors"]:
            lines.append(f"{m['mode']}: {m['server_log_errors']} Internal Server Error (500) line(s) in the yiwang log")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each closed-loop peak, default 10")
    ap.add_argument("--connections", type=int, default=8, help="keep-alive connections, default 8")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per mode, default 2")
    ap.add_argument("--rate", type=float, default=None,
                    help="open-loop requests per second; default: --rate-share of the mode's peak before")
    ap.add_argument("--rate-share", type=float, default=0.5, help="see --rate; default 0.5")
    ap.add_argument("--rounds", type=int, default=4,
                    help="slices each peak is cut into, the servers taking turns; default 4")
    ap.add_argument("--before", type=float, default=5.0, help="seconds of open loop before the kill, default 5")
    ap.add_argument("--after", type=float, default=5.0,
                    help="seconds of open loop after service is back, default 5")
    ap.add_argument("--max-outage", type=float, default=60.0, help="give up waiting for service after this, default 60")
    ap.add_argument("--probe", type=float, default=0.5, help="the manager's probe interval (s), default 0.5")
    ap.add_argument("--probes", type=int, default=3, help="refused probes before promoting, default 3")
    ap.add_argument("--modes", default="direct,pgbouncer", help="direct,pgbouncer (default) or one of them")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (clusters, logs)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/failover-*.json")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - {"direct", "pgbouncer"}:
        ap.error("--modes: direct, pgbouncer or both")
    if (args.rate is not None and args.rate <= 0) or not 0 < args.rate_share <= 1 or args.duration <= 0 \
            or args.connections < 1 or args.probes < 1 or args.rounds < 1:
        ap.error("--rate and --duration must be > 0, --rate-share in (0, 1], --connections, --probes, --rounds >= 1")
    args.modes = modes
    budget = int(900 + len(modes) * (2 * args.duration + args.warmup + args.before + args.max_outage + args.after))
    return run_benchmark("failover", ap, args, lambda tmp: bench(args, tmp), budget=budget, cleanup=cleanup)


def bench(args, tmp: Path) -> tuple[dict, int]:
    ensure = subprocess.run([str(ROOT / "scripts" / "ensure-failover-tools")], capture_output=True, text=True,
                            timeout=600)
    if ensure.returncode:
        raise BenchError(f"scripts/ensure-failover-tools failed:\n{ensure.stdout}{ensure.stderr}")
    if lack := missing():
        raise BenchError(lack)
    root = scratch_root("yiwang-bench-failover-pg-")
    try:
        template, token = prepare_template(root, tmp)
        modes = [run_mode(mode, template, root, tmp, token, args) for mode in args.modes]
    finally:
        cleanup()
        if args.keep:
            print(f"clusters kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    # Measured in turns on the same pair of servers (the pgbouncer mode), not across the two modes.
    ratio = next((m["ratio_pgbouncer_direct"] for m in modes if m["mode"] == "pgbouncer"), None)
    results = {
        "benchmark": "failover",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {k: v for k, v in vars(args).items() if k not in {"keep", "no_json"}} | {"workers": WORKERS,
                                                                                            "postgres": PG_SETTINGS},
        "environment": environment(),
        "modes": modes, "ratio_pgbouncer_direct": ratio, "elapsed_s": round(elapsed(), 1),
    }
    print()
    print(f"failover: POST /api/v1/cases, {WORKERS} granian workers, PostgreSQL primary + synchronous standby, "
          f"{args.connections} connections, peaks {args.duration:g} s in {args.rounds} turns, open loop "
          f"{args.rate or f'{args.rate_share:g} x peak'} req/s, kill after "
          f"{args.before:g} s, promote after {args.probes} refused probes every {args.probe:g} s, "
          f"commit {results['environment']['commit']}")
    print(report(results))
    status = 1 if any(m["acknowledged_lost"] for m in modes) else 0
    return results, status


if __name__ == "__main__":
    sys.exit(main())
