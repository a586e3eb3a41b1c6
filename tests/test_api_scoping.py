"""Data is scoped to the caller's units and region subtree, through the API."""

import json

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK


@pytest.fixture
def as_user(client, world):
    def call(username, method, path, body=None):
        token = token_create(username=username)
        return getattr(client, method)(
            f"/api/v1{path}", data=json.dumps(body) if body is not None else None,
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return call


def by_number(number: str) -> Case:
    return Case.objects.get(pk=Case.parse_number(number)[1])


@pytest.fixture
def spd_case(as_user):
    """A case at 玻璃厂三普东社区 (秦汉新城), submitted by that community's clerk."""
    body = {"matter_code": "SENIOR_CARD", "region_code": "QH-WC-SPD", "applicant_name": "李阿姨", **SENIOR_OK}
    response = as_user("clerk_spd", "post", "/cases", body)
    assert response.status_code == 201
    return response.json()["number"]


def test_a_community_clerk_cannot_read_another_communitys_case(as_user, spd_case):
    response = as_user("clerk_xfl", "get", f"/cases/{spd_case}")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found" and body["detail"]
    # Nothing of the case comes back: not its applicant, its community or its unit.
    text = json.dumps(body, ensure_ascii=False)  # the wire escapes Chinese: compare the decoded answer
    assert spd_case not in text and "李阿姨" not in text and "QH-WC-SPD" not in text and "三普东" not in text
    # The same number, read by its own clerk, does carry them.
    assert "李阿姨" in json.dumps(as_user("clerk_spd", "get", f"/cases/{spd_case}").json(), ensure_ascii=False)


def test_a_community_clerk_cannot_act_on_another_communitys_case(as_user, spd_case):
    before = CaseEvent.objects.count()
    response = as_user("clerk_xfl", "post", f"/cases/{spd_case}/actions/accept", {"version": 1})
    assert response.status_code == 404
    assert CaseEvent.objects.count() == before


def test_another_communitys_case_is_not_in_the_list(as_user, spd_case):
    items = as_user("clerk_xfl", "get", "/cases").json()["items"]
    assert spd_case not in {c["number"] for c in items}


def test_the_communitys_own_clerk_reads_and_acts(as_user, spd_case):
    read = as_user("clerk_spd", "get", f"/cases/{spd_case}")
    assert read.status_code == 200 and read.json()["number"] == spd_case
    acted = as_user("clerk_spd", "post", f"/cases/{spd_case}/actions/accept", {"version": 1})
    assert acted.status_code == 200, acted.content
    case = by_number(spd_case)
    assert case.state == "accepted" and case.events.latest("seq").action == "accept"


def test_a_city_leader_sees_cases_of_the_city_subtree_only(as_user, spd_case):
    xfl = as_user("clerk_xfl", "post", "/cases", {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", **SENIOR_OK})
    numbers = {c["number"] for c in as_user("leader_kg", "get", "/cases").json()["items"]}
    assert xfl.json()["number"] in numbers
    assert spd_case not in numbers


def test_a_leader_can_read_and_supervise_but_not_handle(as_user):
    xfl = as_user("clerk_xfl", "post", "/cases", {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", **SENIOR_OK})
    number = xfl.json()["number"]
    # 督办 is the one thing a leader does to a case in their region; handling is the unit's.
    assert [a["name"] for a in as_user("leader_kg", "get", f"/cases/{number}").json()["actions"]] == ["supervise"]
    response = as_user("leader_kg", "post", f"/cases/{number}/actions/accept", {"version": 1})
    assert response.status_code == 403
    response = as_user("leader_kg", "post", f"/cases/{number}/actions/supervise", {"version": 1, "comment": "请加快"})
    assert response.status_code == 200, response.content
    case = by_number(number)
    supervised = case.events.latest("seq")
    # The older single `comment` of an action that asks for a note is stored as the note (staff only).
    assert (supervised.action, supervised.payload["note"]) == ("supervise", "请加快")
    assert case.state == "submitted"  # 督办 urges the unit, it moves nothing


def test_a_resident_sees_only_their_own_cases(as_user, world, spd_case):
    own = as_user("resident_wang", "post", "/cases", {"matter_code": "SENIOR_CARD", **SENIOR_OK})
    assert own.status_code == 201, own.content
    numbers = {c["number"] for c in as_user("resident_wang", "get", "/cases").json()["items"]}
    assert numbers == {own.json()["number"]}
    assert as_user("resident_wang", "get", f"/cases/{spd_case}").status_code == 404


def test_a_resident_cannot_act_for_the_unit(as_user):
    own = as_user("resident_wang", "post", "/cases", {"matter_code": "SENIOR_CARD", **SENIOR_OK}).json()
    before = by_number(own["number"])
    events = CaseEvent.objects.count()
    response = as_user("resident_wang", "post", f"/cases/{own['number']}/actions/accept", {"version": 1})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and response.json()["detail"]
    after = by_number(own["number"])
    assert (after.state, after.version) == (before.state, before.version) == ("submitted", 1)
    assert CaseEvent.objects.count() == events


def test_indicators_are_scoped_to_the_callers_subtree(as_user, spd_case):
    as_user("clerk_xfl", "post", "/cases", {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", **SENIOR_OK})
    assert as_user("leader_kg", "get", "/indicators").json()["cases"] == 1
    assert as_user("admin", "get", "/indicators").json()["cases"] == 2
