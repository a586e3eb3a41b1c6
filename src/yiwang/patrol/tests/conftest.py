"""A patrol team for 幸福里社区 on top of the test world: a party branch, its secretary, five party
members (no staff role, as in a village), and a window 00:30–03:00 of two hours."""

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from yiwang.core import clock
from yiwang.org.models import Role, UnitKind
from yiwang.org.services import staff_grant, unit_create, user_create
from yiwang.patrol import services
from yiwang.patrol.models import PatrolTeam

# Monday 2026-06-01 in Asia/Shanghai, mid-afternoon: the nights below start this evening.
MONDAY = dt.date(2026, 6, 1)
AFTERNOON = timezone.make_aware(dt.datetime(2026, 6, 1, 15, 0))
# A point inside 幸福里第一网格 (the square 108.70–108.71 × 34.40–34.41).
IN_XFL_G1 = (34.405, 108.705)


@dataclass
class Patrol:
    team: PatrolTeam
    branch: object
    secretary: object
    members: list = field(default_factory=list)
    other_team: PatrolTeam | None = None


def make_team(world, *, key: str, region, members: int, size: int = 3) -> tuple[PatrolTeam, object, object, list]:
    branch = unit_create(code=f"{region.code}-PB", name=f"{region.name}党支部", kind=UnitKind.PARTY_BRANCH,
                         region=region)
    secretary = user_create(username=f"secretary_{key}", password="pw")
    staff_grant(user=secretary, unit=branch, role=Role.SECRETARY)
    team = services.team_create(name=f"{region.name}党员夜巡队", unit=branch, region=region, team_size=size)
    services.window_add(team=team, earliest_start=dt.time(0, 30), latest_start=dt.time(3, 0), duration_minutes=120)
    people = []
    for i in range(members):
        user = user_create(username=f"{key}_member{i + 1}", password="pw", full_name=f"党员{key}{i + 1}")
        services.team_member_add(team=team, user=user)
        people.append(user)
    world.users.update({u.username: u for u in [secretary, *people]})
    return team, branch, secretary, people


@pytest.fixture
def patrol(world):
    with clock.frozen_at(AFTERNOON):
        team, branch, secretary, members = make_team(world, key="xfl", region=world.regions["xfl"], members=5)
        other, *_ = make_team(world, key="spd", region=world.regions["spd"], members=3)
    return Patrol(team=team, branch=branch, secretary=secretary, members=members, other_team=other)


@pytest.fixture
def frozen():
    with clock.frozen_at(AFTERNOON):
        yield AFTERNOON
