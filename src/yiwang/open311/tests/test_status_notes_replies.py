"""Open311 status_notes carry staff's replies to the resident and never their internal notes."""

import datetime as dt

from django.utils import timezone

from yiwang.cases.services import case_act, case_create
from yiwang.core import clock

T0 = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 0))


def test_status_notes_show_the_latest_reply_and_never_a_note(o311, world):
    with clock.frozen_at(T0):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", description="车堵门",
                           lat=34.405, lng=108.705, channel="online").case
        case = case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="register", version=case.version,
                        reply="已立案，联系 13800000001", note="内部：车主是熟人")
        case = case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="dispatch", version=case.version,
                        unit_code="KG-DZ-EN", note="内部：优先处理")
    with clock.frozen_at(T0 + dt.timedelta(hours=1)):
        _response, (row,) = o311(f"requests/{case.number}.json")
        _response, rows = o311("requests.json")
    assert row["status_notes"] == "已派遣：已立案，联系 138****0001"
    assert "熟人" not in str(rows) and "优先处理" not in str(rows)
