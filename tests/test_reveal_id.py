"""Seeing an ID number in full is an act on the record: a timeline event, or an access-log row."""

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create, case_reveal_id
from yiwang.core import idnumber
from yiwang.core.errors import Conflict, PermissionDenied, ValidationFailed
from yiwang.core.models import AccessLog
from yiwang.grid import services as grid_services
from yiwang.records.verification import verify
from yiwang.testing import SENIOR_OK

REGISTERED = "61040219500101123X"  # 王大爷's
IN_TEXT = "610402198001010011"


@pytest.fixture
def case(world):
    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                       description=f"母亲身份证 {IN_TEXT}", **SENIOR_OK).case


def reveal(api, case, username, **body):
    return api("post", f"/cases/{case.number}/reveal-id", username, {"field": "applicant", "reason": "核对身份", **body})


def test_the_holding_units_staff_see_the_number_and_the_timeline_says_who_and_why(api, world, case):
    response = reveal(api, case, "clerk_xfl")
    assert response.status_code == 200
    assert response.json() == {"field": "applicant", "id_numbers": [REGISTERED], "seq": 2, "version": 2}
    event = Case.objects.get(pk=case.pk).events.get(seq=2)
    assert event.action == "reveal_id" and event.actor_name == "clerk_xfl"
    assert event.from_state == event.to_state == "submitted" and event.to_unit_id == case.holder_unit_id
    assert event.payload == {"capacity": "clerk", "field": "applicant", "reason": "核对身份"}
    assert REGISTERED not in str(event.payload)


def test_a_number_in_the_description_is_revealed_by_its_field(api, world, case):
    response = reveal(api, case, "handler_xfl", field="description")
    assert response.json()["id_numbers"] == [IN_TEXT]


def test_a_reason_is_required_and_nothing_is_recorded_without_it(api, world, case):
    response = reveal(api, case, "clerk_xfl", reason="  ")
    assert response.status_code == 422 and list(response.json()["errors"]) == ["reason"]
    assert Case.objects.get(pk=case.pk).event_count == 1


def test_a_field_without_an_id_number_is_a_field_error(api, world, case):
    response = reveal(api, case, "clerk_xfl", field="form.reason")
    assert response.status_code == 422 and list(response.json()["errors"]) == ["field"]


@pytest.mark.parametrize(("username", "status"), [
    ("handler_kg", 403),  # sees the case (the city contains it), does not handle it
    ("leader_kg", 403),
    ("resident_wang", 403),  # the applicant: their own number stays masked on every page, with no reveal
    ("clerk_spd", 404),  # another town: does not see the case at all
])
def test_others_are_refused_and_nothing_is_recorded(api, world, case, username, status):
    assert reveal(api, case, username).status_code == status
    assert Case.objects.get(pk=case.pk).event_count == 1


def test_the_handling_unit_may_reveal_after_the_case_moved_on(world, case):
    clerk = world.viewer("clerk_xfl")
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=clerk, case_id=case.pk, action="escalate", version=case.version, comment="需街道审核")
    _case, numbers = case_reveal_id(viewer=clerk, case_id=case.pk, field="applicant", reason="回访核对")
    assert numbers == [REGISTERED]


def test_verify_passes_with_reveals_on_open_and_closed_cases(world, case):
    clerk, handler = world.viewer("clerk_xfl"), world.viewer("handler_xfl")
    case_reveal_id(viewer=clerk, case_id=case.pk, field="applicant", reason="受理前核对")
    case = Case.objects.get(pk=case.pk)
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=handler, case_id=case.pk, action="decide", version=case.version, decision="approved")
    case = case_act(viewer=clerk, case_id=case.pk, action="close", version=case.version,
                    delivery={"method": "post", "tracking": "SF1234567890"})
    case_reveal_id(viewer=handler, case_id=case.pk, field="description", reason="归档核对")
    report = verify()
    assert report.ok, report.problems
    assert Case.objects.get(pk=case.pk).state == "closed"


def test_a_reveal_moves_the_case_version_like_any_event(world, case):
    case_reveal_id(viewer=world.viewer("clerk_xfl"), case_id=case.pk, field="applicant", reason="核对")
    with pytest.raises(Conflict):  # the panel re-renders its forms with the new version
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)


def test_the_workbench_panel_reveals_on_the_record(client, world, case):
    client.force_login(world.users["clerk_xfl"])
    page = client.get(f"/work/cases/{case.number}/").content.decode()
    assert "显示完整证件号" in page and idnumber.mask(REGISTERED) in page and REGISTERED not in page
    response = client.post(f"/work/cases/{case.number}/reveal-id/", {"field": "applicant", "reason": "电话核实身份"},
                           HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert f'<b id="revealed-id">{REGISTERED}</b>' in body
    assert "clerk_xfl 查看了完整身份证号：电话核实身份" in body
    assert 'name="version" value="2"' in body  # the actions offered carry the version after the event
    again = client.get(f"/work/cases/{case.number}/").content.decode()
    assert REGISTERED not in again and "查看了完整身份证号" in again


def test_the_panel_refuses_a_reveal_without_a_reason_next_to_the_field(client, world, case):
    client.force_login(world.users["clerk_xfl"])
    body = client.post(f"/work/cases/{case.number}/reveal-id/", {"field": "applicant", "reason": ""},
                       HTTP_HX_REQUEST="true").content.decode()
    assert "请填写查看完整证件号的理由。" in body and REGISTERED not in body
    plain = client.post(f"/work/cases/{case.number}/reveal-id/", {"field": "applicant", "reason": ""})
    assert plain.status_code == 422


def test_staff_who_may_not_reveal_are_not_offered_it(client, world, case):
    client.force_login(world.users["leader_kg"])
    body = client.get(f"/work/cases/{case.number}/").content.decode()
    assert idnumber.mask(REGISTERED) in body and "reveal-id" not in body


def test_the_resident_sees_that_staff_looked_but_not_who_or_why(client, world, case):
    case_reveal_id(viewer=world.viewer("clerk_xfl"), case_id=case.pk, field="applicant", reason="内部核对")
    client.force_login(world.users["resident_wang"])
    body = client.get(f"/cases/{case.number}/").content.decode()
    assert "查看完整证件号" in body and "内部核对" not in body and "clerk_xfl" not in body
    assert REGISTERED not in body and IN_TEXT not in body


# --- a resident's number on the grid page: no case, so the access log records it -------------------


@pytest.fixture
def household(world):
    household = grid_services.household_create(grid=world.regions["xfl_g1"], address="幸福里1号楼101", number="101")
    grid_services.household_member_set(household=household, resident=world.residents["wang"], relation="head")
    grid_services.resident_flags_set(resident=world.residents["wang"], elderly_alone=True)
    return household


def test_the_grid_worker_reveals_a_residents_number_into_the_access_log(client, world, household):
    wang = world.residents["wang"]
    client.force_login(world.users["gridder_xfl"])
    page = client.get("/grid/KG-DZ-XFL-G1/").content.decode()
    assert f"/grid/KG-DZ-XFL-G1/residents/{wang.pk}/reveal-id/" in page and REGISTERED not in page
    response = client.post(f"/grid/KG-DZ-XFL-G1/residents/{wang.pk}/reveal-id/", {"reason": "上门走访核对"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert f'<b id="revealed-id">{REGISTERED}</b>' in response.content.decode()
    (row,) = AccessLog.objects.all()
    assert (row.actor_name, row.subject, row.subject_id, row.field, row.reason) == (
        "gridder_xfl", "org.resident", wang.pk, "id_number", "上门走访核对")
    assert row.region_path == world.regions["xfl_g1"].path
    assert REGISTERED not in client.get("/grid/KG-DZ-XFL-G1/").content.decode()


def test_a_grid_reveal_needs_a_reason(client, world, household):
    client.force_login(world.users["gridder_xfl"])
    response = client.post(f"/grid/KG-DZ-XFL-G1/residents/{world.residents['wang'].pk}/reveal-id/", {"reason": ""})
    assert response.status_code == 422 and "请填写查看完整证件号的理由。" in response.content.decode()
    assert not AccessLog.objects.exists()


def test_only_grid_workers_reveal_on_the_grid_page(world, household):
    with pytest.raises(PermissionDenied):
        grid_services.resident_reveal_id(viewer=world.viewer("handler_xfl"), resident_id=world.residents["wang"].pk,
                                         reason="好奇")
    with pytest.raises(ValidationFailed):
        grid_services.resident_reveal_id(viewer=world.viewer("gridder_xfl"), resident_id=world.residents["wang"].pk,
                                         reason="")
    assert not AccessLog.objects.exists()


def test_a_resident_outside_the_grid_workers_region_is_not_found(world, household):
    from yiwang.core.errors import NotFound
    from yiwang.org.services import resident_create

    other = resident_create(name="外人", phone="13900000009", region=world.regions["spd"],
                            id_number="61040219800101001" + idnumber.check_digit("61040219800101001"))
    with pytest.raises(NotFound):
        grid_services.resident_reveal_id(viewer=world.viewer("gridder_xfl"), resident_id=other.pk, reason="核对")


def test_the_access_log_is_append_only(world, household):
    grid_services.resident_reveal_id(viewer=world.viewer("gridder_xfl"), resident_id=world.residents["wang"].pk,
                                     reason="核对")
    row = AccessLog.objects.get()
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
