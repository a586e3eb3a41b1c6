"""Cases given to a named unit by staff — rectification items and assistance pairs — with their
supervising unit, responsible person and deadline, and their workflows."""

import datetime as dt

import pytest

from yiwang.cases.models import CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.django_db


def rectification(world, who="leader_kg", **kw):
    fields = dict(matter_code="RECT_GRASSROOTS", region_code="KG-DZ-CJC", title="村党支部组织生活不规范",
                  unit_code="KG-DZ-CJC-DZB", supervisor_unit_code="KG-OF", assignee_username="secretary_cjc",
                  due_at=clock.now() + dt.timedelta(days=30))
    fields.update(kw)
    return case_create(viewer=world.viewer(who), **fields).case


def act(world, who, case, action, **kw):
    case.refresh_from_db()
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def test_a_rectification_item_goes_to_the_named_unit_with_its_deadline(world):
    due = clock.now() + dt.timedelta(days=30)
    case = rectification(world, due_at=due)
    assert case.holder_unit_id == world.units["cjc_branch"].id
    assert case.supervisor_unit_id == world.units["kg_office"].id
    assert case.assignee.username == "secretary_cjc"
    assert case.due_at == due and case.accepted_at is not None
    first = CaseEvent.objects.get(case=case, seq=1)
    assert first.payload["routing"]["reason"] == "named" and first.payload["assignee"] == "secretary_cjc"


def test_the_rectification_loop_with_a_send_back(world):
    case = rectification(world)
    act(world, "secretary_cjc", case, "start")
    act(world, "secretary_cjc", case, "report_progress", comment="已召开支委会", extra={"evidence": ["minutes.pdf"]})
    act(world, "secretary_cjc", case, "submit_acceptance", result="已建立三会一课台账")
    with pytest.raises(PermissionDenied):  # the holder does not accept its own work
        act(world, "secretary_cjc", case, "approve")
    act(world, "leader_kg", case, "send_back", comment="台账不完整")
    act(world, "secretary_cjc", case, "submit_acceptance", result="已补齐台账")
    case = act(world, "leader_kg", case, "approve")
    assert case.state == "accepted" and case.closed_at is not None
    progress = CaseEvent.objects.get(case=case, action="report_progress")
    assert progress.payload["evidence"] == ["minutes.pdf"] and progress.payload["capacity"] == "secretary"


def test_an_assistance_pair_exits_poverty_and_ends_after_monitoring(world):
    case = case_create(viewer=world.viewer("secretary_cjc"), matter_code="ASSIST_POVERTY", region_code="KG-DZ-CJC",
                       title="党员张某帮扶贫困户李某", unit_code="KG-DZ-CJC-DZB").case
    assert case.due_at is None and case.state == "active"
    act(world, "secretary_cjc", case, "record_income", comment="土地流转收入", extra={"amount": "3200.00"})
    act(world, "secretary_cjc", case, "declare_exit", comment="人均收入达标")
    act(world, "secretary_cjc", case, "relapse", comment="因病返贫")
    act(world, "secretary_cjc", case, "declare_exit", comment="医保报销后收入达标")
    case = act(world, "secretary_cjc", case, "end_monitoring", result="监测期满，稳定脱贫")
    assert case.state == "closed"
    assert CaseEvent.objects.get(case=case, action="record_income").payload["amount"] == "3200.00"


@pytest.mark.parametrize("who,fields,error,field", [
    ("leader_kg", {"due_at": dt.datetime(2001, 1, 1, tzinfo=dt.UTC)}, ValidationFailed, "due_at"),
    ("leader_kg", {"unit_code": "QH-WC-SH"}, PermissionDenied, "unit_code"),
    ("leader_kg", {"supervisor_unit_code": "QH-SH"}, PermissionDenied, "supervisor_unit_code"),
    ("leader_kg", {"unit_code": "NOPE"}, NotFound, "unit_code"),
    ("leader_kg", {"assignee_username": "clerk_spd"}, ValidationFailed, "assignee"),
    # A rectification is no matter a resident may open (catalog: resident_can_apply): refused on the matter first.
    ("resident_wang", {}, PermissionDenied, "matter_code"),
])
def test_bad_named_cases_are_refused_with_the_field(world, who, fields, error, field):
    with pytest.raises(error) as err:
        rectification(world, who=who, **fields)
    assert err.value.field == field


def test_an_application_takes_no_given_deadline(world):
    with pytest.raises(ValidationFailed) as err:
        case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                    due_at=clock.now() + dt.timedelta(days=3), **SENIOR_OK)
    assert err.value.field == "due_at"


def test_the_api_opens_a_rectification_item(api, world):
    due = (clock.now() + dt.timedelta(days=10)).isoformat()
    body = {"matter_code": "RECT_GRASSROOTS", "region_code": "KG-DZ-CJC", "title": "整改", "unit_code": "KG-DZ-CJC-DZB",
            "supervisor_unit_code": "KG-OF", "assignee": "secretary_cjc", "due_at": due}
    response = api("post", "/cases", "leader_kg", body)
    assert response.status_code == 201, response.content
    bad = api("post", "/cases", "leader_kg", {**body, "due_at": "2001-01-01T00:00:00+08:00"})
    assert bad.status_code == 422 and "due_at" in bad.json()["errors"]
