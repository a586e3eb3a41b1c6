"""Setting out on a shift, checking in along the way and finishing."""

import datetime as dt

import pytest

from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, ValidationFailed
from yiwang.org.selectors import viewer_for
from yiwang.patrol import services
from yiwang.patrol.models import PatrolLog, Shift, ShiftState
from yiwang.patrol.tests.conftest import MONDAY


@pytest.fixture
def shift(patrol, frozen):
    return services.shifts_generate(viewer=viewer_for(patrol.secretary), team=patrol.team, start=MONDAY,
                                    end=MONDAY, seed=1)[0]


def members(shift):
    return [viewer_for(a.user) for a in shift.assignments.select_related("user")]


def test_a_patrol_is_started_checked_in_and_finished_by_its_members(shift):
    first, second, third = members(shift)
    with clock.frozen_at(shift.starts_at):
        log = services.patrol_start(viewer=first, shift=shift, lat=34.405, lng=108.705)
    assert Shift.objects.get(pk=shift.pk).state == ShiftState.STARTED
    assert log.region_path == shift.team.region_path and log.user_id == first.user_id
    with clock.frozen_at(shift.starts_at + dt.timedelta(minutes=20)):
        services.patrol_check_in(viewer=second, log=log, lat=34.406, lng=108.706)
    with clock.frozen_at(shift.starts_at + dt.timedelta(minutes=90)):
        services.patrol_finish(viewer=third, log=log)
    log.refresh_from_db()
    assert [(p["lat"], p["lng"]) for p in log.track] == [(34.405, 108.705), (34.406, 108.706)]
    assert log.track[1]["at"] == (shift.starts_at + dt.timedelta(minutes=20)).isoformat()
    assert log.ended_at == shift.starts_at + dt.timedelta(minutes=90)
    assert Shift.objects.get(pk=shift.pk).state == ShiftState.DONE


def test_members_starting_together_start_one_patrol(shift):
    first, second, _ = members(shift)
    with clock.frozen_at(shift.starts_at):
        one = services.patrol_start(viewer=first, shift=shift, lat=34.405, lng=108.705)
        two = services.patrol_start(viewer=second, shift=shift, lat=34.405, lng=108.705)
    assert one == two and PatrolLog.objects.count() == 1


def test_it_refuses_to_start_long_before_the_shift_or_after_it(shift):
    first = members(shift)[0]
    with clock.frozen_at(shift.starts_at - dt.timedelta(hours=2)), pytest.raises(IllegalTransition, match="还没到"):
        services.patrol_start(viewer=first, shift=shift, lat=34.405, lng=108.705)
    with clock.frozen_at(shift.ends_at + dt.timedelta(minutes=1)), pytest.raises(IllegalTransition, match="已过"):
        services.patrol_start(viewer=first, shift=shift, lat=34.405, lng=108.705)


def test_a_finished_patrol_takes_no_more_points(shift):
    first = members(shift)[0]
    with clock.frozen_at(shift.starts_at):
        log = services.patrol_start(viewer=first, shift=shift, lat=34.405, lng=108.705)
        services.patrol_finish(viewer=first, log=log)
        with pytest.raises(IllegalTransition):
            services.patrol_check_in(viewer=first, log=log, lat=34.405, lng=108.705)
        with pytest.raises(IllegalTransition):
            services.patrol_finish(viewer=first, log=log)


@pytest.mark.parametrize("lat, lng, field", [(91, 108.7, "lat"), (34.4, 181, "lng"), ("x", 108.7, "lat"),
                                             (float("nan"), 108.7, "lat"), (None, 108.7, "lat")])
def test_an_impossible_point_is_refused_naming_the_coordinate(shift, lat, lng, field):
    first = members(shift)[0]
    with clock.frozen_at(shift.starts_at), pytest.raises(ValidationFailed) as refused:
        services.patrol_start(viewer=first, shift=shift, lat=lat, lng=lng)
    assert refused.value.field == field
    assert not PatrolLog.objects.exists()
