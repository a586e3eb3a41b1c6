"""The patrol API: thin over the services, and every bad input a 4xx with a field, never a 500."""

import base64
import datetime as dt

import pytest

from yiwang.cases.models import Case
from yiwang.cases.tests.photos import jpeg
from yiwang.core import clock
from yiwang.patrol.models import PatrolLog, Shift
from yiwang.patrol.tests.conftest import IN_XFL_G1

JPEG = jpeg()  # a photo that decodes: photos are re-encoded from their pixels
WEEK = {"start": "2026-06-01", "end": "2026-06-07", "seed": 5}


def generate(api, username="secretary_xfl", team=None, body=None, patrol=None):
    return api("post", f"/patrol/teams/{team or patrol.team.pk}/shifts/generate", username, body or WEEK)


def test_it_lists_the_teams_the_caller_may_see(api, patrol):
    response = api("get", "/patrol/teams", "operator_kg")
    assert response.status_code == 200
    assert [t["name"] for t in response.json()] == [patrol.team.name]
    assert response.json()[0]["may_schedule"] is True
    assert api("get", "/patrol/teams", "xfl_member1").json()[0]["may_schedule"] is False


def test_it_previews_without_writing_and_saves_the_same_plan(api, patrol, frozen):
    preview = api("get", f"/patrol/teams/{patrol.team.pk}/shifts/generate?start=2026-06-01&end=2026-06-07&seed=5",
                  "secretary_xfl")
    assert preview.status_code == 200 and not Shift.objects.exists()
    assert preview.json()["seed"] == 5 and len(preview.json()["shifts"]) == 7
    saved = generate(api, patrol=patrol)
    assert saved.status_code == 201
    assert [(s["starts_at"], s["members"]) for s in saved.json()] == [
        (s["starts_at"], s["members"]) for s in preview.json()["shifts"]]
    listed = api("get", f"/patrol/teams/{patrol.team.pk}/shifts?start=2026-06-01&end=2026-06-30", "xfl_member1")
    assert len(listed.json()) == 7


def test_a_second_generate_over_the_same_nights_is_refused_then_replaced(api, patrol, frozen):
    generate(api, patrol=patrol)
    refused = generate(api, patrol=patrol)
    assert refused.status_code == 422 and "replace" in refused.json()["errors"]
    assert generate(api, patrol=patrol, body=WEEK | {"replace": True}).status_code == 201


def test_it_refuses_another_branchs_secretary(api, patrol, frozen):
    other = generate(api, "secretary_spd", patrol=patrol)
    assert other.status_code == 404 and other.json()["errors"] == {"team": ["没有找到该巡逻队，或您无权查看。"]}
    assert patrol.team.name not in other.content.decode()
    member = generate(api, "xfl_member1", patrol=patrol)
    assert member.status_code == 403 and "党支部书记" in member.json()["detail"]
    anonymous = api("post", f"/patrol/teams/{patrol.team.pk}/shifts/generate", None, WEEK)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    assert not Shift.objects.exists()
    listed = api("get", f"/patrol/teams/{patrol.team.pk}/shifts?start=2026-06-01&end=2026-06-30", "secretary_spd")
    assert listed.status_code == 404 and patrol.team.name not in listed.content.decode()
    assert patrol.team.name not in api("get", "/patrol/teams", "secretary_spd").content.decode()


@pytest.mark.parametrize("body", [
    {"start": "2026-06-07", "end": "2026-06-01"},
    {"start": "2026-06-01", "end": "2027-06-01"},
    {"start": "not a date", "end": "2026-06-01"},
    {"start": "2026-02-30", "end": "2026-06-01"},
    {"start": "2026-06-01"},
    {"start": "2026-06-01", "end": "2026-06-02", "seed": -1},
    {"start": "2026-06-01", "end": "2026-06-02", "seed": 2**64},
    {"start": "2026-06-01", "end": "2026-06-02", "seed": "x"},
    {"start": "2026-05-01", "end": "2026-05-02"},
    {"start": None, "end": None},
])
def test_bad_generate_input_is_a_422(api, patrol, frozen, body):
    response = generate(api, patrol=patrol, body=body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize("raw, status, code", [
    ("[1, 2", 400, "bad_request"),  # not JSON at all
    ("", 422, "validation_failed"), ("null", 422, "validation_failed"), ("[]", 422, "validation_failed"),
    ('"x"', 422, "validation_failed"),
])
def test_a_body_that_is_not_an_object_is_a_4xx(api, patrol, raw, status, code):
    response = api("post", f"/patrol/teams/{patrol.team.pk}/shifts/generate", "secretary_xfl", raw)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Shift.objects.exists()


def test_a_team_with_too_few_members_is_a_422_naming_team_size(api, patrol, frozen):
    patrol.team.team_size = 9
    patrol.team.save()
    response = generate(api, patrol=patrol)
    assert response.status_code == 422
    assert response.json()["errors"]["team_size"] == ["在岗队员只有 5 人，少于每班 9 人：请添加队员或调小每班人数。"]
    assert not Shift.objects.exists()


def test_unknown_ids_are_404(api, patrol, frozen):
    for answer in (
        api("get", "/patrol/teams/999/shifts?start=2026-06-01&end=2026-06-02", "admin"),
        api("post", "/patrol/logs", "xfl_member1", {"shift_id": 999, "lat": 34.4, "lng": 108.7}),
        api("get", "/patrol/logs/999", "admin"),
        api("post", "/patrol/logs/999/check-ins", "admin", {"lat": 34.4, "lng": 108.7}),
    ):
        assert answer.status_code == 404 and answer.json()["code"] == "not_found", answer.content
    assert not PatrolLog.objects.exists()


def test_a_patrol_walked_and_a_finding_reported_through_the_api(api, patrol, world, frozen, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    shift = generate(api, patrol=patrol).json()[0]
    member = shift["members"][0]
    with clock.frozen_at(dt.datetime.fromisoformat(shift["starts_at"])):
        started = api("post", "/patrol/logs", member, {"shift_id": shift["id"], "lat": IN_XFL_G1[0],
                                                       "lng": IN_XFL_G1[1]})
        assert started.status_code == 201
        log = started.json()["id"]
        assert api("post", f"/patrol/logs/{log}/check-ins", shift["members"][1],
                   {"lat": 34.406, "lng": 108.706}).status_code == 200
        found = api("post", f"/patrol/logs/{log}/findings", member, {
            "description": "可疑人员", "category": "INC_THEFT", "lat": IN_XFL_G1[0], "lng": IN_XFL_G1[1],
            "photo_base64": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()})
        assert found.status_code == 201 and found.json()["has_photo"] is True
        assert Case.objects.get().number == found.json()["case"]
        finished = api("post", f"/patrol/logs/{log}/finish", shift["members"][2])
    assert finished.status_code == 200 and finished.json()["ended_at"]
    assert len(finished.json()["track"]) == 2 and len(finished.json()["findings"]) == 1
    assert api("get", f"/patrol/logs/{log}", "secretary_spd").status_code == 404
    assert api("get", f"/patrol/logs/{log}", "operator_kg").status_code == 200


def test_a_grid_worker_checks_in_through_the_api(api, world, frozen):
    response = api("post", "/patrol/logs", "gridder_xfl", {"lat": IN_XFL_G1[0], "lng": IN_XFL_G1[1]})
    assert response.status_code == 201 and response.json()["shift_id"] is None
    assert response.json()["region_code"] == "KG-DZ-XFL-G1"


@pytest.mark.parametrize("body, field", [
    ({"description": "x", "category": "INC_THEFT", "lat": 34.4, "lng": 108.7, "photo_base64": "!!notbase64"},
     "photo_base64"),
    ({"description": "x", "category": "INC_THEFT", "lat": 34.4, "lng": 108.7,
      "photo_base64": base64.b64encode(b"GIF89a").decode()}, "photo"),
    ({"description": "x", "category": "SENIOR_CARD", "lat": 34.4, "lng": 108.7}, "category"),
    ({"description": "", "category": "INC_THEFT", "lat": 34.4, "lng": 108.7}, "description"),
    ({"description": "  ", "category": "INC_THEFT", "lat": 34.4, "lng": 108.7}, "description"),  # the service's check
    ({"description": "x", "category": "INC_THEFT", "lat": 95, "lng": 108.7}, "lat"),
    ({"description": "x", "category": "INC_THEFT", "lat": "north", "lng": 108.7}, "lat"),
    ({"description": "x", "category": "INC_THEFT", "lng": 108.7}, "lat"),
])
def test_bad_findings_are_a_422_naming_the_field(api, world, frozen, body, field):
    log = api("post", "/patrol/logs", "gridder_xfl", {"lat": IN_XFL_G1[0], "lng": IN_XFL_G1[1]}).json()["id"]
    response = api("post", f"/patrol/logs/{log}/findings", "gridder_xfl", body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][field][0]  # named, with a message
    assert not Case.objects.exists()
    assert api("get", f"/patrol/logs/{log}", "gridder_xfl").json()["findings"] == []


@pytest.mark.parametrize("body, field", [({"lat": "NaN", "lng": 108.7}, "lat"), ({"lat": 34.4, "lng": "Infinity"}, "lng"),
                                         ({"lat": 1e400, "lng": 108.7}, "lat"), ({"lat": 34.4}, "lng"), ({}, "lat")])
def test_impossible_points_are_a_422(api, world, frozen, body, field):
    response = api("post", "/patrol/logs", "gridder_xfl", body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][field][0]  # named, with a message
    assert not PatrolLog.objects.exists()


def test_a_resident_cannot_start_a_patrol(api, world, frozen):
    response = api("post", "/patrol/logs", "resident_wang", {"lat": 34.405, "lng": 108.705})
    assert response.status_code == 403 and response.json()["detail"] == "只有网格员等工作人员可以巡查签到。"
    assert not PatrolLog.objects.exists()
