"""Likely duplicates: flagged at intake by the category's own distance and time windows."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_publish
from yiwang.command.services import flag_duplicate
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.org.selectors import distance_km

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
LAT, LNG = 34.405, 108.705


def windows(code: str, metres: int, hours: int) -> None:
    matter = Matter.objects.get(code=code)
    matter.duplicate_metres, matter.duplicate_hours = metres, hours
    matter_publish(matter=matter)


def report(world, at, lat=LAT, lng=LNG, matter="INC_PARKING"):
    with clock.frozen_at(at):
        return case_create(viewer=world.viewer("gridder_xfl"), matter_code=matter, lat=lat, lng=lng, channel="grid").case


def north(metres: float) -> float:
    return LAT + metres / 111_195  # haversine's metres per degree of latitude (R = 6371 km)


@pytest.mark.parametrize("metres,flagged", [(0, True), (199, True), (201, False)])
def test_the_distance_window_is_the_categorys(world, metres, flagged):
    windows("INC_PARKING", 200, 24)
    first = report(world, T0)
    second = report(world, T0 + dt.timedelta(minutes=5), lat=north(metres))
    assert abs(distance_km(LAT, LNG, north(metres), LNG) * 1000 - metres) < 1
    assert flag_duplicate(case_id=second.pk) is flagged
    second.refresh_from_db()
    assert second.likely_duplicate_of_id == (first.pk if flagged else None)


@pytest.mark.parametrize("hours,flagged", [(23, True), (25, False)])
def test_the_time_window_is_the_categorys(world, hours, flagged):
    windows("INC_PARKING", 200, 24)
    report(world, T0)
    later = report(world, T0 + dt.timedelta(hours=hours))
    assert flag_duplicate(case_id=later.pk) is flagged


def test_another_category_a_closed_case_or_a_later_report_is_no_original(world):
    theft = report(world, T0, matter="INC_THEFT")
    first = report(world, T0 + dt.timedelta(minutes=1))
    assert flag_duplicate(case_id=first.pk) is False  # the theft is another category
    case_act(viewer=world.viewer("operator_kg"), case_id=first.pk, action="dismiss", version=first.version,
             comment="误报")
    second = report(world, T0 + dt.timedelta(minutes=2))
    assert flag_duplicate(case_id=second.pk) is False  # the only parking report is closed
    third = report(world, T0 + dt.timedelta(minutes=3))
    assert flag_duplicate(case_id=second.pk) is False  # a later report is not the original of an earlier one
    assert flag_duplicate(case_id=third.pk) is True
    assert theft.likely_duplicate_of_id is None


def test_a_flag_is_written_once_with_its_event(world):
    first = report(world, T0)
    second = report(world, T0 + dt.timedelta(minutes=1), lat=north(50))
    assert flag_duplicate(case_id=second.pk) and not flag_duplicate(case_id=second.pk)
    event = CaseEvent.objects.get(case=second, action="flag_duplicate")
    assert event.payload == {"original": first.number, "distance_m": 50} and event.actor_id is None
    assert Case.objects.get(pk=second.pk).state == "reported"


def test_windows_are_validated(world):
    matter = Matter.objects.get(code="INC_PARKING")
    matter.duplicate_metres = 50_000
    with pytest.raises(ValidationFailed):
        matter_publish(matter=matter)
