"""Cases received by one unit and handled by another (test_unit_months, test_dashboard_months)."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.core import clock
from yiwang.stats.tests.test_public_figures import act, application, incident

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
OCTOBER = dt.datetime(2026, 10, 12, 9, 0, tzinfo=TZ)  # a working Monday
NOVEMBER = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
TODAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)


def transferred(world, *, close=True, rating=None):
    """An application the community's station receives and hands to the town's hall, which handles it."""
    case = application(world, close=False)
    case = act(world, "clerk_xfl", case, "transfer", unit_code="KG-DZ-SH", note="街道办理")
    if close:
        act(world, "handler_dz", case, "decide", decision="approved", result="同意")
        case = act(world, "handler_dz", case, "close", delivery={"method": "post", "tracking": "SF1234567890"})
        if rating:
            from yiwang.feedback.services import evaluation_create

            evaluation_create(viewer=world.viewer("resident_wang"), case_id=case.pk, rating=rating)
    return case


@pytest.fixture
def moved(world):
    """Cases in three months received by one unit and handled by another, and some handled where received."""
    with clock.frozen_at(OCTOBER):
        transferred(world, rating=5)
        application(world, rating=4)
        incident(world)  # received by the command centre, handled by the town's enforcement team
    with clock.frozen_at(NOVEMBER):
        transferred(world, rating=1)
        transferred(world, close=False)
        application(world)
        incident(world, rework=True)
        incident(world, close=False)
    with clock.frozen_at(TODAY - dt.timedelta(days=1)):
        transferred(world, close=False)
    return world


