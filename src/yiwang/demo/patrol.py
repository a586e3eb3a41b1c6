"""The demo's night patrol: 瑞凝村's party members, three a night after midnight (不定时).

Called by the demo loader once the regions, units and staff exist. Everything goes through the
services with the clock moved to each moment, so shifts, tracks and the incidents the patrols
reported carry the times they would have had.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from yiwang.core import clock
from yiwang.demo import data
from yiwang.org.models import Level, Region, Unit
from yiwang.org.selectors import viewer_for
from yiwang.org.services import user_create
from yiwang.patrol import selectors, services
from yiwang.patrol.models import ShiftState

REGION_CODE = "JH-JG-RNC"  # 泾河新城 泾干街道 瑞凝村
BRANCH_CODE = "JH-JG-RNC-PB"  # 瑞凝村党支部
SECRETARY = "rnc_secretary"  # 高宏章
GRID_WORKER = "rnc_grid"
TEAM_NAME = "瑞凝村党员夜巡队"
# The patrol began with the heads of the village's twelve groups (小组长); they are the demo's roll.
MEMBERS = 12
PAST_NIGHTS = 21
FUTURE_NIGHTS = 9
FINDINGS = [
    ("INC_THEFT", "村东头有两名陌生人推着三轮车转悠，车上有门墩石，已劝离并记下车牌。"),
    ("INC_BURNING", "村北地头有人焚烧秸秆，火已扑灭，请环卫核查。"),
    ("INC_MANHOLE", "高泾大道辅路口井盖缺失，已放置警示桩。"),
]


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add the 瑞凝村 patrol team, its 00:30–03:00 window, a month of shifts and a few finished patrols."""
    region = Region.objects.get(code=REGION_CODE)
    branch = Unit.objects.get(code=BRANCH_CODE)
    User = get_user_model()
    secretary = User.objects.get(username=SECRETARY)
    now = clock.now()

    team = services.team_create(name=TEAM_NAME, unit=branch, region=region, team_size=3)
    services.window_add(team=team, earliest_start=dt.time(0, 30), latest_start=dt.time(3, 0), duration_minutes=120)
    password = make_password(_demo_password())
    members = []
    for i in range(1, MEMBERS + 1):
        username = f"rnc_patrol{i:02d}"
        user = User.objects.filter(username=username).first() or user_create(
            username=username, full_name=_name(rng) + "(" + f"{i}组组长" + ")")
        user.password = password
        user.save(update_fields=["password"])
        services.team_member_add(team=team, user=user)
        members.append(user)

    tonight = selectors.tonight(now)
    start, end = tonight - dt.timedelta(days=PAST_NIGHTS), tonight + dt.timedelta(days=FUTURE_NIGHTS)
    # Drawn by the branch secretary a few days before the first night, as he would have.
    with clock.frozen_at(now - dt.timedelta(days=PAST_NIGHTS + 3)):
        shifts = services.shifts_generate(viewer=viewer_for(secretary), team=team, start=start, end=end,
                                          seed=rng.randrange(2**31))

    grids = list(Region.objects.filter(parent=region, level=Level.GRID).order_by("path"))
    past = [s for s in shifts if s.ends_at < now]
    reporting = set(rng.sample(range(max(len(past) - 7, 0), len(past)), k=min(len(FINDINGS), len(past))))
    logs = findings = 0
    for index, shift in enumerate(past):
        patroller = viewer_for(User.objects.get(pk=rng.choice(list(shift.assignments.values_list("user_id", flat=True)))))
        moment = shift.starts_at + dt.timedelta(minutes=rng.randint(0, 5))
        with clock.frozen_at(moment):
            lat, lng = _point_in(rng, grids, region)
            patrol = services.patrol_start(viewer=patroller, shift=shift, lat=lat, lng=lng)
        for _ in range(rng.randint(3, 6)):
            moment += dt.timedelta(minutes=rng.randint(12, 25))
            with clock.frozen_at(moment):
                lat, lng = _point_in(rng, grids, region)
                patrol = services.patrol_check_in(viewer=patroller, log=patrol, lat=lat, lng=lng)
        if index in reporting:
            category, description = FINDINGS[findings]
            with clock.frozen_at(moment + dt.timedelta(minutes=3)):
                services.finding_report(viewer=patroller, log=patrol, description=description, category=category,
                                        lat=lat, lng=lng, idempotency_key=f"demo-patrol-{shift.pk}")
            findings += 1
        with clock.frozen_at(min(moment + dt.timedelta(minutes=10), shift.ends_at)):
            services.patrol_finish(viewer=patroller, log=patrol)
        logs += 1

    check_ins = _grid_worker_patrol(rng, now, grids, region)
    planned = sum(1 for s in shifts if s.state == ShiftState.PLANNED and s.ends_at >= now)
    log(f"  patrol: {TEAM_NAME}, {len(members)} members, {len(shifts)} shifts ({planned} ahead), "
        f"{logs} patrols walked, {findings} findings reported, {check_ins} grid check-in patrol")
    return {"team": team.pk, "members": [u.username for u in members], "shifts": len(shifts), "logs": logs,
            "findings": findings, "check_ins": check_ins}


def _grid_worker_patrol(rng: random.Random, now: dt.datetime, grids: list[Region], region: Region) -> int:
    """Yesterday afternoon's 巡查签到 by the village's grid worker, if the demo has one."""
    user = get_user_model().objects.filter(username=GRID_WORKER).first()
    if user is None:
        return 0
    viewer = viewer_for(user)
    if not viewer.is_staff_member:
        return 0
    moment = timezone.localtime(now - dt.timedelta(days=1)).replace(hour=15, minute=rng.randint(0, 50), second=0)
    with clock.frozen_at(moment):
        patrol = services.patrol_start(viewer=viewer, lat=region.lat, lng=region.lng)
    for _ in range(4):
        moment += dt.timedelta(minutes=rng.randint(10, 20))
        with clock.frozen_at(moment):
            lat, lng = _point_in(rng, grids, region)
            services.patrol_check_in(viewer=viewer, log=patrol, lat=lat, lng=lng)
    with clock.frozen_at(moment + dt.timedelta(minutes=5)):
        services.patrol_finish(viewer=viewer, log=patrol)
    return 1


def _point_in(rng: random.Random, grids: list[Region], region: Region) -> tuple[float, float]:
    """A random spot inside one of the village's grids (or near its centre when it has none)."""
    if not grids:
        return (round(region.lat + rng.uniform(-0.002, 0.002), 6), round(region.lng + rng.uniform(-0.002, 0.002), 6))
    ring = rng.choice(grids).boundary["coordinates"][0]
    lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (round(rng.uniform(min(lats), max(lats)), 6), round(rng.uniform(min(lngs), max(lngs)), 6))


def _name(rng: random.Random) -> str:
    return rng.choice(data.SURNAMES) + rng.choice(data.GIVEN_MALE)


def _demo_password() -> str:
    return data.DEMO_PASSWORD
