"""case_system_act: a workflow action taken by the system (智能派单), with case_act's checks but no actor."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent, Notification
from yiwang.cases.services import case_create, case_system_act
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def report(world):
    with clock.frozen_at(MONDAY):
        yield case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                          title="路口乱停车", channel="grid").case


def test_the_system_registers_and_dispatches_with_no_actor(world, report):
    with clock.frozen_at(MONDAY):
        case_system_act(case_id=report.pk, action="register", payload={"smart_dispatch": {"model": 7}})
        case = case_system_act(case_id=report.pk, action="dispatch", unit_code="KG-DZ-EN", comment="智能派单",
                               payload={"smart_dispatch": {"model": 7, "confidence": 0.97}, "capacity": "forged"})
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    assert case.handling_unit_id == world.units["dz_en"].id and case.supervisor_unit_id == world.units["kg_cc"].id
    assert case.due_at is not None and case.accepted_at == MONDAY
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [(e.action, e.actor_id, e.actor_name) for e in events[1:]] == [("register", None, "system"),
                                                                          ("dispatch", None, "system")]
    assert events[2].payload["capacity"] == "system"  # the caller's details never overwrite the core keys
    assert events[2].payload["smart_dispatch"] == {"model": 7, "confidence": 0.97}
    assert events[2].payload["comment"] == "智能派单"
    assert Notification.objects.filter(case=case, unit=world.units["dz_en"], kind="dispatched").count() == 1
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.version == 3 and verify_events(events, fresh.last_hash) is None


def test_it_refuses_a_step_the_state_does_not_allow(world, report):
    with pytest.raises(IllegalTransition):
        case_system_act(case_id=report.pk, action="dispatch", unit_code="KG-DZ-EN")
    case_system_act(case_id=report.pk, action="register")
    with pytest.raises(IllegalTransition):  # the second of two identical calls finds the step taken
        case_system_act(case_id=report.pk, action="register")
    with pytest.raises(IllegalTransition):
        case_system_act(case_id=report.pk, action="fly")


def test_it_refuses_a_unit_out_of_the_holders_reach(world, report):
    case_system_act(case_id=report.pk, action="register")
    with pytest.raises(PermissionDenied):  # 渭城街道: another city than the 空港 command centre's
        case_system_act(case_id=report.pk, action="dispatch", unit_code="QH-WC-SH")
    with pytest.raises(ValidationFailed):
        case_system_act(case_id=report.pk, action="dispatch")
    with pytest.raises(ValidationFailed):
        case_system_act(case_id=report.pk, action="dispatch", unit_code="KG-CC")  # the holder itself
    with pytest.raises(NotFound):
        case_system_act(case_id=report.pk, action="dispatch", unit_code="NOPE")
    assert Case.objects.get(pk=report.pk).state == "registered"


def test_it_refuses_what_only_a_person_can_do(world, report):
    with pytest.raises(ValidationFailed):
        case_system_act(case_id=report.pk, action="dismiss")  # needs a reason
    with pytest.raises(ValidationFailed):
        case_system_act(case_id=report.pk, action="merge", comment="重复")  # needs a parent case
    with pytest.raises(NotFound):
        case_system_act(case_id=report.pk + 999, action="register")
    assert Case.objects.get(pk=report.pk).event_count == 1
