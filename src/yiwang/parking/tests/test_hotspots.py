"""Hotspots on generated data: where and when violations gather, near which tagged places."""

import datetime as dt
import random

import pytest

from yiwang.core import clock
from yiwang.core.errors import PermissionDenied, ValidationFailed
from yiwang.parking import services
from yiwang.parking.selectors import HotspotFilters, hotspots
from yiwang.parking.tests.conftest import CJC_G1, NOW, SCHOOL, XFL_G2

pytestmark = pytest.mark.django_db

MONDAY = NOW - dt.timedelta(days=2)  # 2026-06-01 10:00, a Monday


def generate(world, rng: random.Random) -> dict:
    """School mornings: 7–8 h on weekdays by the school; weekend afternoons by the lot; a few elsewhere."""
    expected = {"school_rush": 0, "lot_weekend": 0, "other": 0}
    gridder = world.viewer("operator_kg")
    for day in range(14):
        date = MONDAY - dt.timedelta(days=day)
        weekend = date.weekday() >= 5
        spots = []
        if not weekend:
            spots += [("school_rush", SCHOOL, rng.choice((7, 8))) for _ in range(rng.randint(2, 4))]
        else:
            spots += [("lot_weekend", CJC_G1, 15) for _ in range(rng.randint(1, 3))]
        spots.append(("other", XFL_G2, rng.randint(9, 22)))
        for kind, (lat, lng), hour in spots:
            moment = date.replace(hour=hour, minute=rng.randint(0, 59))
            jitter = rng.uniform(-0.0004, 0.0004)
            with clock.frozen_at(moment):
                services.violation_record(viewer=gridder, plate=f"陕A{rng.randint(10000, 99999)}", source="camera",
                                          lat=lat + jitter, lng=lng + jitter)
            expected[kind] += 1
    return expected


@pytest.fixture
def data(world, parking):
    return generate(world, random.Random(7))


def last(days=30, **kw):
    return HotspotFilters.last_days(days, **kw)


def test_the_heat_table_counts_every_violation_by_weekday_and_hour(world, data):
    spots = hotspots(viewer=world.viewer("leader_kg"), filters=last())
    assert spots.total == sum(data.values())
    assert sum(map(sum, spots.heat)) == spots.total == sum(spots.by_hour) == sum(spots.by_weekday)
    school_rush = sum(spots.heat[d][h] for d in range(5) for h in (7, 8))
    assert school_rush >= data["school_rush"]
    assert spots.by_weekday[5] + spots.by_weekday[6] >= data["lot_weekend"]
    assert spots.max_cell == max(max(row) for row in spots.heat)


def test_near_schools_keeps_only_the_school_mornings(world, data):
    spots = hotspots(viewer=world.viewer("leader_kg"), filters=last(place_kind="school"))
    assert spots.total == data["school_rush"]
    assert all(spots.heat[d][h] == 0 for d in range(7) for h in range(24) if not (d < 5 and h in (7, 8)))
    (school,) = spots.near
    assert school.name == "幸福里小学" and school.count == data["school_rush"]
    assert school.peak.split()[1] in ("7时", "8时")


def test_places_rank_grids_and_zones(world, data):
    spots = hotspots(viewer=world.viewer("operator_kg"), filters=last())
    grids = {g.code: g.count for g in spots.by_grid}
    assert grids["KG-DZ-CJC-G1"] == data["lot_weekend"]
    assert grids["KG-DZ-XFL-G1"] + grids.get("KG-DZ-XFL-G2", 0) == data["school_rush"] + data["other"]
    assert spots.by_grid == sorted(spots.by_grid, key=lambda g: -g.count)
    zones = {z.code: z.count for z in spots.by_zone}
    assert zones["CJC-L1"] == data["lot_weekend"]


def test_the_period_bounds_the_count(world, data):
    week = hotspots(viewer=world.viewer("leader_kg"), filters=last(days=4))
    assert 0 < week.total < sum(data.values())


def test_other_cities_see_nothing_and_handlers_are_refused(world, data):
    qh = world.viewer("clerk_spd")
    with pytest.raises(PermissionDenied):
        hotspots(viewer=qh, filters=last())
    with pytest.raises(PermissionDenied):
        hotspots(viewer=world.viewer("handler_en"), filters=last())
    assert hotspots(viewer=world.viewer("admin"), filters=last()).total == sum(data.values())


def test_an_operator_of_another_city_sees_an_empty_table(world, data):
    from yiwang.org.models import Role
    from yiwang.org.services import staff_grant

    staff_grant(user=world.users["clerk_spd"], unit=world.units["qh_cc"], role=Role.OPERATOR)
    spots = hotspots(viewer=world.viewer("clerk_spd"), filters=last())
    assert spots.total == 0 and spots.near == [] and spots.by_grid == []


@pytest.mark.parametrize("filters,field", [
    (HotspotFilters(start=NOW, end=NOW - dt.timedelta(days=1)), "end"),
    (HotspotFilters(start=NOW - dt.timedelta(days=400), end=NOW), "start"),
    (HotspotFilters(start=NOW - dt.timedelta(days=1), end=NOW, place_kind="zoo"), "tag"),
    (HotspotFilters(start=NOW - dt.timedelta(days=1), end=NOW, metres=5), "metres"),
])
def test_bad_filters_are_refused_with_the_field(world, filters, field):
    with pytest.raises(ValidationFailed) as err:
        hotspots(viewer=world.viewer("leader_kg"), filters=filters)
    assert err.value.field == field
