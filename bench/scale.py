#!/usr/bin/env python
"""Scale benchmark: millions of cases loaded through `yiwang import`, then the pages that must not slow down.

One command (``.venv/bin/python bench/scale.py``; ``make bench-scale``):

1. a scratch database: PostgreSQL ``yiwang_scale`` (or ``$YIWANG_BENCH_SCALE_DB``) on 127.0.0.1:5432 (``--db postgres``, dropped and
   created afresh unless ``--keep``, which reuses it across runs), or a SQLite file in a temp dir
   (``--db sqlite``); ``yiwang migrate`` and the Xixian demo base (``yiwang demo --no-apps --cases 0``:
   203 regions, 208 units, 349 staff and resident accounts, the matter catalogue);
2. for each size of ``--sizes`` in turn, the cases still missing are generated (a child process with
   Django reading the world: kinds, matters, routing, states, holders, channels, timelines and ratings
   distributed like the demo's history, deadlines in working days, Chinese titles and descriptions from
   a vocabulary; 3,000 cases a day, so a bigger database is a longer history with the same ~15,000
   open cases, not a busier present) and streamed through a pipe into ``yiwang import -``: COPY on
   PostgreSQL (one generator → importer pipeline per CPU, ``--import-jobs``, each a slice of the
   history), executemany on SQLite. So the second size grows the same database;
3. at each size, in a child process with Django (the test client in-process, like bench/pages.py, the
   cache warm): the workbench queue (``/work/``) of the clerk of the unit holding the most open cases,
   one of its case pages, ``stats.selectors.indicators()`` for the whole area and for one community,
   the dashboard page for both, a text search (``GET /api/v1/cases?q=…``) area-wide (the superuser's
   token) and as a clerk of one community (session), and the API's case list as the queue's clerk
   (token): p50/p95 over ``--requests`` requests each;
4. at each size, a real server (``yiwang serve``, granian): the same reads (every one with a URL), as
   the same users with the same session cookies and tokens, timed one request at a time over one
   keep-alive HTTP/1.1 connection with the bytes of each answer; then a short load on the same
   pages, with the VmRSS of every worker sampled while the requests run;
5. prints a table per run with each size's in-process and HTTP p50/p95, the HTTP answer's bytes, the
   ratio of the largest size's p95 to the smallest's, and PASS/MISSED against the targets (p95 < 50 ms
   at the largest size, ratio < 1.5) for both; writes bench/results/scale-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import re
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen
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
from intake import HOST, Server, free_port, stop_all

TARGET_P95_MS = 50.0  # every timed read at the largest size
TARGET_RATIO = 1.5  # p95 at the largest size / p95 at the smallest
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_NAME = os.environ.get("YIWANG_BENCH_SCALE_DB", "yiwang_scale")  # another name for a trial run beside a kept database
COMMUNITY = "KG-DZ-XFL"  # 幸福里社区: the community of the indicators' second call
SEARCH = "井盖缺失"  # about one case in 250 (人行道井盖缺失)
ADMIN = "admin"
DAY = 86400.0
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai, no daylight saving
# A district of a million residents takes in about 3,000 cases a working day; a bigger database is a
# longer history at that rate, not a busier present. So the open backlog (cases of the last weeks,
# about 15,000) and every window a page reads (a queue, 12 weeks of trend) are the same at 1M and
# 10M cases, as they would be for a district that has simply run yiwang for longer.
DAILY_CASES = 3000
RECENT_DAYS = 30  # open cases were opened within this many days
OPEN_AT_SUBMISSION = 0.33  # chance that a case submitted just now is still open; falls to 0 at RECENT_DAYS

# ---------------------------------------------------------------------------------------------- generating
# Runs in a child process (--_generate) with Django set up on the bench database, so that routing,
# escalation and the staff of each unit are the real ones; writes JSON Lines to stdout.

PHRASES = ("请尽快处理", "已经好几天了", "影响居民正常出行", "存在安全隐患", "夜间尤为严重", "多次反映未解决",
           "周边商户意见很大", "老人小孩经过很危险", "希望相关部门管一管", "早晚高峰特别明显", "下雨后更严重",
           "附近居民反映强烈")
QUESTIONS = ("请问需要带哪些材料？", "在村里能办吗？", "报销比例是多少？", "多长时间能办好？", "可以让子女代办吗？",
             "异地就医怎么报销？", "网上能不能申请？", "办理要收费吗？")
APPLY_NOTES = ("", "", "", "本人申请", "家属代为申请", "材料已备齐", "急需办理")


class Weighted:
    def __init__(self, items: list, weights: list[float]):
        self.items = items
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


class Generator:
    """Cases of the demo world as `yiwang import` lines, each replayable by the workflows."""

    def __init__(self, *, seed: str, now: float, first_rank: int = 0, count: int = 1):
        from yiwang.cases import routing
        from yiwang.catalog.selectors import matter_cache
        from yiwang.demo import data
        from yiwang.org.models import Resident, Staff
        from yiwang.org.selectors import hierarchy

        self.rng = random.Random(seed)
        self.now = now
        # This batch holds the cases ranked first_rank … first_rank + count - 1 by age (0: newest).
        self.first_rank, self.count = first_rank, count
        self.data = data
        h = self.h = hierarchy()
        self.matters = matter_cache.get().by_code
        self.staff: dict[int, dict[str, list[str]]] = {}
        for unit_id, role, username in Staff.objects.filter(user__is_active=True).values_list(
                "unit_id", "role", "user__username").order_by("unit_id", "user__username"):
            self.staff.setdefault(unit_id, {}).setdefault(role, []).append(username)
        self.residents = list(Resident.objects.exclude(id_number="").values_list("id_number", "name", "phone"))
        regions = h.regions.values()
        by_parent: dict[int, list] = {}
        for r in regions:
            by_parent.setdefault(r.parent_id, []).append(r)
        self.places = []
        for community in sorted((r for r in regions if r.level == "community"), key=lambda r: r.code):
            town = h.regions[community.parent_id]
            city = h.regions[town.parent_id]
            grids = sorted((r for r in by_parent.get(community.id, []) if r.level == "grid"), key=lambda r: r.code)
            hall = self._unit_at(community.id, "service_hall") or self._unit_at(town.id, "service_hall")
            spec = next(c for c in data.CITIES if c.code == city.code)
            self.places.append({"community": community, "town": town, "city": city, "grids": grids, "hall": hall,
                                "roads": spec.roads, "village": community.name.endswith("村"),
                                "grid_worker": self._first(hall, "grid_worker") if hall else None})
        self.place_weights = Weighted(self.places, [max(1, len(p["grids"])) for p in self.places])
        codes = [c for c in data.WEIGHTS if c in self.matters]
        self.matter_pick = Weighted(codes, [data.WEIGHTS[c] for c in codes])
        self.incidents = {spec.code: spec for spec in data.INCIDENTS}
        self._routes: dict = {}
        self._escalations: dict = {}
        self._routing = routing
        self._text: dict[str, str] = {}

    # the world

    def _unit_at(self, region_id: int, kind: str):
        ids = self.h.units_at.get((region_id, kind))
        return self.h.units[ids[0]] if ids else None

    def _first(self, unit, *roles: str) -> str | None:
        by_role = self.staff.get(unit.id, {}) if unit else {}
        for role in roles:
            if by_role.get(role):
                return by_role[role][0]
        return None

    def actor(self, unit, *roles: str) -> str | None:
        by_role = self.staff.get(unit.id, {})
        for role in roles:
            names = by_role.get(role)
            if names:
                return names[0] if len(names) == 1 else self.rng.choice(names)
        return None

    def route(self, code: str, region):
        key = (code, region.id)
        if key not in self._routes:
            self._routes[key] = self._routing.route(self.matters[code], region, self.h).unit
        return self._routes[key]

    def escalation(self, unit):
        if unit.id not in self._escalations:
            try:
                self._escalations[unit.id] = self._routing.escalation_target(unit, self.h)
            except Exception:  # already at the top: the case stays where it is
                self._escalations[unit.id] = None
        return self._escalations[unit.id]

    # time

    def office(self, ts: float, after: float | None = None) -> float:
        """A moment in office hours (9:00-17:30, Monday-Friday, local) on the day of ``ts`` or later."""
        day = (ts + LOCAL_OFFSET) // DAY
        while (day + 3) % 7 >= 5:  # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays
            day += 1
        moment = day * DAY - LOCAL_OFFSET + self.rng.uniform(9 * 3600, 17.5 * 3600)
        if after is not None and moment <= after:
            moment = after + self.rng.uniform(180, 2400)
        return moment

    @staticmethod
    def iso(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()

    def person(self) -> str:
        d = self.data
        male = self.rng.random() < 0.5
        return self.rng.choice(d.SURNAMES) + self.rng.choice(d.GIVEN_MALE if male else d.GIVEN_FEMALE)

    def phone(self) -> str:
        return f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"

    def id_number(self) -> str:
        from yiwang.core.idnumber import check_digit

        first17 = f"6104{self.rng.randrange(10, 99)}19{self.rng.randrange(40, 99)}0{self.rng.randrange(1, 9)}" \
                  f"1{self.rng.randrange(0, 9)}{self.rng.randrange(100, 999)}"
        return first17 + check_digit(first17)

    # one case

    def record(self) -> dict:
        """One case; drawn again when office hours push even its submission past now."""
        while True:
            rec = self._record()
            if rec["events"]:
                return rec

    def _record(self) -> dict:
        rng = self.rng
        code = self.matter_pick.pick(rng)
        matter = self.matters[code]
        rank = self.first_rank + rng.random() * self.count
        age_days = rank / DAILY_CASES
        created = self.now - age_days * DAY
        is_open = age_days < RECENT_DAYS and rng.random() < OPEN_AT_SUBMISSION * (1 - age_days / RECENT_DAYS)
        if matter.kind == "incident":
            rec, events = self.incident(code, matter, created)
        else:
            rec, events = self.request(code, matter, created)
        if is_open and len(events) > 1:
            events = events[:rng.randrange(1, len(events))]
        cut = [e for e in events if e[0] <= self.now]
        rec["events"] = [{"at": self.iso(ts), **ev} for ts, ev in cut]
        rating = rec.pop("_rating", None)
        if rating and len(cut) == len(events) and not is_open:
            ts, body = rating
            if ts <= self.now:
                rec["rating"] = {"at": self.iso(ts), **body}
        return rec

    def _limit_s(self, matter) -> float:
        return matter.time_limit * 3600 if matter.time_unit == "hours" else matter.time_limit * 7 / 5 * DAY

    def request(self, code: str, matter, created: float) -> tuple[dict, list]:
        rng, d = self.rng, self.data
        place = self.place_weights.pick(rng)
        hall = place["hall"]
        community = place["community"]
        holder = self.route(code, community)
        kind = matter.kind
        roll = rng.random()
        if kind == "consultation":
            channel = "phone" if roll < 0.35 else "hall" if roll < 0.7 else "online"
        else:
            channel = "hall" if roll < 0.6 else "online"
        applicant = {"name": self.person(), "phone": self.phone()}
        who = rng.random()
        if who < 0.1 and self.residents:
            applicant = {"id_number": rng.choice(self.residents)[0]}
        elif who < 0.2:
            applicant["id_number"] = self.id_number()
        t = self.office(created) if channel != "online" else created
        submitter = self.actor(hall, "clerk", "handler") if channel != "online" else None
        events = [(t, {"action": "submit", "to_unit": holder.code,
                       **({"actor": submitter} if submitter else {"actor_name": applicant.get("name", "")})})]
        rec = {"matter": code, "channel": channel, "region": community.code, "applicant": applicant}
        if kind == "consultation":
            rec["description"] = rng.choice(QUESTIONS)
        else:
            note = rng.choice(APPLY_NOTES)
            if note:
                rec["description"] = note
        here = channel == "hall" and holder.id == hall.id

        def step(at: float, unit, roles: tuple[str, ...], action: str, **extra) -> None:
            actor = self.actor(unit, *roles)
            events.append((at, {"action": action, **({"actor": actor} if actor else {"actor_name": "工作人员"}),
                                **extra}))

        if kind == "consultation":
            if roll < 0.03 and holder.kind == "service_hall" and holder.id == hall.id:
                t += rng.uniform(600, 5400)
                up = self.escalation(holder)
                if up is not None:
                    step(t, holder, ("clerk", "handler"), "escalate", payload={"comment": "需上级窗口答复，上报街镇"})
                    holder = up
            t = t + rng.uniform(180, 1200) if here else self.office(t + rng.choice((0, 0, 0, 1, 1, 2)) * DAY, t)
            step(t, holder, ("clerk", "handler"), "answer", payload={"result": rng.choice(d.ANSWERS)})
            return self._rated(rec, events, channel, holder, "answered"), events
        outcome = rng.random()
        if outcome < 0.02:
            t = t + rng.uniform(120, 600) if here else self.office(t + rng.choice((0, 0, 1)) * DAY, t)
            step(t, holder, ("clerk", "handler"), "reject", payload={"comment": rng.choice(d.REJECT_REASONS)})
            return self._rated(rec, events, channel, holder, "rejected"), events
        if outcome < 0.035:
            events.append((t + rng.uniform(1800, 120000), {"action": "withdraw",
                                                            "actor_name": applicant.get("name", "申请人")}))
            return rec, events
        if outcome < 0.055 and holder.id == hall.id and community.id == holder.region_id:
            town_hall = self._unit_at(place["town"].id, "service_hall")
            if town_hall is not None:
                t += rng.uniform(600, 7200)
                step(t, holder, ("clerk",), "transfer", to_unit=town_hall.code,
                     payload={"comment": d.TRANSFER_COMMENTS["application"]})
                holder, here = town_hall, False
        t = t + rng.uniform(120, 600) if here else self.office(t + rng.choice((0, 0, 1)) * DAY, t)
        step(t, holder, ("clerk", "handler"), "accept")
        if matter.is_instant:
            t += rng.uniform(180, 1500)
            step(t, holder, ("handler", "clerk"), "decide",
                 payload={"decision": "approved", "result": rng.choice(d.APPROVE_RESULTS)})
            t += rng.uniform(60, 300)
            step(t, holder, ("clerk", "handler"), "close")
            return self._rated(rec, events, channel, holder, "closed"), events
        accepted = t
        roll = rng.random()
        if roll < 0.015 and holder.kind == "service_hall":
            up = self.escalation(holder)
            if up is not None:
                t = self.office(t + rng.choice((0, 1)) * DAY, t)
                step(t, holder, ("handler", "clerk"), "escalate", payload={"comment": d.ESCALATE_COMMENTS["application"]})
                holder = up
        elif roll < 0.1:
            t = self.office(t + rng.choice((0, 1, 1, 2)) * DAY, t)
            step(t, holder, ("clerk", "handler"), "request_supplement",
                 payload={"comment": rng.choice(d.SUPPLEMENT_REASONS)})
            t += rng.uniform(1200 * 60, 6 * DAY)
            events.append((t, {"action": "resubmit", **({"actor": self.actor(holder, "clerk")}
                                                         if self.actor(holder, "clerk") else {"actor_name": "申请人"})}))
            accepted += t - events[-2][0]
        limit = self._limit_s(matter)
        late = rng.random() < 0.03
        t = max(t + 600, self.office(accepted + limit * (1 + rng.random() * 0.5 if late else rng.betavariate(1.3, 2.6)), t))
        denied = rng.random() < (0.08 if matter.responsible_unit_kind == "civil_affairs" else 0.01)
        step(t, holder, ("handler", "clerk"), "decide",
             payload={"decision": "denied" if denied else "approved",
                      "result": rng.choice(d.DENY_RESULTS if denied else d.APPROVE_RESULTS)})
        t += rng.uniform(300, 5400)
        step(t, holder, ("clerk", "handler"), "close")
        return self._rated(rec, events, channel, holder, "closed"), events

    def incident(self, code: str, matter, created: float) -> tuple[dict, list]:
        rng, d = self.rng, self.data
        spec = self.incidents[code]
        if code in ("INC_THEFT", "INC_BURNING") and rng.random() < 0.7:
            place = rng.choice([p for p in self.places if p["village"]])
        else:
            place = self.place_weights.pick(rng)
        community, town, city = place["community"], place["town"], place["city"]
        grid = rng.choice(place["grids"]) if place["grids"] else community
        centre = self.route(code, grid)
        operator = self.actor(centre, "operator")
        roll = rng.random()
        rec = {"matter": code, "region": grid.code}
        reporter = None
        if roll < 0.4 and place["grid_worker"]:
            channel, submitter, t = "grid", place["grid_worker"], self.office(created)
        elif roll < 0.5:
            channel, submitter, t = "camera", self.actor(centre, "operator"), created
        elif roll < 0.58:
            channel, submitter, t = "online", None, created
            reporter = self.person()
        else:
            channel, submitter, t = "phone", operator, created
            reporter = rng.choice(d.SURNAMES) + rng.choice(("先生", "女士"))
        rec["channel"] = channel
        if reporter:
            rec["applicant"] = {"name": reporter, "phone": self.phone()}
        title = rng.choice(spec.titles)
        rec["title"] = title
        rec["description"] = f"{community.name}{grid.name if grid is not community else ''}：{title}，{rng.choice(PHRASES)}。"
        rec["address"] = f"{city.name}{town.name}{community.name}{rng.choice(place['roads'])}附近"
        if grid.level == "grid":
            lat, lng = self._centre(grid)
            if lat is not None:
                rec["lat"], rec["lng"] = round(lat + rng.uniform(-0.0015, 0.0015), 6), round(lng + rng.uniform(-0.0015, 0.0015), 6)
        events = [(t, {"action": "submit", "to_unit": centre.code,
                       **({"actor": submitter} if submitter else {"actor_name": reporter or ""})})]

        def step(at: float, unit, roles: tuple[str, ...], action: str, **extra) -> None:
            actor = self.actor(unit, *roles)
            events.append((at, {"action": action, **({"actor": actor} if actor else {"actor_name": "工作人员"}),
                                **extra}))

        t += rng.uniform(180, 2700)
        roll = rng.random()
        if roll < 0.04:
            step(t, centre, ("operator",), "dismiss", payload={"comment": rng.choice(d.DISMISS_REASONS)})
            return rec, events
        if roll < 0.055:
            area_centre = self.h.unit("XX-CC")
            step(t, centre, ("operator",), "transfer", to_unit=area_centre.code,
                 payload={"comment": d.TRANSFER_COMMENTS["incident"]})
            centre = area_centre
            t += rng.uniform(600, 3600)
        step(t, centre, ("operator",), "register")
        registered = t
        region_code = town.code if spec.dispatch_level == "town" else city.code
        suffix = {"enforcement": "EN", "public_security": "PS", "sanitation": "SN"}[spec.dispatch_kind]
        worker = self.h.units[self.h.unit_by_code[f"{region_code}-{suffix}"]]
        t += rng.uniform(180, 1800)
        step(t, centre, ("operator",), "dispatch", to_unit=worker.code)
        if rng.random() < 0.03 and spec.dispatch_level == "town" and spec.dispatch_kind != "sanitation":
            up = self.escalation(worker)
            if up is not None:
                t += rng.uniform(1200, 7200)
                step(t, worker, ("handler",), "escalate", payload={"comment": d.ESCALATE_COMMENTS["incident"]})
                worker = up
        t += rng.uniform(300, 5400)
        step(t, worker, ("handler", "operator"), "acknowledge")
        limit = self._limit_s(matter)
        due = registered + limit
        late = rng.random() < 0.03
        t = due + rng.uniform(1800, 36000) if late else t + max(600.0, (due - t) * rng.uniform(0.1, 0.6))
        results = d.HANDLE_RESULTS[spec.dispatch_kind]
        step(t, worker, ("handler", "operator"), "handle", payload={"result": rng.choice(results)})
        if rng.random() < 0.05:
            t += rng.uniform(1200, 10800)
            step(t, centre, ("operator",), "rework", payload={"comment": rng.choice(d.REWORK_REASONS)})
            t += rng.uniform(600, 3600)
            step(t, worker, ("handler", "operator"), "acknowledge")
            t += rng.uniform(1800, 14400)
            step(t, worker, ("handler", "operator"), "handle", payload={"result": rng.choice(results)})
        t += rng.uniform(600, 9000)
        step(t, centre, ("operator",), "verify")
        t += rng.uniform(120, 1200)
        step(t, centre, ("operator",), "close")
        if channel in ("phone", "online"):
            self._rated(rec, events, channel, worker, "closed")
        return rec, events

    def _centre(self, grid) -> tuple[float | None, float | None]:
        if not hasattr(self, "_centres"):
            from yiwang.org.models import Region

            self._centres = {r[0]: (r[1], r[2]) for r in Region.objects.values_list("id", "lat", "lng")}
        return self._centres.get(grid.id, (None, None))

    def _rated(self, rec: dict, events: list, channel: str, handler, state: str) -> dict:
        """好差评: most finished cases are rated, 满意率 around 99.9 %."""
        rng, d = self.rng, self.data
        if rng.random() > (0.5 if state == "rejected" else 0.88):
            return rec
        closed = events[-1][0]
        if channel == "online":
            rating_channel = rng.choice(("online", "online", "sms"))
        elif channel == "hall":
            rating_channel = rng.choice(("pad", "pad", "kiosk"))
        else:
            rating_channel = "hotline"
        roll = rng.random()
        score = rng.choice((1, 2)) if roll < 0.0008 else 5 if roll < 0.82 else 4 if roll < 0.975 else 3
        offline = rating_channel in ("pad", "kiosk", "hotline")
        pool = ("overall", "speed", "competence", "attitude") if offline else ("overall", "efficiency", "guide", "convenience")
        body = {"score": score, "channel": rating_channel, "tags": sorted(rng.sample(pool, rng.randint(0, 2))),
                "comment": rng.choice(d.BAD_COMMENTS if score <= 2 else d.GOOD_COMMENTS)}
        rec["_rating"] = (closed + rng.uniform(300, 2 * DAY), body)
        return rec


def generate(args) -> int:
    """--_generate: write ``args._generate`` cases as JSON Lines to stdout."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    django.setup()
    gen = Generator(seed=args.seed_text, now=float(args.now), first_rank=int(args.first_rank or 0),
                    count=int(args._generate))
    out = sys.stdout.buffer
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    buffer = []
    for i in range(int(args._generate)):
        buffer.append(dumps(gen.record()))
        if len(buffer) >= 1000 or i == int(args._generate) - 1:
            out.write(("\n".join(buffer) + "\n").encode())
            buffer = []
    out.flush()
    return 0


# ---------------------------------------------------------------------------------------------- the database


class Database:
    """The scratch database: its URL for yiwang, and a few plain queries from this process."""

    def __init__(self, args, tmp: Path):
        self.kind = args.db
        if self.kind == "postgres":
            self.url = f"{PG_SERVER}/{PG_NAME}"
        else:
            self.path = tmp / "scale.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def env(self, tmp: Path) -> dict:
        env = bench_env(tmp / "unused.sqlite3", tmp, YIWANG_ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
        env["YIWANG_DATABASE_URL"] = self.url
        return {k: v for k, v in env.items() if not k.startswith("GRANIAN_")}

    def _pg(self, dbname: str):
        import psycopg

        return psycopg.connect(f"{PG_SERVER}/{dbname}", autocommit=True)

    def create(self, keep: bool) -> bool:
        """A database to load into; True when it is new (or emptied)."""
        if self.kind == "sqlite":
            return True
        with self._pg("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_NAME]).fetchone()
            if exists and keep:
                return False
            if exists:
                conn.execute(f'DROP DATABASE "{PG_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_NAME}"')
        return True

    def drop(self) -> None:
        if self.kind == "postgres":
            with self._pg("postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')

    def scalar(self, sql: str):
        if self.kind == "postgres":
            with self._pg(PG_NAME) as conn:
                return conn.execute(sql).fetchone()[0]
        with contextlib.closing(sqlite3.connect(self.path, timeout=60)) as conn:
            return conn.execute(sql).fetchone()[0]

    def has_table(self, table: str) -> bool:
        if self.kind == "postgres":
            return bool(self.scalar(f"SELECT to_regclass('{table}') IS NOT NULL"))
        return bool(self.scalar(f"SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}'"))

    def size_mib(self) -> float:
        if self.kind == "postgres":
            return round(self.scalar(f"SELECT pg_database_size('{PG_NAME}')") / 2**20)
        wal = Path(str(self.path) + "-wal")
        return round((self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 2**20)

    def analyze(self) -> float:
        """Statistics and the visibility map after a bulk load, as an operator would run them."""
        t0 = time.monotonic()
        if self.kind == "postgres":
            with self._pg(PG_NAME) as conn:
                conn.execute("VACUUM (ANALYZE)")
        else:
            with contextlib.closing(sqlite3.connect(self.path, timeout=60)) as conn:
                conn.execute("ANALYZE")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.monotonic() - t0


# ---------------------------------------------------------------------------------------------- loading


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load(args, env: dict, n: int, offset: int, now: float, tmp: Path) -> dict:
    """Generate ``n`` cases and stream them into `yiwang import -`; throughput and CPU of both ends.

    With ``--import-jobs`` J > 1 (PostgreSQL), J generator → importer pipelines run at once, each with
    its own slice of the history (ranks ``offset`` + k·n/J …) and its own transaction: one importer is
    a single Python process, and the database and the generator use less than the other core."""
    jobs = max(1, min(args.import_jobs, n // 1000 or 1)) if args.db == "postgres" else 1
    log(f"generating {n:,} cases and streaming them into `yiwang import -` ({args.db}, {jobs} pipeline(s))")
    bounds = [offset + n * k // jobs for k in range(jobs + 1)]
    backends = BackendCpu() if args.db == "postgres" else None
    t0 = time.monotonic()
    pipes = []
    for first, stop in itertools.pairwise(bounds):
        count = stop - first
        gen_argv = [sys.executable, str(Path(__file__).resolve()), "--_generate", str(count), "--now", str(now),
                    "--seed-text", f"{args.seed}-{first}", "--first-rank", str(first)]
        imp_argv = [str(YIWANG), "import", "-", "--total", str(count)] + (
            ["--commit-every", str(args.commit_every)] if args.commit_every else [])
        out = open(tmp / f"import-{first}.log", "wb")  # noqa: SIM115 - closed below, after the wait
        gen = subprocess.Popen(gen_argv, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        imp = subprocess.Popen(imp_argv, env=env, cwd=ROOT, stdin=gen.stdout, stdout=out, stderr=subprocess.PIPE)
        gen.stdout.close()  # the importer holds the pipe now: a dead importer stops the generator
        relay = threading.Thread(target=_relay, args=(imp.stderr, tmp / f"import-{first}.err", f"import {first:,}+"),
                                 daemon=True)
        relay.start()
        pipes.append({"first": first, "gen": gen, "imp": imp, "out": out, "relay": relay})
    cpu = {"generator_s": 0.0, "import_s": 0.0}
    failed = []
    cases = events = ratings = 0
    import_s = 0.0
    for p in pipes:
        for role, key in (("gen", "generator_s"), ("imp", "import_s")):
            proc = p[role]
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu[key] += usage.ru_utime + usage.ru_stime
        p["relay"].join(timeout=5)
        p["out"].close()
        said = (tmp / f"import-{p['first']}.log").read_text(errors="replace") + \
            (tmp / f"import-{p['first']}.err").read_text(errors="replace")
        if p["imp"].returncode != 0 or p["gen"].returncode != 0:
            failed.append(f"generator {p['gen'].returncode}, import {p['imp'].returncode}:\n{said[-3000:]}")
            continue
        m = re.search(r"imported ([\d,]+) cases, ([\d,]+) events and ([\d,]+) ratings .* in ([\d.]+) s", said)
        if not m:
            failed.append(f"`yiwang import` did not report what it imported:\n{said[-3000:]}")
            continue
        c, e, r = (int(x.replace(",", "")) for x in m.groups()[:3])
        cases, events, ratings = cases + c, events + e, ratings + r
        import_s = max(import_s, float(m.group(4)))
    wall = time.monotonic() - t0
    database_s = backends.stop() if backends else None
    if failed:
        raise BenchError("the load failed: " + "\n".join(failed))
    cpu = {k: round(v, 1) for k, v in cpu.items()} | {"database_s": database_s}

    def per_case(seconds):
        return None if seconds is None else round(1e6 * seconds / max(cases, 1), 1)

    result = {"cases": cases, "events": events, "ratings": ratings, "wall_s": round(wall, 1), "import_s": import_s,
              "import_jobs": jobs,
              "cases_per_s": round(cases / wall), "import_cases_per_s": round(cases / max(import_s, 0.001)),
              "events_per_case": round(events / max(cases, 1), 2), "cpu": cpu,
              "cpu_us_per_case": {k.removesuffix("_s"): per_case(v) for k, v in cpu.items()}}
    log(f"  {cases:,} cases ({events:,} events, {ratings:,} ratings) in {wall:.0f} s: {result['cases_per_s']:,} cases/s "
        f"(the import's own clock: {result['import_cases_per_s']:,}/s); CPU us per case: {result['cpu_us_per_case']}")
    return result


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the bench database (the import's COPY), read
    from /proc every second while the load runs: a backend's figures vanish when it exits."""

    def __init__(self):
        import psycopg

        self.conn = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)
        self.seen: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(1.0):
            with contextlib.suppress(Exception):
                pids = [r[0] for r in self.conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                    [PG_NAME]).fetchall()]
                for pid in pids:
                    self.seen[pid] = max(self.seen.get(pid, 0.0), Server.cpu_s(pid))

    def stop(self) -> float:
        self.done.set()
        self.thread.join(timeout=5)
        self.conn.close()
        return round(sum(self.seen.values()), 1)


def _relay(stream, path: Path, name: str = "import") -> None:
    """Show the importer's progress lines in the bench log and keep all it said."""
    with open(path, "wb") as kept:
        for line in stream:
            kept.write(line)
            text = line.decode(errors="replace").rstrip()
            if text:
                log(f"  {name}: {text}")


# ---------------------------------------------------------------------------------------------- measuring
# Runs in a child process per size (--_measure): Django on the bench database, the test client.


def measure(args) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from yiwang.cases.models import Case, CaseTally
    from yiwang.org.models import Staff
    from yiwang.org.selectors import hierarchy, viewer_for
    from yiwang.org.services import token_create
    from yiwang.records import rollups
    from yiwang.stats.selectors import indicators

    h = hierarchy()
    open_by_unit = (CaseTally.objects.filter(closed=False).values("holder_unit_id").annotate(open=Sum("n"))
                    .order_by("-open"))
    busiest = None
    for row in open_by_unit:
        staff = Staff.objects.filter(unit_id=row["holder_unit_id"], user__is_active=True,
                                     role__in=["clerk", "handler", "operator"]).select_related("user")
        ranked = sorted(staff, key=lambda s: ["clerk", "operator", "handler"].index(s.role))
        if ranked:
            busiest, clerk, unit_open = h.units[row["holder_unit_id"]], ranked[0].user, row["open"]
            break
    if busiest is None:
        raise BenchError("no unit with open cases and staff: was anything loaded?")
    admin = get_user_model().objects.get(username=ADMIN)
    held = Case.objects.filter(holder_unit_id=busiest.id, closed_at__isnull=True).order_by("due_at", "id")
    case = held[min(unit_open // 2, 500)] if unit_open else held.first()
    h.region(COMMUNITY)  # NotFound here when the demo base lacks it
    # A clerk of the community's own hall: the narrowest scope a search has, so the one whose older
    # matches the GIN index must find across the whole history (docs/SCALING.md §6).
    local = (Staff.objects.filter(unit__region__code=COMMUNITY, role="clerk", user__is_active=True)
             .select_related("user").order_by("user__username").first())
    if local is None:
        raise BenchError(f"no active clerk in a unit of {COMMUNITY}: the demo base has changed")
    community_clerk = local.user
    facts = {"cases": CaseTally.objects.aggregate(n=Sum("n"))["n"] or 0,
             "open": CaseTally.objects.filter(closed=False).aggregate(n=Sum("n"))["n"] or 0,
             "busiest_unit": busiest.code, "busiest_unit_name": busiest.name, "busiest_unit_open": unit_open,
             "clerk": clerk.username, "community": COMMUNITY, "community_clerk": community_clerk.username,
             "case_number": case.number}
    t0 = time.monotonic()
    facts["rollup_differences"] = rollups.differences(limit=5)
    facts["rollup_check_s"] = round(time.monotonic() - t0, 1)
    tokens = {u: token_create(username=u, name="bench-scale") for u in (ADMIN, clerk.username)}
    clients = {}
    for user in (clerk, admin, community_clerk):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    admin_viewer = viewer_for(admin)

    def page(username: str, url: str, **headers):
        client = clients[username]

        def get():
            r = client.get(url, **headers)
            if r.status_code != 200:
                raise BenchError(f"GET {url} as {username}: {r.status_code} {r.content[:300]!r}")
            return r
        return get

    search_url = f"/api/v1/cases?q={quote(SEARCH)}&limit=20"
    list_url = "/api/v1/cases?limit=20"

    def session(username: str, url: str) -> tuple:
        return page(username, url), url, username, "session"

    def token(username: str, url: str) -> tuple:
        return page(username, url, HTTP_AUTHORIZATION=f"Bearer {tokens[username]}"), url, username, "token"

    # (name, what, call, url, user, auth): a read with a URL is timed again through the real server,
    # as the same user with the same session cookie or API token (serve_and_time).
    probes = [
        ("queue", f"/work/ as {clerk.username} ({busiest.code})", *session(clerk.username, "/work/")),
        ("case page", f"/work/cases/{case.number}/", *session(clerk.username, f"/work/cases/{case.number}/")),
        ("indicators area", "stats.selectors.indicators()", lambda: indicators(viewer=admin_viewer), None, None, None),
        ("indicators community", f"indicators(region_code={COMMUNITY})",
         lambda: indicators(viewer=admin_viewer, region_code=COMMUNITY), None, None, None),
        ("dashboard area", "/dashboard/ as admin", *session(ADMIN, "/dashboard/")),
        ("dashboard community", f"/dashboard/?region={COMMUNITY}", *session(ADMIN, f"/dashboard/?region={COMMUNITY}")),
        ("search", f"GET /api/v1/cases?q={SEARCH} as admin (token)", *token(ADMIN, search_url)),
        ("search community", f"GET /api/v1/cases?q={SEARCH} as {community_clerk.username} ({COMMUNITY}, session)",
         *session(community_clerk.username, search_url)),
        ("api list", f"GET /api/v1/cases?limit=20 as {clerk.username} (token)", *token(clerk.username, list_url)),
    ]
    results = []
    t_busy, t_own, t_wall = machine_busy_s(), time.process_time(), time.monotonic()
    for name, what, fn, url, who, auth in probes:
        fn()  # warm: templates, caches, the database's buffers
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            fn()
            samples = [time.perf_counter() - t]
        queries = len(ctx.captured_queries)
        slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:2]
        while len(samples) < args.requests:
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        row = {"name": name, "what": what, "n": len(samples), "p50_ms": round(1000 * percentile(samples, 50), 2),
               "p95_ms": round(1000 * percentile(samples, 95), 2), "max_ms": round(1000 * max(samples), 2),
               "queries": queries, "url": url, "who": who, "auth": auth,
               "slowest": [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:600]} for q in slowest]}
        results.append(row)
        log(f"  {name:22} p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms  {queries} queries")
    wall = time.monotonic() - t_wall
    own = time.process_time() - t_own
    facts["search_hits"] = len(json.loads(clients[ADMIN].get(search_url, HTTP_AUTHORIZATION=f"Bearer {tokens[ADMIN]}")
                                          .content)["items"])
    facts["community_search_hits"] = len(json.loads(clients[community_clerk.username].get(search_url).content)["items"])
    return {"facts": facts, "probes": results, "tokens": tokens,
            "sessions": {u: c.cookies["sessionid"].value for u, c in clients.items()},
            "cpu": {"own_cores": round(own / wall, 2),
                    "other_cores": round(max(0.0, machine_busy_s() - t_busy - own) / wall, 2)}}


def measure_in_child(args, env: dict, tmp: Path, size: int) -> dict:
    out = tmp / f"measure-{size}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--_measure", str(out), "--requests", str(args.requests)]
    log(f"measuring at {size:,} cases (test client, {args.requests} requests each)")
    p = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=None, text=True, timeout=3600)
    if p.returncode != 0:
        raise BenchError(f"the measuring process failed ({p.returncode}):\n{p.stdout}")
    return json.loads(out.read_text())


def auth_headers(probe: dict, measured: dict) -> dict[str, str]:
    """What the probe's user sends: their API token, or the session cookie the test client logged in with."""
    if probe["auth"] == "token":
        return {"Authorization": f"Bearer {measured['tokens'][probe['who']]}"}
    return {"Cookie": f"sessionid={measured['sessions'][probe['who']]}"}


# What a browser sends; nothing in yiwang compresses a page (granian has no compression, WhiteNoise only
# static files), so the bytes read are the bytes a user downloads. Checked per answer all the same.
BROWSER_HEADERS = {"Accept-Encoding": "gzip, deflate, br", "Accept-Language": "zh-CN,zh;q=0.9"}


def time_over_http(args, port: int, measured: dict, server_pids: list[int]) -> dict:
    """The reads of the in-process table that have a URL, timed through the real server one request at
    a time over ONE keep-alive HTTP/1.1 connection reused for every request: one warm-up request per
    read (the worker serving the connection is fresh), then ``--requests`` timed ones."""
    client = loadgen.KeepAliveClient(HOST, port)
    reads = []

    def server_cpu() -> float:
        return sum(Server.cpu_s(pid) for pid in server_pids)

    t_busy, t_server, t_own, t_wall = machine_busy_s(), server_cpu(), time.process_time(), time.monotonic()
    try:
        for probe in measured["probes"]:
            if not probe["url"]:
                continue
            headers = {**BROWSER_HEADERS, **auth_headers(probe, measured)}
            samples, sizes, encodings = [], [], set()
            for i in range(args.requests + 1):
                status, body, seconds, response = client.get(probe["url"], headers)
                if status != 200:
                    raise BenchError(f"HTTP GET {probe['url']} as {probe['who']}: {status} {body[:300]!r}")
                if i:  # the first is the warm-up
                    samples.append(seconds)
                    sizes.append(len(body))
                    encodings.add(response.get("content-encoding", "identity"))
            reads.append({"name": probe["name"], "url": probe["url"], "who": probe["who"], "auth": probe["auth"],
                          "n": len(samples), "p50_ms": round(1000 * percentile(samples, 50), 2),
                          "p95_ms": round(1000 * percentile(samples, 95), 2), "max_ms": round(1000 * max(samples), 2),
                          "bytes": round(percentile(sizes, 50)), "bytes_max": max(sizes),
                          "content_encoding": sorted(encodings)})
            log(f"  HTTP {probe['name']:22} p50 {reads[-1]['p50_ms']:8.1f} ms  p95 {reads[-1]['p95_ms']:8.1f} ms  "
                f"{reads[-1]['bytes']:,} bytes")
    finally:
        client.close()
    wall = time.monotonic() - t_wall
    server_s, own = server_cpu() - t_server, time.process_time() - t_own
    # What the rest of the machine took meanwhile: these reads are serial, so server and client
    # together use about one core, and anything beyond that is another engineer's work.
    cpu = {"server_cores": round(server_s / wall, 2), "client_cores": round(own / wall, 2),
           "other_cores": round(max(0.0, machine_busy_s() - t_busy - server_s - own) / wall, 2)}
    if client.connects != 1:
        log(f"  WARNING: the server closed the keep-alive connection: {client.connects} connections were opened")
    return {"connections": 1, "connects": client.connects, "requests_per_read": args.requests, "reads": reads,
            "cpu": cpu}


def serve_and_time(args, env: dict, tmp: Path, measured: dict, size: int) -> tuple[dict, dict]:
    """A real server (`yiwang serve`, granian): first the reads timed one by one over a keep-alive
    connection (time_over_http), then a short load on the same pages with every worker's RSS sampled."""
    port = free_port()
    server = Server("yiwang", [str(YIWANG), "serve", "--host", HOST, "--port", str(port), "--workers",
                               str(args.workers), "--no-collectstatic"],
                    env, port, tmp / f"server-{size}.log")
    server.start()
    try:
        server.wait_ready(timeout=60)
        workers = server.workers()
        idle = {pid: Server.rss_kib(pid) for pid in workers}
        log(f"timing the reads through `yiwang serve` ({len(workers)} workers, one keep-alive connection, "
            f"{args.requests} requests each)")
        http = time_over_http(args, port, measured, [server.proc.pid, *workers])
        http["workers"] = len(workers)
        requests = []
        for probe in measured["probes"]:
            if not probe["url"]:
                continue
            headers = auth_headers(probe, measured)
            requests.append((probe["name"], loadgen.build_request(HOST, port, probe["url"], b"", headers, method="GET")))
        peak: dict[int, int] = {}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for pid in workers:
                    rss = Server.rss_kib(pid)
                    if rss:
                        peak[pid] = max(peak.get(pid, 0), rss)
                time.sleep(0.2)

        async def load_all():
            return await asyncio.gather(*(loadgen.closed_loop(HOST, port, req, connections=args.connections,
                                                              duration=args.load_seconds) for _n, req in requests))

        asyncio.run(loadgen.closed_loop(HOST, port, requests[0][1], connections=1, duration=1.0))  # warm
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        phases = asyncio.run(load_all())
        stop.set()
        sampler.join()
        after = {pid: Server.rss_kib(pid) for pid in workers}
        endpoints = {}
        for (name, _req), phase in zip(requests, phases, strict=True):
            endpoints[name] = {"completed": phase.completed, "statuses": {str(k): v for k, v in phase.statuses.items()},
                               "rate": round(phase.completed / phase.duration, 1) if phase.duration else 0,
                               "p50_ms": round(1000 * (phase.percentile(50) or 0), 1),
                               "p95_ms": round(1000 * (phase.percentile(95) or 0), 1)}
            bad = {k: v for k, v in phase.statuses.items() if k != 200}
            if bad or phase.completed == 0:
                raise BenchError(f"server: {name} answered {phase.statuses} ({phase.conn_errors} connection errors)"
                                 f"\n{server.log_tail()}")
        result = {"workers": len(workers), "connections_per_page": args.connections, "seconds": args.load_seconds,
                  "rss_mib_idle": [round(v / 1024) for v in idle.values() if v],
                  "rss_mib_peak": [round(peak.get(pid, 0) / 1024) for pid in workers],
                  "rss_mib_after": [round((after.get(pid) or 0) / 1024) for pid in workers],
                  "main_rss_mib": round((Server.rss_kib(server.proc.pid) or 0) / 1024), "endpoints": endpoints}
        log(f"  server: {len(workers)} workers, RSS idle {result['rss_mib_idle']} MiB, peak under load "
            f"{result['rss_mib_peak']} MiB; " + ", ".join(f"{k} {v['rate']}/s" for k, v in endpoints.items()))
        return http, result
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- report


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _verdict(p95s: list[float]) -> tuple[bool, str | None]:
    """Met or not (p95 at the largest size under the target, and at most TARGET_RATIO × the smallest's),
    and the ratio as printed (None with one size)."""
    met = p95s[-1] < TARGET_P95_MS
    if len(p95s) < 2:
        return met, None
    ratio = p95s[-1] / max(p95s[0], 0.001)
    return met and ratio < TARGET_RATIO, f"{ratio:.2f}x"


def table(sizes: list[int], runs: dict[int, dict]) -> tuple[list[str], bool, bool]:
    """Each read's in-process and HTTP p50 / p95 per size, the HTTP body bytes at the largest size,
    the ratios and a verdict for each; also whether every in-process and every HTTP read met the targets."""
    first, last = sizes[0], sizes[-1]
    head = ["read"]
    for n in sizes:
        head += [f"{n:,} in-process", f"{n:,} HTTP"]
    head.append(f"bytes {last:,}")
    if len(sizes) > 1:
        head.append(f"p95 {last:,}/{first:,} in-process / HTTP")
    head += ["in-process", "HTTP"]
    rows = [head]
    all_met = http_met = True
    http = {n: {r["name"]: r for r in runs[n]["http"]["reads"]} for n in sizes}
    for i, probe in enumerate(runs[last]["measured"]["probes"]):
        name = probe["name"]
        cells = [name]
        for n in sizes:
            p = runs[n]["measured"]["probes"][i]
            h = http[n].get(name)
            cells += [f"{fmt(p['p50_ms'])} / {fmt(p['p95_ms'])}", f"{fmt(h['p50_ms'])} / {fmt(h['p95_ms'])}" if h else "-"]
        h = http[last].get(name)
        cells.append(f"{h['bytes']:,}" if h else "-")
        met, ratio = _verdict([runs[n]["measured"]["probes"][i]["p95_ms"] for n in sizes])
        h_met, h_ratio = _verdict([http[n][name]["p95_ms"] for n in sizes]) if h else (True, None)
        if len(sizes) > 1:
            cells.append(f"{ratio} / {h_ratio or '-'}")
        all_met, http_met = all_met and met, http_met and h_met
        cells += ["PASS" if met else "MISSED", ("PASS" if h_met else "MISSED") if h else "-"]
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i in (0, len(head) - 2, len(head) - 1) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines, all_met, http_met


# ---------------------------------------------------------------------------------------------- main


def default_budget(args) -> int:
    # Seconds per case loaded, analysed and measured, with room for a machine busy with other work
    # (~700 cases/s end to end when other processes take most of the 2 cores).
    return int(900 + max(args.sizes) * 0.0025)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("postgres", "sqlite"), default="postgres",
                    help=f"PostgreSQL (database {PG_NAME} on 127.0.0.1:5432) or a SQLite file; default postgres")
    ap.add_argument("--sizes", default="100000,1000000",
                    help="case counts to measure at, ascending, comma-separated; default 100000,1000000")
    ap.add_argument("--requests", type=int, default=30,
                    help="timed requests per read, in-process and again through HTTP, default 30")
    ap.add_argument("--workers", type=int, default=2, help="granian workers of the server phase, default 2")
    ap.add_argument("--connections", type=int, default=1,
                    help="keep-alive connections per page in the load after the timed HTTP reads (which always use "
                         "one connection), default 1 (7 pages at once)")
    ap.add_argument("--load-seconds", type=float, default=8.0, help="length of the server phase, default 8")
    ap.add_argument("--import-jobs", type=int, default=os.cpu_count() or 1,
                    help="PostgreSQL: generator and import pipelines loading at once, default one per CPU")
    ap.add_argument("--commit-every", type=int, default=0,
                    help="pass --commit-every N to `yiwang import` (default: one transaction per size)")
    ap.add_argument("--verify", action="store_true",
                    help="also run `yiwang verify` (every hash chain) after each load above 20,000 cases (slow)")
    ap.add_argument("--seed", type=int, default=20261126, help="random seed of the generated cases")
    ap.add_argument("--keep", action="store_true",
                    help=f"PostgreSQL: keep {PG_NAME} after the run and reuse it next time (only the missing "
                         "cases are loaded); SQLite: keep the temp dir")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/scale-*.json")
    ap.add_argument("--budget", type=int, default=None, help="stop the run after this many seconds")
    ap.add_argument("--_generate", help=argparse.SUPPRESS)
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    ap.add_argument("--now", help=argparse.SUPPRESS)
    ap.add_argument("--seed-text", help=argparse.SUPPRESS)
    ap.add_argument("--first-rank", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._generate:
        return generate(args)
    if args._measure:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
        Path(args._measure).write_text(json.dumps(measure(args), ensure_ascii=False))
        return 0
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error("--sizes takes whole numbers separated by commas, e.g. 20000,100000")
    if not args.sizes or args.sizes != sorted(set(args.sizes)) or args.sizes[0] < 100:
        ap.error("--sizes must be ascending, distinct and at least 100")
    if args.requests < 5:
        ap.error("--requests must be 5 or more")
    args.budget = args.budget or default_budget(args)
    database = Database(args, Path("/nonexistent"))

    def cleanup():
        stop_all()
        if args.db == "postgres" and not args.keep:
            with contextlib.suppress(Exception):
                database.drop()

    return run_benchmark("scale", ap, args, lambda tmp: bench(args, tmp), budget=args.budget, cleanup=cleanup)


def bench(args, tmp: Path) -> tuple[dict, int]:
    database = Database(args, tmp)
    env = database.env(tmp)
    (tmp / "static").mkdir(exist_ok=True)  # STATIC_ROOT under YIWANG_VAR_DIR: the server mounts it
    fresh = database.create(args.keep)
    if fresh or not database.has_table("cases_case"):
        migrate(env, timeout=600)
    else:
        log(f"reusing {PG_NAME} (--keep)")
        run([str(YIWANG), "migrate", "--noinput", "-v", "0"], env, timeout=600)
    if not database.scalar("SELECT COUNT(*) FROM org_region"):
        log("loading the Xixian demo base (yiwang demo --no-apps --cases 0)")
        run([str(YIWANG), "demo", "--no-apps", "--cases", "0"], env, timeout=300)
    now = time.time() - 600
    runs: dict[int, dict] = {}
    for size in args.sizes:
        have = database.scalar("SELECT COUNT(*) FROM cases_case")
        entry: dict = {"size": size, "had": have}
        if have < size:
            entry["load"] = load(args, env, size - have, have, now, tmp)
        elif have > size:
            log(f"the database already holds {have:,} cases, more than {size:,}: measuring it as it is")
        entry["cases"] = database.scalar("SELECT COUNT(*) FROM cases_case")
        entry["events"] = database.scalar("SELECT COUNT(*) FROM cases_caseevent")
        log("VACUUM ANALYZE" if args.db == "postgres" else "ANALYZE")
        entry["analyze_s"] = round(database.analyze(), 1)
        entry["size_mib"] = database.size_mib()
        if args.verify or entry["cases"] <= 20_000:
            t0 = time.monotonic()
            log("yiwang verify")
            entry["verify"] = run([str(YIWANG), "verify"], env, timeout=7200).strip().splitlines()[-1]
            entry["verify_s"] = round(time.monotonic() - t0, 1)
        entry["measured"] = measure_in_child(args, env, tmp, size)
        if entry["measured"]["facts"]["rollup_differences"]:
            raise BenchError(f"the rollups differ from a recomputation: {entry['measured']['facts']['rollup_differences']}")
        entry["http"], entry["server"] = serve_and_time(args, env, tmp, entry["measured"], size)
        runs[size] = entry

    sizes = args.sizes
    print()
    print(f"scale: {args.db}, {os.cpu_count()} CPUs; the reads of the staff workbench, the leaders' indicators "
          f"and the text search as the case table grows")
    for n in sizes:
        r = runs[n]
        f = r["measured"]["facts"]
        load_text = ""
        if r.get("load"):
            ld = r["load"]
            per = ld["cpu_us_per_case"]
            load_text = (f"loaded {ld['cases']:,} ({ld['events_per_case']} events/case) in {ld['wall_s']:,.0f} s: "
                         f"{ld['cases_per_s']:,} cases/s, {ld['import_cases_per_s']:,}/s by the import's own clock "
                         f"(CPU per case: import {per['import']} us, database {per['database'] or '-'} us, "
                         f"generator {per['generator']} us); ")
        print(f"{n:,}: {load_text}{r['cases']:,} cases, {r['events']:,} events, {f['open']:,} open, "
              f"{r['size_mib']:,} MiB; ANALYZE {r['analyze_s']} s; queue of {f['busiest_unit']} "
              f"({f['busiest_unit_open']:,} open) as {f['clerk']}; search hits on the first page: {f['search_hits']}, "
              f"{f['community_search_hits']} for {f['community_clerk']} ({f['community']})"
              + (f"; verify: {r['verify']} ({r['verify_s']} s)" if r.get("verify") else "")
              + "; rollups equal a recomputation")
    print()
    lines, met, http_met = table(sizes, runs)
    conns = {runs[n]["http"]["connects"] for n in sizes}
    print(f"p50 / p95 ms over {args.requests} warm requests per read. in-process: Django's test client in one "
          f"process (no HTTP). HTTP: `yiwang serve` ({args.workers} granian workers), one request at a time "
          f"over one keep-alive HTTP/1.1 connection per size (connections opened: {sorted(conns)}), the same users "
          f"with the same session cookie or API token; bytes: the body of the answer (median), nothing is "
          f"compressed. Targets: p95 < {TARGET_P95_MS:.0f} ms at {sizes[-1]:,}"
          + (f", and p95 at most {TARGET_RATIO}x that at {sizes[0]:,}" if len(sizes) > 1 else "") + ".")
    print("\n".join(lines))
    print()
    for n in sizes:
        s = runs[n]["server"]
        print(f"{n:,}: RSS per granian worker (MiB): idle {s['rss_mib_idle']}, peak under load {s['rss_mib_peak']} "
              f"({s['workers']} workers, {len(s['endpoints'])} pages x {s['connections_per_page']} connections, "
              f"{s['seconds']:g} s); HTTP p50/p95 under that load: "
              + ", ".join(f"{k} {v['p50_ms']}/{v['p95_ms']}" for k, v in s["endpoints"].items()))
    busy = {n: runs[n]["measured"]["cpu"]["other_cores"] for n in sizes}
    http_busy = {n: runs[n]["http"]["cpu"]["other_cores"] for n in sizes}
    print(f"other processes used {busy} CPU cores while measuring in-process and {http_busy} while timing "
          f"through HTTP (should be ~0)")
    if max(*busy.values(), *http_busy.values()) >= 0.2:
        print("WARNING: the machine was busy during the run: the figures are noisy, repeat before trusting them.")
    print()
    print("slowest queries at the largest size:")
    for probe in runs[sizes[-1]]["measured"]["probes"]:
        for q in probe["slowest"][:1]:
            print(f"  {probe['name']:22} {q['ms']:8.1f} ms  {q['sql'][:220]}")
    for r in runs.values():
        r["measured"].pop("sessions", None)
        r["measured"].pop("tokens", None)
    results = {
        "benchmark": "scale", "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"db": args.db, "sizes": sizes, "requests": args.requests, "workers": args.workers,
                   "connections": args.connections, "load_seconds": args.load_seconds, "seed": args.seed,
                   "commit_every": args.commit_every},
        "environment": environment(), "targets": {"p95_ms_max": TARGET_P95_MS, "ratio_max": TARGET_RATIO},
        "runs": {str(n): r for n, r in runs.items()}, "targets_met": met,
        "http_targets_met": http_met, "elapsed_s": round(elapsed(), 1),
    }
    return results, 0


if __name__ == "__main__":
    sys.exit(main())
