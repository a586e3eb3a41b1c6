"""Indicators computed in SQL, checked against hand-counted small cases."""

import datetime as dt

from django.utils import timezone

from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.stats.selectors import indicators
from yiwang.testing import SENIOR_OK


def run_case(world, start, hours_to_close):
    with clock.frozen_at(start):
        case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                           **SENIOR_OK).case
        case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=1)
        case = case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="decide", version=2,
                        decision="approved")
    with clock.frozen_at(start + dt.timedelta(hours=hours_to_close)):
        return case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="close", version=3,
                        delivery={"method": "post", "tracking": "SF1234567890"})


def test_average_handling_time_and_on_time_rate(world):
    start = timezone.make_aware(dt.datetime(2019, 9, 2, 9))
    run_case(world, start, 24)  # on time
    run_case(world, start, 72)  # on time: due 09-09 end of day
    run_case(world, start, 24 * 10)  # late
    data = indicators(viewer=world.viewer("admin"))
    assert data["average_handling_hours"] == round((24 + 72 + 240) / 3, 2)
    assert data["on_time_rate"] == "66.667"
    assert data["closed_by_level"]["community"] == 3
    assert data["community_share"] == "100.000"
