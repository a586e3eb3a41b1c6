#!/usr/bin/env python
"""Workbench page benchmark: the staff queue (/work/) and a case page with 1,000,000 cases in SQLite.

One command (``.venv/bin/python bench/pages.py``):

1. builds a throw-away SQLite database in a temp dir (``yiwang migrate``, ``yiwang.testing.build_world()``),
   copies it twice, and bulk-loads cases into the copies with ``sqlite3`` directly: ``--baseline-cases``
   (1,000) into one, ``--cases`` (1,000,000) into the other. Every case gets one ``submit`` event, hash-chained
   from GENESIS with ``yiwang.cases.chain.event_hash``; ~85 % are closed, the open ones are in every open
   state, with deadlines spread around now; the busy unit (the 幸福里 community hall) holds ~40k open cases;
2. in a child process per database (Django in-process, the test client, no server): checks a spread of the
   hash chains with ``verify_events``, logs in as the busy unit's clerk and as the superuser, and times
   every tab of the queue (``web.workbench.TABS``), a state filter, the 20th page (following the next
   cursors), a case page; then ``stats.selectors.indicators()`` for the area and for one community.
   p50/p95 over up to ``--requests`` requests each, the SQL queries per page, and each query re-run alone
   (rows fetched) with ``EXPLAIN QUERY PLAN`` for the slowest;
3. prints the figures at both sizes and the ratio large/baseline, writes bench/results/pages-<timestamp>.json.

``--sql "CREATE INDEX ..."`` (repeatable) then applies statements to both databases and measures again,
to try an index or a PRAGMA before changing the code. Nothing listens on any port.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import hashlib
import html
import itertools
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from yiwang.cases.chain import GENESIS, event_hash  # plain hashlib and json: no Django needed here

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    YIWANG,
    BenchError,
    bench_env,
    elapsed,
    environment,
    log,
    machine_busy_s,
    migrate,
    percentile,
    run,
    run_benchmark,
)

TARGET_MS = 150.0  # the queue's server time at 1,000,000 cases, p50
BUSY_UNIT = "KG-DZ-XFL-SH"  # 幸福里社区便民服务站: the busy community hall
CLERK = "clerk_xfl"  # its clerk in build_world()
ADMIN = "admin"
COMMUNITY = "KG-DZ-XFL"  # the community of the indicators' second call
OPEN_SHARE = 0.15

# ---------------------------------------------------------------------------------------------- data
#
# Who holds what. Open cases: the busy hall ~27 % of them (~40k at 1M), the others a few thousand to
# ~15k. Closed cases are spread flatter. Weights are per unit code of build_world().

OPEN_WEIGHTS = {
    "KG-DZ-XFL-SH": 40, "QH-WC-SPD-SH": 12, "KG-DZ-SH": 15, "QH-WC-SH": 10, "KG-SH": 8, "QH-SH": 6,
    "KG-CC": 14, "QH-CC": 9, "XX-CC": 5, "KG-EN": 6, "KG-DZ-EN": 12, "XX-HF": 8, "KG-OF": 2,
}
CLOSED_WEIGHTS = {
    "KG-DZ-XFL-SH": 15, "QH-WC-SPD-SH": 10, "KG-DZ-SH": 12, "QH-WC-SH": 9, "KG-SH": 10, "QH-SH": 8,
    "KG-CC": 12, "QH-CC": 8, "XX-CC": 5, "KG-EN": 5, "KG-DZ-EN": 8, "XX-HF": 10, "KG-OF": 2,
}
# Matters each kind of unit handles, with weights.
MATTERS_BY_UNIT_KIND = {
    "service_hall": [("SENIOR_CARD", 45), ("MEDICAL_REIMBURSE", 35), ("ASK_MEDICAL", 20)],
    "housing_fund": [("HOUSING_FUND_WITHDRAW", 1)],
    "command_centre": [("INC_PARKING", 70), ("INC_THEFT", 30)],
    "enforcement": [("INC_PARKING", 80), ("INC_THEFT", 20)],
    "office": [("ASK_MEDICAL", 1)],
}
CHANNELS = {
    "application": [("hall", 55), ("online", 45)],
    "consultation": [("phone", 50), ("online", 50)],
    "incident": [("grid", 45), ("phone", 25), ("camera", 15), ("patrol", 15)],
}
# (state, weight, clock started, suspended) for open cases; (state, weight, clock started) for closed.
OPEN_STATES = {
    "application": [("submitted", 20, False, False), ("accepted", 50, True, False),
                    ("supplement", 15, True, True), ("decided", 15, True, False)],
    "consultation": [("submitted", 1, False, False)],
    "incident": [("reported", 10, False, False), ("registered", 10, True, False), ("dispatched", 25, True, False),
                 ("acknowledged", 25, True, False), ("handled", 20, True, False), ("verified", 10, True, False)],
}
CLOSED_STATES = {
    "application": [("closed", 90, True), ("rejected", 7, False), ("withdrawn", 3, False)],
    "consultation": [("answered", 80, False), ("closed", 20, False)],
    "incident": [("closed", 92, True), ("dismissed", 8, False)],
}
INITIAL = {"application": "submitted", "consultation": "submitted", "incident": "reported"}
NAMES = ["王大爷", "李阿姨", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴芳"]
DAY = 86400.0


class Weighted:
    """Items with weights (the second field of each), picked at random in proportion."""

    def __init__(self, items: list):
        self.items = items
        self.cumulative = list(itertools.accumulate(item[1] for item in items))

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def _limit_days(time_limit: int, time_unit: str) -> float:
    # Calendar days a limit spans; close enough for a spread of deadlines (5 working days ~ 7 days).
    return time_limit / 24 if time_unit == "hours" else time_limit * 7 / 5


class World:
    """What the loader needs from the world database: units, regions, matters, staff."""

    def __init__(self, conn: sqlite3.Connection):
        q = conn.execute
        self.regions = {r[0]: {"id": r[0], "code": r[1], "level": r[2], "path": r[3]}
                        for r in q("SELECT id, code, level, path FROM org_region")}
        self.units = {r[1]: {"id": r[0], "code": r[1], "name": r[2], "kind": r[3], "region_id": r[4],
                             "path": r[5]}
                      for r in q("SELECT id, code, name, kind, region_id, region_path FROM org_unit WHERE active")}
        self.matters = {}
        for mid, code, name, kind, limit, unit, version_id in q(
            "SELECT m.id, m.code, m.name, m.kind, m.time_limit, m.time_unit, MAX(v.id) FROM catalog_matter m "
            "JOIN catalog_matterversion v ON v.matter_id = m.id GROUP BY m.id"
        ):
            self.matters[code] = {"id": mid, "code": code, "name": name, "kind": kind, "days": _limit_days(limit, unit),
                                  "version_id": version_id}
        # A unit's first staff member submits its hall cases (the submit event's actor); any of them claims.
        self.staff: dict[int, list[tuple[int, str]]] = {}
        for unit_id, user_id, username in q(
            "SELECT DISTINCT s.unit_id, u.id, u.username FROM org_staff s JOIN auth_user u ON u.id = s.user_id "
            "ORDER BY s.unit_id, u.id"
        ):
            self.staff.setdefault(unit_id, []).append((user_id, username))
        missing = [c for c in OPEN_WEIGHTS if c not in self.units] + [
            c for kinds in MATTERS_BY_UNIT_KIND.values() for c, _w in kinds if c not in self.matters]
        if missing:
            raise BenchError(f"the test world has no unit or matter {missing}: update bench/pages.py's weights")

    def communities_under(self, path: str) -> list[dict]:
        return sorted((r for r in self.regions.values() if r["level"] == "community" and r["path"].startswith(path)),
                      key=lambda r: r["code"]) or [next(r for r in self.regions.values() if r["path"] == path)]


CASE_COLUMNS = (
    "id", "kind", "title", "description", "form_data", "materials", "applicant_name", "applicant_phone", "channel",
    "lat", "lng", "address", "region_path", "state", "priority", "created_at", "accepted_at", "due_at",
    "suspended_at", "closed_at", "warning_level", "decision", "result", "version", "event_count", "last_hash",
    "idempotency_key", "applicant_id", "assignee_id", "created_by_id", "handling_unit_id", "holder_unit_id",
    "matter_id", "matter_version_id", "supervisor_unit_id", "home_visit", "region_id", "parent_id",
)
EVENT_COLUMNS = ("id", "seq", "at", "actor_name", "action", "from_state", "to_state", "payload", "hash",
                 "region_path", "actor_id", "case_id", "from_unit_id", "to_unit_id")


def _columns(conn: sqlite3.Connection, table: str, known: tuple, template: dict) -> tuple[list[str], list]:
    """Columns to insert: the known ones, then any the schema gained, taken from a real row (the template)."""
    extra, values = [], []
    for _cid, name, _type, notnull, default, _pk in conn.execute(f"PRAGMA table_info({table})"):
        if name in known:
            continue
        if name in template:
            extra.append(name)
            values.append(template[name])
        elif notnull and default is None:
            raise BenchError(f"{table}.{name} is new and NOT NULL: teach bench/pages.py what to put in it")
    return list(known) + extra, values


class Generator:
    """Rows for cases_case and cases_caseevent: one case and its submit event per id."""

    def __init__(self, world: World, now: dt.datetime, seed: int):
        self.w, self.rng = world, random.Random(seed)
        self.now = now.astimezone(dt.UTC).replace(tzinfo=None)  # stored as naive UTC, as Django does on SQLite
        self.open_units = Weighted([(world.units[c], w) for c, w in OPEN_WEIGHTS.items()])
        self.closed_units = Weighted([(world.units[c], w) for c, w in CLOSED_WEIGHTS.items()])
        self.matters = {kind: Weighted([(world.matters[c], w) for c, w in items])
                        for kind, items in MATTERS_BY_UNIT_KIND.items()}
        self.communities = {u["code"]: world.communities_under(u["path"]) for u in world.units.values()}
        self.channels = {kind: Weighted(items) for kind, items in CHANNELS.items()}
        self.open_states = {kind: Weighted(items) for kind, items in OPEN_STATES.items()}
        self.closed_states = {kind: Weighted(items) for kind, items in CLOSED_STATES.items()}
        self._payloads: dict = {}

    @staticmethod
    def stored(moment: dt.datetime) -> str:
        return str(moment)  # Django's SQLite adapter: str() of the naive UTC value

    def payload(self, unit: dict, region: dict, channel: str) -> tuple[str, str]:
        """(stored JSON, canonical JSON for the hash) of the submit event, as routing would write it."""
        key = (unit["code"], region["code"], channel)
        if key not in self._payloads:
            level = self.w.regions[unit["region_id"]]
            payload = {"routing": {"reason": "lowest_level", "unit": unit["code"], "level": level["level"],
                                   "region": level["code"]},
                       "note": f"按就近就低原则分派至{unit['name']}", "channel": channel}
            self._payloads[key] = (json.dumps(payload), json.dumps(payload, ensure_ascii=False, sort_keys=True,
                                                                   separators=(",", ":"), default=str))
        return self._payloads[key]

    def rows(self, case_id: int, extra_case: list, extra_event: list) -> tuple[tuple, tuple]:
        rng, now = self.rng, self.now
        is_open = rng.random() < OPEN_SHARE
        unit = (self.open_units if is_open else self.closed_units).pick(rng)[0]
        matter = self.matters[unit["kind"]].pick(rng)[0]
        kind = matter["kind"]
        region = rng.choice(self.communities[unit["code"]])
        channel = self.channels[kind].pick(rng)[0]
        limit = dt.timedelta(days=matter["days"])
        accepted = due = suspended = closed = None
        warning = 0
        if is_open:
            state, _w, started, waiting = self.open_states[kind].pick(rng)
            if started:
                # Deadlines around now: a quarter past due by up to 20 days, the rest accepted within
                # their time limit (so due within it).
                if rng.random() < 0.25:
                    due = now - dt.timedelta(seconds=rng.random() * 20 * DAY)
                    accepted = due - limit
                else:
                    accepted = now - limit * rng.random()
                    due = accepted + limit
                created = accepted - dt.timedelta(seconds=rng.random() * DAY)
                if waiting:
                    suspended = accepted + (now - accepted) * rng.random()
                else:
                    warning = 2 if due < now else 1 if due < now + dt.timedelta(days=3) else 0
            else:
                created = now - dt.timedelta(seconds=rng.expovariate(1 / (3 * DAY)))
        else:
            state, _w, started = self.closed_states[kind].pick(rng)
            created = now - dt.timedelta(seconds=rng.random() * 730 * DAY + DAY)
            if started:
                accepted = created + dt.timedelta(seconds=rng.random() * DAY)
                due = accepted + limit
                closed = accepted + limit * (0.1 + 1.05 * rng.random())  # ~85 % on time
            else:
                closed = created + dt.timedelta(seconds=rng.random() * 3 * DAY)
            closed = min(closed, now - dt.timedelta(minutes=1))
        if created.microsecond == 0:
            created += dt.timedelta(microseconds=1)
        staff = self.w.staff.get(unit["id"], [])
        actor_id, actor_name = staff[0] if staff and channel != "online" else (None, "")
        # Claimed (认领) by one of the unit's staff: half of the open cases in hand, most closed ones.
        assignee = rng.choice(staff)[0] if staff and accepted and rng.random() < (0.5 if is_open else 0.8) else None
        stored_payload, hashed_payload = self.payload(unit, region, channel)
        at_hashed = created.isoformat(timespec="microseconds") + "+00:00"
        body = (f'["{GENESIS}",1,"{at_hashed}",{"null" if actor_id is None else actor_id},"submit","",'
                f'"{INITIAL[kind]}",null,{unit["id"]},{hashed_payload}]')
        digest = hashlib.sha256(body.encode()).hexdigest()
        handling = unit["id"] if (closed or accepted) else None
        incident = kind == "incident"
        case = (
            case_id, kind, matter["name"], "",
            '{"birth_date": "1950-01-01"}' if matter["code"] == "SENIOR_CARD" else "{}",
            '[{"code": "id_card"}, {"code": "photo"}]' if matter["code"] == "SENIOR_CARD" else "[]",
            "" if incident else rng.choice(NAMES), "" if incident else f"139{rng.randrange(10**8):08d}", channel,
            34.4 + rng.random() * 0.2 if incident else None, 108.7 + rng.random() * 0.2 if incident else None, "",
            region["path"], state, 2, str(created), accepted and str(accepted), due and str(due),
            suspended and str(suspended), closed and str(closed), warning,
            "approve" if state == "closed" and kind == "application" else "", "", 1, 1, digest,
            None, None, assignee, actor_id, handling, unit["id"], matter["id"], matter["version_id"], None, 0,
            region["id"], None, *extra_case,
        )
        event = (case_id, 1, str(created), actor_name, "submit", "", INITIAL[kind], stored_payload, digest,
                 region["path"], actor_id, case_id, None, unit["id"], *extra_event)
        return case, event


def check_hash_recipe(gen: Generator) -> None:
    """The loader builds the hashed JSON by hand for speed: check it against event_hash once."""
    unit = gen.w.units[BUSY_UNIT]
    region = gen.communities[BUSY_UNIT][0]
    stored, hashed = gen.payload(unit, region, "hall")
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901)
    mine = hashlib.sha256((f'["{GENESIS}",1,"{at.isoformat(timespec="microseconds")}+00:00",7,"submit","",'
                           f'"submitted",null,{unit["id"]},{hashed}]').encode()).hexdigest()
    real = event_hash(prev=GENESIS, seq=1, at=at.replace(tzinfo=dt.UTC), actor_id=7, action="submit", from_state="",
                      to_state="submitted", from_unit_id=None, to_unit_id=unit["id"], payload=json.loads(stored))
    if mine != real:
        raise BenchError("the loader's hash recipe no longer matches cases.chain.event_hash: update Generator.rows")


def load_cases(db: Path, n: int, *, now: dt.datetime, seed: int, template: dict) -> dict:
    """Bulk-insert ``n`` cases and their submit events; the indexes are dropped first and rebuilt after."""
    t0 = time.monotonic()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")  # leave WAL for the load; the measured runs put it back
    for pragma in ("synchronous=OFF", "journal_mode=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    world = World(conn)
    gen = Generator(world, now, seed)
    check_hash_recipe(gen)
    case_cols, case_extra = _columns(conn, "cases_case", CASE_COLUMNS, template.get("case", {}))
    event_cols, event_extra = _columns(conn, "cases_caseevent", EVENT_COLUMNS, template.get("event", {}))
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN ('cases_case', 'cases_caseevent')").fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    start = (conn.execute("SELECT MAX(id) FROM cases_case").fetchone()[0] or 0) + 1
    insert_case = (f"INSERT INTO cases_case ({', '.join(case_cols)}) "
                   f"VALUES ({', '.join('?' * len(case_cols))})")
    insert_event = (f"INSERT INTO cases_caseevent ({', '.join(event_cols)}) "
                    f"VALUES ({', '.join('?' * len(event_cols))})")
    chunk = 50_000
    done = 0
    while done < n:
        size = min(chunk, n - done)
        pairs = [gen.rows(start + done + i, case_extra, event_extra) for i in range(size)]
        conn.execute("BEGIN")
        conn.executemany(insert_case, [p[0] for p in pairs])
        conn.executemany(insert_event, [p[1] for p in pairs])
        conn.execute("COMMIT")
        done += size
        if n >= 200_000 and done % 200_000 == 0:
            log(f"  {db.name}: {done:,} cases")
    t_rows = time.monotonic() - t0
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return {"cases": n, "rows_s": round(t_rows, 1), "indexes_s": round(time.monotonic() - t0 - t_rows, 1),
            "size_mib": round(db.stat().st_size / 2**20)}


# ---------------------------------------------------------------------------------------------- setup


def base_env(db: Path, tmp: Path) -> dict:
    return bench_env(db, tmp, YIWANG_ALLOWED_HOSTS="testserver")


TEMPLATE_SCRIPT = """
import json
from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK, build_world
w = build_world()
c = case_create(viewer=w.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL", channel="hall",
                applicant_name="template", **SENIOR_OK).case
print("CASE", c.pk)
"""


def prepare_world(tmp: Path) -> tuple[Path, dict]:
    """A migrated database with build_world(), and one real case's rows as the template for new columns."""
    db = tmp / "world.sqlite3"
    env = base_env(db, tmp)
    migrate(env)
    log("building the test world (yiwang.testing.build_world)")
    out = run([str(YIWANG), "shell", "-c", TEMPLATE_SCRIPT], env, timeout=120.0)
    case_id = int(re.search(r"^CASE (\d+)$", out, re.M).group(1))
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.row_factory = sqlite3.Row
        case = dict(conn.execute("SELECT * FROM cases_case WHERE id = ?", (case_id,)).fetchone())
        event = dict(conn.execute("SELECT * FROM cases_caseevent WHERE case_id = ?", (case_id,)).fetchone())
        # It was only a template: the loaded databases hold exactly the cases the loader writes.
        conn.execute("DELETE FROM cases_caseevent WHERE case_id = ?", (case_id,))
        conn.execute("DELETE FROM cases_case WHERE id = ?", (case_id,))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, {"case": case, "event": event}


def copy_db(src: Path, dst: Path) -> None:
    with contextlib.closing(sqlite3.connect(src)) as s, contextlib.closing(sqlite3.connect(dst)) as d:
        s.backup(d)


def apply_sql(db: Path, statements: list[str]) -> float:
    t0 = time.monotonic()
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for sql in statements:
            conn.executescript(sql)
    return time.monotonic() - t0


# ---------------------------------------------------------------------------------------------- measure
# Runs in a child process per database: Django set up on that database, the test client in-process.


def measure(args) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from yiwang.cases.chain import verify_events
    from yiwang.cases.models import Case
    from yiwang.core import clock
    from yiwang.org.selectors import hierarchy, viewer_for
    from yiwang.records import rollups
    from yiwang.stats.selectors import indicators
    from yiwang.web.workbench import TABS

    # The cases went in with sqlite3 directly, past the tallies the indicators read: count them once.
    t0 = time.monotonic()
    rollups.rebuild()
    log(f"  tallies rebuilt in {time.monotonic() - t0:.1f} s")

    tabs = [key for key, _label in TABS]  # every tab the queue has, "open" (the default) first
    tabs.sort(key=lambda key: key != "open")

    clock.set_frozen(dt.datetime.fromisoformat(args.now))  # both databases were generated at this moment
    deadline = args.page_budget
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[CLERK, ADMIN])}
    busy = hierarchy().unit(BUSY_UNIT)
    now = clock.now()
    held = Case.objects.filter(holder_unit_id=busy.id)
    facts = {"cases": Case.objects.count(), "busy_unit_cases": held.count(),
             "busy_unit_open": held.filter(closed_at__isnull=True).count(),
             "open": Case.objects.filter(closed_at__isnull=True).count(),
             "overdue": Case.objects.filter(closed_at__isnull=True, suspended_at__isnull=True, due_at__lt=now).count()}
    sample = held.filter(state="accepted").order_by("id")
    case = sample[sample.count() // 2] if sample.exists() else held.order_by("id").first()
    # The loader writes the chains by hand: check a spread of them the way `yiwang verify` does.
    top = Case.objects.order_by("-id").values_list("id", flat=True).first() or 0
    checked = Case.objects.filter(id__in=range(1, top + 1, max(1, top // 200))).prefetch_related("events")
    for c in checked:
        problem = verify_events(sorted(c.events.all(), key=lambda e: e.seq), c.last_hash)
        if problem:
            raise BenchError(f"case {c.id}: {problem}: the loader's hash chain is wrong")
    facts["chains_checked"] = len(checked)

    def plan(sql: str) -> list[str]:
        try:
            with connection.cursor() as cur:
                rows = cur.connection.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        except Exception as exc:  # a query we cannot re-run as text is reported, not fatal
            return [f"(no plan: {exc})"]
        depth = {0: 0}
        out = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            out.append("  " * (depth[node] - 1) + detail)
        return out

    def rerun_ms(sql: str) -> float | None:
        """The query's whole cost: SQLite does most of the work while rows are fetched, after the
        execute() that Django's captured "time" covers (a count or a sorted page costs in the
        execute, a scan streamed in index order in the fetch), so the captured times mislead."""
        try:
            with connection.cursor() as cur:
                t0 = time.perf_counter()
                cur.connection.execute(sql).fetchall()
                return round(1000 * (time.perf_counter() - t0), 2)
        except Exception:  # a query we cannot re-run as text keeps its captured time
            return None

    def timed(name: str, fn, *, minimum: int = 3, warm_up: bool = True) -> dict:
        if warm_up:
            fn()  # first use of the templates, caches, SQLite's page cache
        with CaptureQueriesContext(connection) as ctx:  # the first sample: capturing costs ~0.1 ms
            t0 = time.perf_counter()
            fn()
            samples = [time.perf_counter() - t0]
        captured = list(ctx.captured_queries)  # read now: the next request clears connection.queries
        t_end = time.perf_counter() + deadline
        while len(samples) < args.requests and (len(samples) < minimum or time.perf_counter() < t_end):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        queries = []
        for q in captured:
            ms = rerun_ms(q["sql"]) if q["sql"].lstrip().upper().startswith("SELECT") else None
            queries.append({"ms": round(float(q["time"]) * 1000, 2) if ms is None else ms,
                            "execute_ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]})
        slow = sorted(queries, key=lambda q: -q["ms"])[:3]
        for q in slow:
            q["plan"] = plan(q["sql"])
        return {"name": name, "n": len(samples), "p50_ms": round(1000 * percentile(samples, 50), 2),
                "p95_ms": round(1000 * percentile(samples, 95), 2), "max_ms": round(1000 * max(samples), 2),
                "queries": len(queries), "sql_ms": round(sum(q["ms"] for q in queries), 2), "slowest": slow}

    results: dict = {"facts": facts, "case_number": case.number, "pages": [], "indicators": []}
    t_wall, t_busy, t_own = time.monotonic(), machine_busy_s(), time.process_time()
    for username in (CLERK, ADMIN):
        client = Client()
        client.force_login(users[username])

        def get(url: str, client=client, username=username) -> str:
            r = client.get(url)
            if r.status_code != 200:
                raise BenchError(f"GET {url} as {username}: {r.status_code}")
            return r.content.decode()

        # The 20th page of the open tab: follow the "next" links (fewer pages when there are fewer).
        deep, depth = "/work/", 1
        for _ in range(19):
            m = re.search(r'href="\?([^"]*cursor=[^"]*)"', get(deep))
            if not m:
                break
            deep, depth = "/work/?" + html.unescape(m.group(1)), depth + 1
        pages = [(key, "/work/" if key == "open" else f"/work/?tab={key}") for key in tabs]
        pages += [("state=accepted", "/work/?state=accepted"), (f"page {depth}", deep),
                  ("case page", f"/work/cases/{case.number}/")]
        for label, url in pages:
            r = timed(label, lambda url=url: get(url))
            r.update(user=username, url=url, queue=url.startswith("/work/?") or url == "/work/")
            results["pages"].append(r)
            log(f"  {username:9} {label:15} p50 {r['p50_ms']:9.1f} ms  p95 {r['p95_ms']:9.1f} ms  "
                f"{r['queries']} queries, n={r['n']}")
    admin = viewer_for(users[ADMIN])
    for label, code in (("area (admin)", None), (f"community {COMMUNITY}", COMMUNITY)):
        # Seconds each at 1M: the queue pages before have warmed SQLite's cache, so no warm-up call.
        r = timed(label, lambda code=code: indicators(viewer=admin, region_code=code), minimum=2, warm_up=False)
        r.update(user=ADMIN)
        results["indicators"].append(r)
        log(f"  indicators {label:15} p50 {r['p50_ms']:9.1f} ms  {r['queries']} queries, n={r['n']}")
    wall = time.monotonic() - t_wall
    results["cpu"] = {"wall_s": round(wall, 1), "own_cores": round((time.process_time() - t_own) / wall, 2),
                      "other_cores": round(max(0.0, machine_busy_s() - t_busy - (time.process_time() - t_own))
                                           / wall, 2)}
    return results


def measure_in_child(db: Path, tmp: Path, args, now: dt.datetime, label: str) -> dict:
    out = tmp / f"measure-{label}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--_measure", str(out), "--now", now.isoformat(),
            "--requests", str(args.requests), "--page-budget", str(args.page_budget)]
    log(f"measuring {label} ({db.name})")
    env = base_env(db, tmp)
    p = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=None, text=True, timeout=args.budget)
    if p.returncode != 0:
        raise BenchError(f"the measuring process for {label} failed ({p.returncode}):\n{p.stdout}")
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------- report


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def table(base: dict, big: dict, n_base: int, n_big: int, after: dict | None = None) -> list[str]:
    head = ["page", f"{n_base:,}: p50 / p95 ms", f"{n_big:,}: p50 / p95 ms", "ratio p50", "queries", "target"]
    if after:
        head[-1:-1] = [f"{n_big:,} after --sql", "gain"]
    rows = [head]
    for kind in ("pages", "indicators"):
        for b, g, a in zip(base[kind], big[kind], (after or {}).get(kind, [None] * len(big[kind])), strict=True):
            name = f"{b['user']:9} {g['name'] if kind == 'pages' else 'indicators ' + g['name']}"
            if kind == "pages" and b["name"] != g["name"]:
                name += f" (baseline: {b['name']})"
            target = ""
            if kind == "pages" and g["queue"] and b["user"] == CLERK:
                final = a or g
                target = f"p50 < {TARGET_MS:.0f} ms  {'ok' if final['p50_ms'] < TARGET_MS else 'MISSED'}"
            row = [name, f"{fmt(b['p50_ms'])} / {fmt(b['p95_ms'])}", f"{fmt(g['p50_ms'])} / {fmt(g['p95_ms'])}",
                   f"{g['p50_ms'] / b['p50_ms']:.1f}x", f"{b['queries']} / {g['queries']}"]
            if after:
                row += [f"{fmt(a['p50_ms'])} / {fmt(a['p95_ms'])}", f"{g['p50_ms'] / a['p50_ms']:.1f}x"]
            rows.append([*row, target])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) if i < len(head) - 1 else c
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def short_sql(sql: str, limit: int = 700) -> str:
    """A long column list becomes "SELECT <n columns> FROM"; what follows FROM is what matters."""
    m = re.match(r"SELECT (.*?) FROM ", sql)
    if m and len(m.group(1)) > 160 and "(" not in m.group(1):
        sql = f"SELECT <{m.group(1).count(',') + 1} columns> FROM " + sql[m.end():]
    return sql if len(sql) <= limit else sql[:limit] + " …"


def slow_queries(big: dict, kind: str, limit: int) -> list[str]:
    """The slowest distinct query shapes of the pages or the indicators, with their plans."""
    seen: dict[str, dict] = {}
    for page in big[kind]:
        for q in page["slowest"]:
            shape = re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"])
            if shape not in seen or seen[shape]["ms"] < q["ms"]:
                seen[shape] = {**q, "where": f"{page['user']} {page['name']}"}
    out = []
    for q in sorted(seen.values(), key=lambda q: -q["ms"])[:limit]:
        sql = short_sql(q["sql"])
        out += [f"{q['ms']:.0f} ms  ({q['where']})", f"  {sql}", *(f"    {line}" for line in q["plan"]), ""]
    return out


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases in the large database, default 1,000,000")
    ap.add_argument("--baseline-cases", type=int, default=1_000, help="cases in the baseline database, default 1,000")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page at most, default 30")
    ap.add_argument("--page-budget", type=float, default=4.0,
                    help="seconds of timed requests per page (at least 3 requests), default 4")
    ap.add_argument("--sql", action="append", default=[], metavar="SQL",
                    help="statements to apply to both databases, then measure again (repeatable)")
    ap.add_argument("--seed", type=int, default=20261126, help="random seed of the generated cases")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the databases)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/pages-*.json")
    ap.add_argument("--budget", type=int, default=None, help="stop the run after this many seconds")
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    ap.add_argument("--now", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cases < 1 or args.baseline_cases < 1 or args.requests < 3 or args.page_budget <= 0:
        ap.error("--cases and --baseline-cases must be >= 1, --requests >= 3, --page-budget > 0")
    # About 6 minutes at 1M; a second measured round (--sql) adds about half of that.
    args.budget = args.budget or int(120 + args.cases / 1_000_000 * 330 * (1.6 if args.sql else 1))

    if args._measure:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
        Path(args._measure).write_text(json.dumps(measure(args), ensure_ascii=False))
        return 0

    return run_benchmark("pages", ap, args, lambda tmp: bench(args, tmp), budget=args.budget)


def bench(args, tmp: Path) -> tuple[dict, int]:
    world, template = prepare_world(tmp)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    base_db, big_db = tmp / "baseline.sqlite3", tmp / "large.sqlite3"
    loads = {}
    for db, n in ((base_db, args.baseline_cases), (big_db, args.cases)):
        copy_db(world, db)
        log(f"loading {n:,} cases into {db.name}")
        loads[db.name] = load_cases(db, n, now=now, seed=args.seed, template=template)
        log(f"  {loads[db.name]}")
    base = measure_in_child(base_db, tmp, args, now, "baseline")
    big = measure_in_child(big_db, tmp, args, now, "large")
    after = None
    if args.sql:
        log(f"applying --sql to both databases: {args.sql}")
        sql_s = {db.name: round(apply_sql(db, args.sql), 1) for db in (base_db, big_db)}
        log(f"  took {sql_s}")
        after = {"sql": args.sql, "apply_s": sql_s,
                 "baseline": measure_in_child(base_db, tmp, args, now, "baseline-after"),
                 "large": measure_in_child(big_db, tmp, args, now, "large-after")}

    f = big["facts"]
    print()
    print(f"pages: staff workbench with {args.cases:,} cases vs {args.baseline_cases:,} (baseline), SQLite, "
          f"in-process test client, {os.cpu_count()} CPUs")
    print(f"large: {f['open']:,} open ({f['overdue']:,} overdue); {BUSY_UNIT} holds {f['busy_unit_cases']:,} "
          f"({f['busy_unit_open']:,} open); clerk = {CLERK}, admin = superuser; "
          f"load {loads[big_db.name]['rows_s']} s + indexes {loads[big_db.name]['indexes_s']} s, "
          f"{loads[big_db.name]['size_mib']} MiB; hash chains of {f['chains_checked']} sampled cases verified")
    print()
    print("\n".join(table(base, big, args.baseline_cases, args.cases)))
    if after:
        print()
        print(f"after --sql {' ; '.join(args.sql)}  (applied in {after['apply_s']} s)")
        print("\n".join(table(after["baseline"], big, args.baseline_cases, args.cases, after["large"])))
    busy = {name: r["cpu"]["other_cores"] for name, r in
            (("baseline", base), ("large", big), *((("after", after["large"]),) if after else ()))}
    print(f"other processes used {busy} CPU cores while measuring (should be ~0)")
    if max(busy.values()) >= 0.2:
        print("WARNING: the machine was busy during the run: the figures are noisy, repeat before trusting them.")
    print()
    rounds = [("", big)] + ([(", after --sql", after["large"])] if after else [])
    for label, r in rounds:
        for kind, n in (("pages", 6), ("indicators", 4)):
            print(f"slowest {'queue and case page' if kind == 'pages' else 'indicators'} queries at "
                  f"{args.cases:,} cases{label} (each re-run alone, rows fetched; EXPLAIN QUERY PLAN):")
            print("\n".join(slow_queries(r, kind, n)))
    results = {
        "benchmark": "pages", "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"cases": args.cases, "baseline_cases": args.baseline_cases, "requests": args.requests,
                   "page_budget_s": args.page_budget, "seed": args.seed, "now": now.isoformat(),
                   "settings": os.environ.get("DJANGO_SETTINGS_MODULE", "yiwang.settings")},
        "environment": environment(), "target": {"queue_p50_ms_max": TARGET_MS, "user": CLERK},
        "load": loads, "baseline": base, "large": big, "after": after,
        "elapsed_s": round(elapsed(), 1),
    }
    return results, 0


if __name__ == "__main__":
    sys.exit(main())
